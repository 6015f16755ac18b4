"""Sending the outbox: the worker (lanes, batches, per-recipient streams), delivery per platform,
rate limits, the reply sink and ``/metrics``. Queueing and every query live in ``core.outbox``."""

from bot.outbox.delivery import Deliverer
from bot.outbox.limits import RATE_LIMITS, RateLimiter
from bot.outbox.sink import OutboxSink, outbox_sink
from bot.outbox.worker import OutboxWorker

__all__ = ["RATE_LIMITS", "Deliverer", "OutboxWorker", "RateLimiter", "OutboxSink", "outbox_sink"]
