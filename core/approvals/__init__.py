"""Approval chains for awards, applications and redemptions (SPEC section 3)."""
