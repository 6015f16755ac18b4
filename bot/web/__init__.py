"""HTTP surfaces for people: sign-in and sessions (auth/), the HR console (admin/), shared
templates and vendored static assets. The employee mall plugs in beside admin/ the same way."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.web import admin, auth
from bot.web.base import KEY_HOLDER, KeyHolder

STATIC_DIR = Path(__file__).parent / "static"


def setup_web(app: web.Application) -> None:
    """Templates, /static, sign-in routes and the console; needs the app's settings, db, policy."""
    aiohttp_jinja2.setup(
        app, loader=jinja2.PackageLoader("bot.web", "templates"), autoescape=True)
    app[KEY_HOLDER] = KeyHolder()
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)
    auth.setup_routes(app)
    admin.setup_routes(app)
