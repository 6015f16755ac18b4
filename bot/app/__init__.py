"""The composition root: ``server`` builds the aiohttp app and its lifecycle, ``assembly`` plugs
in the dispatcher, the configured platforms, the outbox worker and the scheduler, and ``demo``
seeds an empty database for a first run; ``serving`` is ``jifen run`` (one process or several)."""

from bot.app.assembly import (
    DISPATCHER_KEY,
    EVENT_INBOX_KEY,
    INBOX_KEY,
    STREAM_KEY,
    WORKER_KEY,
)
from bot.app.server import (
    DB_KEY,
    POLICY_KEY,
    SETTINGS_KEY,
    build,
    build_served,
    create_app,
    load_effective_policy,
)
from bot.app.serving import run

__all__ = [
    "DB_KEY", "DISPATCHER_KEY", "EVENT_INBOX_KEY", "INBOX_KEY", "POLICY_KEY", "SETTINGS_KEY", "STREAM_KEY",
    "WORKER_KEY", "build", "build_served", "create_app", "load_effective_policy", "run",
]
