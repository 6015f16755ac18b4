"""The aiohttp application and what ``jifen run`` starts: migrate, assemble, serve."""

from __future__ import annotations

import gc
import logging

from aiohttp import web
from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from bot.app.assembly import STREAM_KEY, assemble
from bot.app.demo import with_playground_target
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
    try:
        await request.app[DB_KEY].ping()
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


def _home(settings: Settings):  # type: ignore[no-untyped-def]
    """``GET /``: the playground when it is on (a first run), else the HR console."""
    target = "/playground/" if settings.playground_enabled else "/admin"

    async def home(_request: web.Request) -> web.Response:
        raise web.HTTPFound(target)

    return home


def load_effective_policy(settings: Settings) -> Policy:
    """The policy file, with the time zone taken from ``JIFEN_TIMEZONE`` (and, when the
    playground is the only platform, its 演示群 as the broadcast target)."""
    policy = load_policy(settings.policy_file)
    return with_playground_target(policy.model_copy(update={"timezone": settings.timezone}),
                                  settings)


def create_app(settings: Settings, db: Database, policy: Policy) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[SETTINGS_KEY] = settings
    app[DB_KEY] = db
    app[POLICY_KEY] = policy
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", _home(settings))
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


# What a serving process imports and builds before its first request (SQLAlchemy's tables and
# mappers, aiohttp, the templates, the policy: ~160,000 objects) lives as long as it does, yet
# each full run of the cyclic garbage collector walked all of it again: measured in B2, a pause
# of ~120 ms every few thousand callbacks and ~60 µs of collecting per callback in all.
# Frozen once the app has started, those objects are never walked again (full runs: ~6–9 ms);
# a young generation of 7,000 new objects (CPython's default is 700) then makes the frequent
# collections ten times rarer, each a little longer: ~5 µs per callback in all. A cycle formed
# only among frozen objects would never be freed — start-up objects stay for good anyway.
GC_THRESHOLDS = (7_000, 10, 10)


async def settle_heap(_app: web.Application) -> None:
    """Freeze what start-up built and set the collector's thresholds for serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def build_served(settings: Settings, *, background: bool = True) -> web.Application:
    """``build`` as ``jifen run`` serves it: the heap settled once the app has started
    (benchmarks serve this too, so their figures are the served process's)."""
    app = await build(settings, background=background)
    app.on_startup.append(settle_heap)
    return app


QUIET_LOGGERS = ("alembic", "apscheduler")  # their INFO lines say nothing an operator needs
POLL_PATHS = ("/playground/api/inbox",)  # the playground asks every 2 seconds


class QuietAccessLog(AccessLogger):
    """The access log without the playground's successful polling (one line per 2 seconds)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if request.path in POLL_PATHS and response.status < 400:
            return
        super().log(request, response, time)


def setup_logging(worker: int | None = None) -> None:
    """INFO for jifen and aiohttp; migrations, the scheduler and polling only when they fail.
    A worker's lines say which worker wrote them."""
    who = f"[worker {worker}] " if worker is not None else ""
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s %(levelname)s {who}%(name)s %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def local_base(settings: Settings) -> str:
    """Where this process can be opened: JIFEN_PUBLIC_URL, else the listening address (a
    wildcard address shown as 127.0.0.1, which is the same machine)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if settings.http_host in ("", "0.0.0.0", "::") else settings.http_host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.http_port}"


def ready_line(settings: Settings) -> str:
    """The one line ``jifen run`` prints once it listens: where to click."""
    base = local_base(settings)
    console = f"console {base}/admin (sign-in link: jifen login-link <employee_id> --admin)"
    if settings.playground_enabled:
        return f"jifen is ready — playground {base}/playground/ · {console}"
    return f"jifen is ready — {console}"
