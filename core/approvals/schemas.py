"""Read types returned by the approval service."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    request_id: int
    public_id: str
    kind: str
    subject_id: str
    requester_id: str
    amount: int
    status: str  # pending (moved to the next step) | approved | rejected
    final: bool
    decided_by_name: str
    comment: str | None
    summary: str = ""  # who gets what for what ("@刘洋 帮忙排查线上故障"), for the decision card


@dataclass(frozen=True)
class ReminderResult:
    reminded: int
    escalated: int
