"""HTTP surfaces for people: the admin API (``api/``); the console and the mall live beside it."""
