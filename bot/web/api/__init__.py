"""The admin REST API ``/api/v1`` (SPEC section 11): one call adds it to the app."""

from __future__ import annotations

from aiohttp import web

from bot.web.api.app import PREFIX, build_api
from bot.web.api.auth import SESSION_LOOKUP, SessionLookup, SessionUser
from bot.web.api.routes import TABLE
from config.settings import Settings
from core.db import Database
from core.policy import Policy

__all__ = ["API_KEY", "SESSION_LOOKUP", "SessionLookup", "SessionUser", "setup_api"]
API_KEY = web.AppKey("admin_api", web.Application)


def setup_api(app: web.Application, *, settings: Settings, db: Database, policy: Policy) -> None:
    """Mount ``/api/v1``. The console's session support registers its lookup afterwards with
    ``app[API_KEY][SESSION_LOOKUP] = lookup`` (before the app starts)."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    api = build_api(TABLE, db=db, policy=policy, token=token)
    app[API_KEY] = api
    app.add_subapp(PREFIX, api)
