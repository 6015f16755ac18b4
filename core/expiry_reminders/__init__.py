"""Expiry reminders at the policy thresholds (30 / 7 / 1 days by default)."""
