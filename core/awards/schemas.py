"""Read types returned by the award service (plain data, safe to store as idempotent results)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

AwardStatus = Literal["approved", "pending"]


@dataclass(frozen=True)
class AllowanceStatus:
    month: str  # local YYYY-MM
    limit: int
    used: int
    left: int
    reports: int = 0  # active direct reports counted by allowance.per_report
    per_report: int = 0  # allowance added per report (limit includes reports × per_report)


@dataclass(frozen=True)
class AwardView:
    award_id: int
    recipient_id: str
    recipient_name: str
    amount: int
    status: AwardStatus
    approval_id: int | None
    joined_from: int | None = None  # the award this +1 joined

    @property
    def approval_public_id(self) -> str | None:
        return None if self.approval_id is None else f"A{self.approval_id}"

    @property
    def public_id(self) -> str:
        return award_public_id(self.award_id)


def award_public_id(award_id: int) -> str:
    """How people see and type an award: ``Z12`` (赞)."""
    return f"Z{award_id}"


@dataclass(frozen=True)
class ReversalResult:
    """An undo (撤回) or revoke (撤销): ``reversed`` of ``amount`` points taken back."""

    award_id: int
    recipient_id: str
    recipient_name: str
    giver_id: str
    giver_name: str
    amount: int
    reversed: int
    status: str  # undone | revoked
    allowance_returned: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AwardResult:
    batch: str
    awards: list[AwardView]
    allowance_left: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AwardResult:
        return cls(batch=data["batch"], awards=[AwardView(**a) for a in data["awards"]],
                   allowance_left=int(data["allowance_left"]))
