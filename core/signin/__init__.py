"""Sign-in from chat: one-time links and database sessions (SPEC section 10)."""
