"""Paged reads for the HR surfaces (admin API, console): directory, history, orders, approvals."""
