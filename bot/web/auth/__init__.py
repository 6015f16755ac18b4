"""Sign-in from one-time links, database sessions, CSRF (SPEC section 10)."""

from bot.web.auth.routes import setup_routes

__all__ = ["setup_routes"]
