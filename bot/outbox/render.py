"""Outbox pushes from the core (kind + JSON payload) rendered as neutral cards at send time,
in the recipient's locale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cards import builders, recognition
from cards.model import Card
from cards.texts import Locale, locale_of, t
from core.awards.schemas import award_public_id

Render = Callable[[dict[str, Any], Locale, str], Card]


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(str(value))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _order(p: dict[str, Any], loc: Locale, for_hr: bool = False) -> Card:
    codes = p.get("codes") or []
    return builders.order_status(p["order_no"], p["name"], int(p["qty"]), int(p["points"]),
                                 p["status"], ", ".join(codes) or None, p.get("note") or p.get("comment"),
                                 loc, for_hr=for_hr, ordered_by=p.get("ordered_by"))


def _approval(p: dict[str, Any], loc: Locale, note_key: str | None = None) -> Card:
    step = p.get("step")  # pins the buttons to the step this card asks about
    card = builders.approval_request(p["approval_id"], p["kind"], p.get("requester_name", ""),
                                     int(p.get("amount", 0)), p.get("summary", ""), loc,
                                     step=int(step) if step is not None else None,
                                     requester_department=p.get("requester_department"))
    if note_key is None:
        return card
    return replace(card, lines=[t(loc, note_key, **p), *card.lines])


def _points(key: str) -> Render:
    def render(p: dict[str, Any], loc: Locale, tz: str) -> Card:
        lines = [str(p.get("reason", ""))]
        if key == "push_points_deducted" and p.get("transaction_id"):
            lines.append(t(loc, "appeal_hint", id=f"T{p['transaction_id']}"))
        return builders.message(t(loc, key, n=p["amount"]), lines, loc)

    return render


def _decided(p: dict[str, Any], loc: Locale) -> Card:
    status = p["status"] if p["status"] in ("approved", "rejected", "cancelled") else "approved"
    card = builders.approval_decided(p["approval_id"], status, p.get("decided_by_name", ""),
                                     p.get("comment"), loc, summary=p.get("summary", ""),
                                     amount=int(p.get("amount") or 0))
    if status == "rejected" and p.get("kind") in ("award", "application"):
        return replace(card, lines=[*card.lines, t(loc, "appeal_hint", id=p["approval_id"])])
    return card


def _award_received(p: dict[str, Any], loc: Locale) -> Card:
    joined = None
    if p.get("joined_from"):
        joined = (str(p.get("original_giver_name", "")), award_public_id(int(p["joined_from"])))
    return builders.award_received(p.get("giver_name", ""), int(p["amount"]), p.get("reason", ""),
                                   loc, joined=joined, giver_department=p.get("giver_department"))


def _digest(p: dict[str, Any], loc: Locale) -> Card:
    view = recognition.DigestView(
        first_day=str(p["first_day"]), last_day=str(p["last_day"]),
        receivers=[(int(r["rank"]), r["name"], r["department"], int(r["points"]))
                   for r in p.get("receivers", [])],
        givers=[(int(r["rank"]), r["name"], r.get("department", ""), int(r["points"]))
                for r in p.get("givers", [])],
        values=[(r["value"], int(r["awards"])) for r in p.get("values", [])],
        joined=[(award_public_id(int(r["award_id"])), r["giver_name"], r["recipient_name"],
                 r["reason"], int(r["joins"])) for r in p.get("joined", [])])
    return recognition.weekly_digest(view, loc)


RENDERERS: dict[str, Render] = {
    "award_received": lambda p, loc, tz: _award_received(p, loc),
    "award_undone": lambda p, loc, tz: recognition.award_undone(
        p.get("giver_name", ""), int(p["reversed"]), p.get("reason", ""), loc),
    "award_revoked": lambda p, loc, tz: recognition.award_revoked(
        award_public_id(int(p["award_id"])), int(p["amount"]), int(p["reversed"]),
        p.get("revoke_reason", ""), p.get("recipient_name", ""), loc,
        for_giver=bool(p.get("for_giver"))),
    "weekly_digest": lambda p, loc, tz: _digest(p, loc),
    "approval_request": lambda p, loc, tz: _approval(p, loc),
    "approval_reminder": lambda p, loc, tz: _approval(p, loc, "push_approval_reminder"),
    "approval_escalated": lambda p, loc, tz: _approval(p, loc, "push_approval_escalated"),
    "approval_reassigned": lambda p, loc, tz: _approval(p, loc, "push_approval_reassigned"),
    "approval_decided": lambda p, loc, tz: _decided(p, loc),
    "order_placed": lambda p, loc, tz: _order(p, loc),
    "order_fulfilled": lambda p, loc, tz: _order(p, loc),
    "order_cancelled": lambda p, loc, tz: _order(p, loc),
    "order_rejected": lambda p, loc, tz: _order(p, loc),
    "new_physical_order": lambda p, loc, tz: _order(p, loc, for_hr=True),
    "expiry_reminder": lambda p, loc, tz: builders.expiry_reminder(
        int(p["amount"]), _when(p["expires_at"]), int(p.get("days_left", p["days"])), loc, tz=tz),  # type: ignore[arg-type]
    "points_granted": _points("push_points_granted"),
    "points_deducted": _points("push_points_deducted"),
    "promotion": lambda p, loc, tz: builders.promotion(p["text"], p.get("sku"), p.get("link"), loc),
}


def render_push(kind: str, payload: dict[str, Any], locale: str, tz: str) -> Card:
    """The card for an outbox row; unknown kinds become a plain message rather than being lost."""
    loc = locale_of(locale)
    fn = RENDERERS.get(kind)
    if fn is None:
        return builders.message(kind, [str(payload)], loc)
    return fn(payload, loc, tz)
