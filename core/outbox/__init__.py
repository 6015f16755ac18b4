"""The outbox: outgoing messages as rows written in the transaction of the change they report.

Queueing (:mod:`.queue`), the typed recipient and lanes (:mod:`.recipient`), delivered-card
references (:mod:`.card_refs`) and the claim/settle/count queries (:mod:`.queries`) live here;
rendering and sending live in the bot.
"""

from core.outbox.queries import (
    Contact,
    Delivery,
    LaneBacklog,
    Outcome,
    backlog,
    claim,
    claim_batch,
    contacts,
    counts,
    list_messages,
    recent_sends,
    requeue_failed,
    settle,
)
from core.outbox.queue import broadcast, push, queue
from core.outbox.recipient import Lane, Recipient

__all__ = [
    "Contact", "Delivery", "Lane", "LaneBacklog", "Outcome", "Recipient", "backlog", "broadcast",
    "claim", "claim_batch", "contacts", "counts", "list_messages", "push", "queue", "recent_sends", "requeue_failed", "settle",
]
