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


@dataclass(frozen=True)
class AwardView:
    award_id: int
    recipient_id: str
    recipient_name: str
    amount: int
    status: AwardStatus
    approval_id: int | None

    @property
    def approval_public_id(self) -> str | None:
        return None if self.approval_id is None else f"A{self.approval_id}"


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
