"""The audit log (SPEC section 10): who changed what, when, with the state before and after."""
