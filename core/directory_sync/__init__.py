"""Keeping the directory in step with the platforms' address books (SPEC section 12): diff, matching,
the mass-deactivation guard and leavers. It sits above directory and approvals (a leaver's
waiting approvals move to someone else), so neither imports it."""
