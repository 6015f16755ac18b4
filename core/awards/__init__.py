"""Peer awards (点赞) paid from the giver's monthly allowance (SPEC section 3)."""
