"""广播: HR sends a message to the broadcast targets of the policy file, now or at a set time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import errors, outbox
from core.access import authorize_hr
from core.audit.service import record as audit
from core.policy import Policy

MAX_TEXT = 2000  # WeCom text messages carry at most 2048 bytes; longer is refused, not cut


@dataclass(frozen=True)
class BroadcastResult:
    targets: list[str]
    at: datetime
    duplicate: bool


def pick_targets(policy: Policy, target: str | None) -> list[str]:
    """Every configured target, or just ``target``; refused for an unknown one or none."""
    names = [tg.name for tg in policy.broadcast.targets]
    if not names:
        raise errors.NoBroadcastTargets()
    if target is None:
        return names
    if target not in names:
        raise errors.UnknownBroadcastTarget(target=target, targets=names)
    return [target]


async def broadcast(
    session: AsyncSession, *, actor_id: str, text: str, target: str | None, key: str,
    now: datetime, policy: Policy, at: datetime | None = None,
) -> BroadcastResult:
    """Queue ``text`` for each chosen target (sent at ``at`` when that is later than ``now``).

    Forbidden unless an operator or an active HR / admin. A repeated ``key`` queues nothing again
    (``duplicate=True``). Each broadcast is written to the audit log.
    """
    by = await authorize_hr(session, actor_id, "broadcast")
    body = text.strip()
    if not body:
        raise errors.InvalidInput(field="text", message="the text is empty")
    if len(body) > MAX_TEXT:
        raise errors.TextTooLong(max=MAX_TEXT, length=len(body))
    names = pick_targets(policy, target)
    send_at = at if at is not None and at > now else now
    fresh = 0
    for name in names:
        msg = await outbox.broadcast(session, target=name, kind="promotion", now=now,
                                     payload={"text": body, "by": by}, dedupe_key=f"{key}:{name}")
        if msg is not None:
            msg.next_attempt_at = send_at  # the outbox sends nothing before its next attempt
            fresh += 1
    await session.flush()
    if fresh:
        await audit(session, actor=actor_id, action="broadcast", subject="broadcast", now=now,
                    after={"text": body, "targets": names, "at": send_at.isoformat(), "key": key})
    return BroadcastResult(names, send_at, duplicate=fresh == 0)
