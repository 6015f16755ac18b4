"""The aiohttp application and what ``jifen run`` starts: migrate, assemble, serve."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import text

from bot.app.assembly import STREAM_KEY, assemble
from bot.appkeys import DB_KEY, POLICY_KEY, SETTINGS_KEY
from bot.outbox.metrics import handler as metrics_handler
from bot.web.api import setup_api
from config.policy_loader import load_policy
from config.settings import Settings
from core.db import Database
from core.policy import Policy
from migrations.migrate import upgrade

log = logging.getLogger("jifen")

MAX_BODY = 1024 * 1024  # SPEC section 6: request bodies above 1 MiB are refused


async def healthz(request: web.Request) -> web.Response:
    db = request.app[DB_KEY]
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        db_state = "ok"
    except Exception as exc:  # noqa: BLE001 - health must report, not raise
        db_state = f"error: {type(exc).__name__}"
    settings = request.app[SETTINGS_KEY]
    body = {
        "status": "ok" if db_state == "ok" else "degraded",
        "database": db_state,
        "platforms": {
            "wecom": "configured" if settings.wecom_enabled else "off",
            "dingtalk": _dingtalk_state(request.app, settings),
            "playground": "on" if settings.playground_enabled else "off",
        },
    }
    return web.json_response(body, status=200 if db_state == "ok" else 503)


def _dingtalk_state(app: web.Application, settings: Settings) -> str:
    if not settings.dingtalk_enabled:
        return "off"
    if settings.dingtalk_mode == "http" or STREAM_KEY not in app:
        return "configured (http)"
    return "connected" if app[STREAM_KEY].connected else "connecting"


def load_effective_policy(settings: Settings) -> Policy:
    """The policy file, with the time zone taken from ``JIFEN_TIMEZONE``."""
    policy = load_policy(settings.policy_file)
    return policy.model_copy(update={"timezone": settings.timezone})


def create_app(settings: Settings, db: Database, policy: Policy) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[SETTINGS_KEY] = settings
    app[DB_KEY] = db
    app[POLICY_KEY] = policy
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_handler(db))
    setup_api(app, settings=settings, db=db, policy=policy)
    return app


async def build(settings: Settings, *, background: bool = True) -> web.Application:
    """Migrate, then assemble the app: routes per configured platform, outbox worker, scheduler.

    ``background=False`` (tests) leaves the worker and scheduler off so a test drives them.
    """
    policy = load_effective_policy(settings)
    await upgrade(settings.database_url)
    db = Database(settings.database_url)
    app = create_app(settings, db, policy)
    await assemble(app, settings, db, policy, background=background)

    async def _close(_app: web.Application) -> None:
        await db.dispose()

    app.on_cleanup.append(_close)
    return app


def run(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log.info("jifen starting on http://%s:%s", settings.http_host, settings.http_port)
    web.run_app(build(settings), host=settings.http_host, port=settings.http_port, print=None)
