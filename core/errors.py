"""Refusals raised by core services: one class per reason, with typed fields.

``code`` is stable and names the sentence (Chinese and English) the bot's string table shows
for it; ``params`` are the fields that fill that sentence. No code reaches a user as is.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from core.problems import CellProblem, problem


@dataclass(frozen=True)
class Candidate:
    """One of several active employees a name could mean."""

    employee_id: str
    name: str
    department: str


@dataclass(eq=False, kw_only=True)
class CoreError(Exception):
    """A refused action; nothing was changed."""

    code: ClassVar[str] = "error"

    def __post_init__(self) -> None:
        Exception.__init__(self, str(self))

    @property
    def params(self) -> dict[str, Any]:
        """The fields that fill the sentence; optional ones left out are not listed."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.default is MISSING or getattr(self, f.name) is not None}

    def __str__(self) -> str:
        return f"{self.code}: {self.params}" if self.params else self.code


@dataclass(eq=False, kw_only=True)
class InvalidAmount(CoreError):
    code: ClassVar[str] = "invalid_amount"
    amount: int
    min: int | None = None
    max: int | None = None


@dataclass(eq=False, kw_only=True)
class InvalidQuantity(CoreError):
    """A redemption quantity outside 1..max (兑换 CUP01 0 / 兑换 CUP01 100)."""

    code: ClassVar[str] = "invalid_quantity"
    qty: int
    max: int


@dataclass(eq=False, kw_only=True)
class InsufficientPoints(CoreError):
    code: ClassVar[str] = "insufficient_points"
    balance: int
    need: int


@dataclass(eq=False, kw_only=True)
class InsufficientAllowance(CoreError):
    code: ClassVar[str] = "insufficient_allowance"
    left: int
    need: int


@dataclass(eq=False, kw_only=True)
class UnknownEmployee(CoreError):
    code: ClassVar[str] = "unknown_employee"
    who: str


@dataclass(eq=False, kw_only=True)
class AmbiguousName(CoreError):
    code: ClassVar[str] = "ambiguous_name"
    who: str
    candidates: list[Candidate]


@dataclass(eq=False, kw_only=True)
class InactiveEmployee(CoreError):
    code: ClassVar[str] = "inactive_employee"
    who: str


@dataclass(eq=False, kw_only=True)
class SelfAward(CoreError):
    code: ClassVar[str] = "self_award"


@dataclass(eq=False, kw_only=True)
class NoRecipients(CoreError):
    code: ClassVar[str] = "no_recipients"


@dataclass(eq=False, kw_only=True)
class DuplicateRecipients(CoreError):
    code: ClassVar[str] = "duplicate_recipients"


@dataclass(eq=False, kw_only=True)
class ReasonTooShort(CoreError):
    code: ClassVar[str] = "reason_too_short"
    min: int


@dataclass(eq=False, kw_only=True)
class ReasonTooLong(CoreError):
    code: ClassVar[str] = "reason_too_long"
    max: int
    length: int


# reasons are stored in 500-character columns; 200 is plenty for a thank-you and keeps cards short
MAX_REASON_LENGTH = 200


@dataclass(eq=False, kw_only=True)
class PairLimit(CoreError):
    code: ClassVar[str] = "pair_limit"
    who: str
    limit: int


@dataclass(eq=False, kw_only=True)
class ValueRequired(CoreError):
    code: ClassVar[str] = "value_required"
    values: str


@dataclass(eq=False, kw_only=True)
class UnknownValue(CoreError):
    code: ClassVar[str] = "unknown_value"
    value: str
    values: str


@dataclass(eq=False, kw_only=True)
class NotApprover(CoreError):
    code: ClassVar[str] = "not_approver"
    id: str


@dataclass(eq=False, kw_only=True)
class AlreadyDecided(CoreError):
    code: ClassVar[str] = "already_decided"
    by: str
    status: str


@dataclass(eq=False, kw_only=True)
class UnknownApproval(CoreError):
    code: ClassVar[str] = "unknown_approval"
    id: str


@dataclass(eq=False, kw_only=True)
class NoApprover(CoreError):
    code: ClassVar[str] = "no_approver"
    role: str


@dataclass(eq=False, kw_only=True)
class UnknownItem(CoreError):
    code: ClassVar[str] = "unknown_item"
    sku: str


@dataclass(eq=False, kw_only=True)
class NotAvailable(CoreError):
    code: ClassVar[str] = "not_available"
    sku: str
    name: str
    available_from: datetime | None
    available_until: datetime | None


@dataclass(eq=False, kw_only=True)
class OutOfStock(CoreError):
    code: ClassVar[str] = "out_of_stock"
    sku: str
    name: str
    available: int | None
    need: int


@dataclass(eq=False, kw_only=True)
class LimitReached(CoreError):
    code: ClassVar[str] = "limit_reached"
    sku: str
    name: str
    limit: int | None
    used: int


@dataclass(eq=False, kw_only=True)
class CodesExhausted(CoreError):
    code: ClassVar[str] = "codes_exhausted"
    sku: str
    available: int
    need: int | None = None


@dataclass(eq=False, kw_only=True)
class UnknownConfirmation(CoreError):
    code: ClassVar[str] = "unknown_confirmation"
    confirmation: str  # the confirmation code


@dataclass(eq=False, kw_only=True)
class ConfirmationExpired(CoreError):
    code: ClassVar[str] = "confirmation_expired"
    confirmation: str
    expires_at: datetime


@dataclass(eq=False, kw_only=True)
class UnknownOrder(CoreError):
    code: ClassVar[str] = "unknown_order"
    order_no: str


@dataclass(eq=False, kw_only=True)
class BadOrderState(CoreError):
    code: ClassVar[str] = "bad_order_state"
    order_no: str
    status: str
    action: str = ""  # "cancel" / "fulfil": what was refused, for the sentence


@dataclass(eq=False, kw_only=True)
class Forbidden(CoreError):
    code: ClassVar[str] = "forbidden"
    action: str
    actor: str | None = None
    order_no: str | None = None


@dataclass(eq=False, kw_only=True)
class InvalidInput(CoreError):
    """Input refused as a whole: ``message`` in English; an imported file's refusal carries its
    ``line`` and typed ``problem`` (or, naming several rows, ``problems``), which the string
    table renders in the reader's language."""

    code: ClassVar[str] = "invalid_input"
    message: str
    field: str | None = None
    line: int | None = None
    problem: CellProblem | None = None
    problems: tuple[InvalidInput, ...] = ()

    @property
    def params(self) -> dict[str, Any]:  # the sentence's fields; the typed detail is apart
        return {k: v for k, v in super().params.items() if k not in ("problem", "problems")}


def bad_cell(line: int, column: str | None, kind: str, **params: Any) -> InvalidInput:
    """The refusal of an imported file's cell (or header, or row) on ``line``."""
    found = problem(column, kind, **params)
    return InvalidInput(line=line, field=column, message=found.english, problem=found)


@dataclass(eq=False, kw_only=True)
class InvalidMonth(CoreError):
    """A month that is not ``YYYY-MM`` (报表 2026-13)."""

    code: ClassVar[str] = "invalid_month"
    text: str


@dataclass(eq=False, kw_only=True)
class ReasonRequired(CoreError):
    """An HR action (扣除, 发放, 撤销) without a reason."""

    code: ClassVar[str] = "reason_required"


@dataclass(eq=False, kw_only=True)
class TextTooLong(CoreError):
    """A broadcast text over its limit (the platforms carry about 2,000 characters)."""

    code: ClassVar[str] = "text_too_long"
    max: int
    length: int


@dataclass(eq=False, kw_only=True)
class ExpiryInPast(CoreError):
    """A grant whose lot would expire before it is granted."""

    code: ClassVar[str] = "expiry_in_past"


@dataclass(eq=False, kw_only=True)
class NotACodeItem(CoreError):
    """Codes added to an item that hands out no codes."""

    code: ClassVar[str] = "not_a_code_item"
    sku: str


@dataclass(eq=False, kw_only=True)
class InvalidCodes(CoreError):
    """No code given, or one longer than ``max`` characters."""

    code: ClassVar[str] = "invalid_codes"
    max: int


@dataclass(eq=False, kw_only=True)
class UnknownBroadcastTarget(CoreError):
    code: ClassVar[str] = "broadcast_unknown"
    target: str
    targets: list[str]


@dataclass(eq=False, kw_only=True)
class NoBroadcastTargets(CoreError):
    """policy.yaml names no broadcast.targets."""

    code: ClassVar[str] = "broadcast_none"


@dataclass(eq=False, kw_only=True)
class LinkInvalid(CoreError):
    """A sign-in link that was never issued (or was tampered with)."""

    code: ClassVar[str] = "link_invalid"


@dataclass(eq=False, kw_only=True)
class LinkUsed(CoreError):
    code: ClassVar[str] = "link_used"
    used_at: datetime | None = None


@dataclass(eq=False, kw_only=True)
class LinkExpired(CoreError):
    code: ClassVar[str] = "link_expired"
    expires_at: datetime | None = None


@dataclass(eq=False, kw_only=True)
class UnknownAward(CoreError):
    code: ClassVar[str] = "unknown_award"
    id: str


@dataclass(eq=False, kw_only=True)
class BadAwardState(CoreError):
    """The award was rejected, taken back or revoked (or is not what the action needs)."""

    code: ClassVar[str] = "bad_award_state"
    id: str
    status: str


@dataclass(eq=False, kw_only=True)
class AlreadyJoined(CoreError):
    code: ClassVar[str] = "already_joined"
    id: str


@dataclass(eq=False, kw_only=True)
class NotYourAward(CoreError):
    code: ClassVar[str] = "not_your_award"
    id: str


@dataclass(eq=False, kw_only=True)
class UndoExpired(CoreError):
    code: ClassVar[str] = "undo_expired"
    minutes: int


@dataclass(eq=False, kw_only=True)
class PointsSpent(CoreError):
    code: ClassVar[str] = "points_spent"
    id: str
    left: int
    need: int


@dataclass(eq=False, kw_only=True)
class NothingToReverse(CoreError):
    code: ClassVar[str] = "nothing_to_reverse"
    id: str
    balance: int


@dataclass(eq=False, kw_only=True)
class UnknownAppealSubject(CoreError):
    code: ClassVar[str] = "unknown_appeal_subject"
    id: str


@dataclass(eq=False, kw_only=True)
class NotAppealable(CoreError):
    code: ClassVar[str] = "not_appealable"
    id: str
    status: str


@dataclass(eq=False, kw_only=True)
class AlreadyAppealed(CoreError):
    code: ClassVar[str] = "already_appealed"
    id: str
