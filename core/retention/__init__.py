"""Retention: pruning what the bot no longer needs, in short batches (see ``prune``)."""

from core.retention.prune import RetentionResult, prune
from core.retention.replay import ReplayedRequest, ReplayGuard, admit

__all__ = ["ReplayGuard", "ReplayedRequest", "RetentionResult", "admit", "prune"]
