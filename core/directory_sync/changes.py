"""Plain data of a directory sync (SPEC section 12): what a platform says, what would change.

The platform clients (bot/platforms/*/contacts.py) turn their API answers into ``Member`` rows;
the core never sees a platform's wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import record as audit
from core.directory.service import mask_email, mask_mobile

PLATFORMS = ("wecom", "dingtalk")


@dataclass(frozen=True)
class Member:
    """One person as the platform's address book shows them."""

    user_id: str
    name: str
    department: str = ""  # path, e.g. "研发中心/后端组" (the company root left out)
    manager_user_id: str | None = None  # the platform's user id of their manager
    hire_date: date | None = None
    mobile: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Roster:
    """Every member the platform returned in one complete read."""

    platform: str
    members: tuple[Member, ...]


@dataclass(frozen=True)
class Change:
    """One change to one employee; ``fields`` holds (name, before, after) for updates."""

    action: str  # create | update | reactivate | deactivate
    employee_id: str
    name: str
    fields: tuple[tuple[str, object, object], ...] = ()

    def describe(self) -> str:
        """One line naming the person and what changes (mobile and e-mail masked)."""
        head = f"{self.action:<10} {self.name} ({self.employee_id})"
        parts = [f"{k}: {_show(k, old)} → {_show(k, new)}" for k, old, new in self.fields]
        return head + (": " + "; ".join(parts) if parts else "")


@dataclass
class SyncReport:
    platform: str
    changes: list[Change] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False
    refused: str | None = None  # why nothing changed (guard, empty answer)
    active_before: int = 0

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)


def _show(name: str, value: object) -> str:
    if value is None or value == "":
        return "-"
    if name == "mobile":
        return mask_mobile(str(value))
    if name == "email":
        return mask_email(str(value))
    return str(value)


async def record_change(session: AsyncSession, change: Change, *, actor: str,
                        now: datetime) -> None:
    """Every applied directory change is written to the audit log, inside its transaction
    (mobile numbers and e-mails masked as everywhere)."""
    before = {k: _show(k, old) for k, old, _new in change.fields}
    after = {k: _show(k, new) for k, _old, new in change.fields}
    await audit(session, actor=actor, action=f"directory.{change.action}",
                subject=f"employee:{change.employee_id}", now=now,
                before=before or None, after=after or {"name": change.name})
