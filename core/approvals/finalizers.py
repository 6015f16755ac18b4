"""What happens when an approval chain ends, by request kind.

The awards, applications and orders services open approval requests, so the approvals service
must not import them back: each registers its finalizer here when it is imported, and
``decide`` looks the kind up. A kind nobody registered is a programming error, never a user's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.policy import Policy


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a request ended, handed to its kind's finalizer in the deciding transaction."""

    subject_id: str
    approved: bool
    actor_id: str
    comment: str | None
    now: datetime
    policy: Policy


Finalize = Callable[[AsyncSession, Outcome], Awaitable[None]]
# Whose account the finalizer credits or refunds, when that is not the requester (an award pays
# its recipient); approvals lock that account before the request row (one lock order everywhere).
Owner = Callable[[AsyncSession, str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Finalizer:
    finalize: Finalize
    owner: Owner | None = None


_REGISTRY: dict[str, Finalizer] = {}


def register(kind: str, finalize: Finalize, *, owner: Owner | None = None) -> None:
    _REGISTRY[kind] = Finalizer(finalize, owner)


def finalizer(kind: str) -> Finalizer:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise LookupError(f"no finalizer registered for approval kind {kind!r}") from None
