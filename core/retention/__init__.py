"""Retention: pruning what the bot no longer needs, in short batches (see ``prune``)."""

from core.retention.prune import RetentionResult, prune
from core.retention.replay import first_use

__all__ = ["RetentionResult", "first_use", "prune"]
