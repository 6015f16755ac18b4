"""The transactional inbox between the platforms' callbacks and the dispatcher."""

from bot.inbox.processor import InboxProcessor, InboxTimings

__all__ = ["InboxProcessor", "InboxTimings"]
