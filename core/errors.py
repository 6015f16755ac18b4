"""Typed error codes raised by core services; the bot maps each code to user text in one place."""

from __future__ import annotations

from typing import Any


class CoreError(Exception):
    """A refused action. ``code`` is stable (used for messages); ``params`` fill the message."""

    code = "error"

    def __init__(self, **params: Any) -> None:
        self.params = params
        super().__init__(f"{self.code}: {params}" if params else self.code)


def _err(code: str) -> type[CoreError]:
    return type("".join(p.title() for p in code.split("_")), (CoreError,), {"code": code})


InvalidAmount = _err("invalid_amount")
InsufficientPoints = _err("insufficient_points")
InsufficientAllowance = _err("insufficient_allowance")
UnknownEmployee = _err("unknown_employee")
AmbiguousName = _err("ambiguous_name")
InactiveEmployee = _err("inactive_employee")
SelfAward = _err("self_award")
ReasonTooShort = _err("reason_too_short")
PairLimit = _err("pair_limit")
ValueRequired = _err("value_required")
UnknownValue = _err("unknown_value")
NotApprover = _err("not_approver")
AlreadyDecided = _err("already_decided")
UnknownApproval = _err("unknown_approval")
NoApprover = _err("no_approver")
UnknownItem = _err("unknown_item")
NotAvailable = _err("not_available")
OutOfStock = _err("out_of_stock")
LimitReached = _err("limit_reached")
CodesExhausted = _err("codes_exhausted")
UnknownConfirmation = _err("unknown_confirmation")
ConfirmationExpired = _err("confirmation_expired")
UnknownOrder = _err("unknown_order")
BadOrderState = _err("bad_order_state")
Forbidden = _err("forbidden")
InvalidInput = _err("invalid_input")
UnknownAward = _err("unknown_award")
BadAwardState = _err("bad_award_state")
AlreadyJoined = _err("already_joined")
NotYourAward = _err("not_your_award")
UndoExpired = _err("undo_expired")
PointsSpent = _err("points_spent")
NothingToReverse = _err("nothing_to_reverse")
UnknownAppealSubject = _err("unknown_appeal_subject")
NotAppealable = _err("not_appealable")
AlreadyAppealed = _err("already_appealed")
LinkInvalid = _err("link_invalid")
LinkUsed = _err("link_used")
LinkExpired = _err("link_expired")
