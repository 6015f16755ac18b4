"""Redemptions: confirmation, orders, escrow, fulfilment, cancellation and approval outcomes."""
