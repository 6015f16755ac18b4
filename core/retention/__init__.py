"""Retention: pruning what the bot no longer needs, in short batches (see ``prune``)."""

from core.retention.prune import RetentionResult, prune
from core.retention.replay import ReplayedRequest, ReplayGuard, first_use

__all__ = ["ReplayGuard", "ReplayedRequest", "RetentionResult", "first_use", "prune"]
