"""HR broadcasts (广播) to the targets named in the policy file, authorised here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import notify
from core.access import authorize_hr


async def broadcast(
    session: AsyncSession, *, actor_id: str, targets: list[str], text: str, now: datetime,
    dedupe_key: str,
) -> int:
    """Queue ``text`` (a promotion) for each target; Forbidden (nothing queued) unless the actor
    is HR / admin. A repeat with the same ``dedupe_key`` queues nothing again."""
    name = await authorize_hr(session, actor_id, "broadcast")
    for target in targets:
        await notify.broadcast(session, target=target, kind="promotion", now=now,
                               payload={"text": text, "by": name},
                               dedupe_key=f"{dedupe_key}:{target}")
    return len(targets)
