"""Pure card builders, one per card in SPEC section 4.

Each takes plain values (ints, strs, datetimes; kinds and statuses as strings, see
``cards.views``) and returns a neutral :class:`~cards.model.Card`. No I/O, no clock: the caller
passes every instant. Every button gets its text-command fallback here, from ``cards.texts``.
"""

from __future__ import annotations

from datetime import datetime

from cards.actions import (
    Action,
    ApproveAction,
    CancelRedeem,
    ConfirmRedeem,
    FulfilOrder,
    OpenCatalog,
    RejectAction,
)
from cards.model import Button, ButtonStyle, Card
from cards.texts import Locale, t
from cards.views import (
    APPROVAL_KINDS,
    DECIDED_STATUSES,
    DEFAULT_TZ,
    ORDER_STATUSES,
    LocalTime,
    check,
)


def _pts(locale: Locale, n: int) -> str:
    return t(locale, "n_points", n=f"{n:,}")


def _button(
    locale: Locale, label: str, action: Action, command: str, style: ButtonStyle = "default"
) -> Button:
    return Button(text=t(locale, label), action=action.pack(), fallback=command, style=style)


def _catalog_button(locale: Locale, label: str, category: str | None = None) -> Button:
    command = (
        t(locale, "cmd.catalog")
        if category is None
        else t(locale, "cmd.catalog_category", category=category)
    )
    return _button(locale, label, OpenCatalog(category), command, "primary")


def balance(
    balance: int,
    allowance_left: int,
    next_expiry_amount: int,
    next_expiry_at: datetime | None,
    locale: Locale = "zh",
    *,
    tz: str = DEFAULT_TZ,
    reports: int = 0,
    per_report: int = 0,
) -> Card:
    """The requester's balance, giving allowance left this month (with the per-report share of
    a manager's allowance, ``allowance.per_report``) and the next expiry."""
    if next_expiry_at is not None and next_expiry_amount > 0:
        day = LocalTime(tz).last_day(next_expiry_at)
        expiry = t(locale, "balance.expiry_value", n=f"{next_expiry_amount:,}", date=day)
    else:
        expiry = t(locale, "balance.no_expiry")
    return Card(
        kind="balance",
        title=t(locale, "balance.title"),
        fields=[
            (t(locale, "balance.balance"), _pts(locale, balance)),
            (t(locale, "balance.allowance"), _pts(locale, allowance_left) + (
                t(locale, "balance.per_report", reports=reports, per=per_report)
                if reports and per_report else "")),
            (t(locale, "balance.expiry"), expiry),
        ],
        buttons=[_catalog_button(locale, "btn.catalog")],
        locale=locale,
    )


def who(name: str, department: str | None, locale: Locale) -> str:
    """``王伟（研发部）`` when a department is given (two colleagues share the name), else the name."""
    return t(locale, "name_dept", name=name, department=department) if department else name


def award_received(
    giver_name: str, amount: int, reason: str, locale: Locale = "zh", *,
    joined: tuple[str, str] | None = None, giver_department: str | None = None,
) -> Card:
    """Sent to a recipient (and the group where the award was given); no buttons. ``joined``
    (original giver, award id) says whose award a +1 joined; ``giver_department`` is given when
    another colleague has the giver's name, and then follows it (王伟（研发部）)."""
    giver_name = who(giver_name, giver_department, locale)
    lines = [t(locale, "award.line", giver=giver_name, reason=reason)]
    if joined is not None:
        lines.append(t(locale, "award.joined", giver=giver_name, original=joined[0], id=joined[1]))
    return Card(
        kind="award_received",
        title=t(locale, "award.title", n=f"{amount:,}"),
        lines=lines,
        fields=[
            (t(locale, "award.from"), giver_name),
            (t(locale, "award.amount"), t(locale, "points_signed", n=f"{amount:,}")),
        ],
        locale=locale,
    )


def approval_request(
    approval_id: str,
    kind: str,
    requester_name: str,
    amount: int,
    summary: str,
    locale: Locale = "zh",
    step: int | None = None,
    requester_department: str | None = None,
) -> Card:
    """Sent to the current approver with 同意 / 拒绝 (fallbacks ``同意 A12`` / ``拒绝 A12``).

    ``step`` pins the buttons to the chain step this card asks about; ``requester_department``
    is given when a colleague shares the requester's name."""
    kind = check(kind, APPROVAL_KINDS, "approval kind")
    return Card(
        kind="approval_request",
        title=t(locale, f"approval.title.{kind}"),
        lines=[summary],
        fields=[
            (t(locale, "approval.id"), approval_id),
            (t(locale, "approval.requester"), who(requester_name, requester_department, locale)),
            (t(locale, "approval.amount"), _pts(locale, amount)),
        ],
        buttons=[
            _button(locale, "btn.approve", ApproveAction(approval_id, step),
                    t(locale, "cmd.approve", id=approval_id), "primary"),
            _button(locale, "btn.reject", RejectAction(approval_id, step),
                    t(locale, "cmd.reject", id=approval_id), "danger"),
        ],
        footer=t(locale, "approval.reject_hint", id=approval_id),
        locale=locale,
    )


def approval_decided(
    approval_id: str,
    status: str,
    decided_by_name: str,
    comment: str | None,
    locale: Locale = "zh",
    *,
    summary: str = "",
    amount: int = 0,
) -> Card:
    """Sent to the requester after a decision; also the in-place update of the approver's card.
    It says what was decided (who, how many points, for what) and names the approver once."""
    status = check(status, DECIDED_STATUSES, "approval status")
    fields = [(t(locale, "decided.by"), decided_by_name)]
    if comment:
        fields.append((t(locale, "decided.comment"), comment))
    lines = [t(locale, "decided.line", summary=summary, points=_pts(locale, amount))] if summary else []
    return Card(
        kind="approval_decided",
        title=t(locale, "decided.title", id=approval_id,
                status=t(locale, f"decided.status.{status}")),
        lines=lines,
        fields=fields,
        locale=locale,
    )


def redemption_confirm(
    code: str, item_name: str, qty: int, points: int, balance_after: int, expires_at: datetime,
    locale: Locale = "zh", *, tz: str = DEFAULT_TZ,
) -> Card:
    """Asks the redeemer to confirm (确认兑换 / 取消) before points move to escrow."""
    until = LocalTime(tz).minute(expires_at)
    return Card(
        kind="redemption_confirm",
        title=t(locale, "redeem.title"),
        lines=[t(locale, "redeem.line", item=item_name, qty=qty, points=f"{points:,}")],
        fields=[
            (t(locale, "redeem.item"), item_name),
            (t(locale, "redeem.qty"), str(qty)),
            (t(locale, "redeem.points"), _pts(locale, points)),
            (t(locale, "redeem.balance_after"), _pts(locale, balance_after)),
        ],
        buttons=[
            _button(locale, "btn.confirm", ConfirmRedeem(code),
                    t(locale, "cmd.confirm", code=code), "primary"),
            _button(locale, "btn.cancel", CancelRedeem(code),
                    t(locale, "cmd.cancel_redeem", code=code)),
        ],
        footer=t(locale, "redeem.expires", time=until, code=code),
        locale=locale,
    )


def _order_fields(
    item_name: str, qty: int, points: int, status_text: str, code: str | None,
    note: str | None, locale: Locale,
) -> list[tuple[str, str]]:
    fields = [
        (t(locale, "order.item"), item_name),
        (t(locale, "order.qty"), str(qty)),
        (t(locale, "order.points"), _pts(locale, points)),
        (t(locale, "order.status"), status_text),
    ]
    if code:
        fields.append((t(locale, "order.code"), code))
    if note:
        fields.append((t(locale, "order.note"), note))
    return fields


def _order_lines(status: str, code: str | None, locale: Locale) -> list[str]:
    lines: list[str] = []
    if code:
        lines.append(t(locale, "order.code_private"))
    if status in ("cancelled", "rejected"):
        lines.append(t(locale, "order.refunded"))
    return lines


def order_status(
    order_no: str, item_name: str, qty: int, points: int, status: str,
    code_or_none: str | None, note: str | None, locale: Locale = "zh", for_hr: bool = False,
    ordered_by: str | None = None,
) -> Card:
    """An order's state for the redeemer, or for HR (with 已发货 while the order is placed).
    A ``code`` item's code is shown only to the redeemer, never on HR's card."""
    status = check(status, ORDER_STATUSES, "order status")
    status_text = t(locale, f"order.status.{status}")
    code = None if for_hr else code_or_none
    buttons: list[Button] = []
    footer: str | None = None
    if for_hr and status == "placed":
        buttons.append(_button(locale, "btn.fulfil", FulfilOrder(order_no),
                               t(locale, "cmd.fulfil", no=order_no), "primary"))
    elif not for_hr and status in ("pending_approval", "placed"):
        footer = t(locale, "order.cancel_hint", no=order_no)
    return Card(
        kind="order_status",
        title=t(locale, "order.title_hr" if buttons else "order.title",
                no=order_no, status=status_text),
        lines=_order_lines(status, code, locale),
        fields=_order_fields(item_name, qty, points, status_text, code, note, locale)
        + ([(t(locale, "order.ordered_by"), ordered_by)] if for_hr and ordered_by else []),
        buttons=buttons,
        footer=footer,
        locale=locale,
    )


def expiry_reminder(
    amount: int, expires_at: datetime, days: int, locale: Locale = "zh", *, tz: str = DEFAULT_TZ
) -> Card:
    """Pushed 30 / 7 / 1 days before points expire, with 去兑换 (opens the catalog)."""
    day = LocalTime(tz).last_day(expires_at)
    return Card(
        kind="expiry_reminder",
        title=t(locale, "expiry.title"),
        lines=[t(locale, "expiry.line", n=f"{amount:,}", days=days, date=day)],
        fields=[
            (t(locale, "expiry.amount"), _pts(locale, amount)),
            (t(locale, "expiry.date"), day),
        ],
        buttons=[_catalog_button(locale, "btn.shop")],
        locale=locale,
    )


def promotion(
    text: str, sku_hint: str | None = None, link: str | None = None, locale: Locale = "zh"
) -> Card:
    """An HR broadcast to groups: the text, a ``兑换 <SKU>`` hint and / or a link; no buttons
    (group robots cannot call back)."""
    lines = [line for line in text.splitlines() if line.strip()] or [text]
    if sku_hint:
        lines.append(t(locale, "promo.sku_hint", sku=sku_hint))
    return Card(
        kind="promotion",
        title=t(locale, "promo.title"),
        lines=lines,
        locale=locale,
        link=link,
    )


def catalog(title: str, lines: list[str], locale: Locale = "zh") -> Card:
    """The catalog in chat; the outbox adds the 打开商城 link as it sends it."""
    return Card(kind="catalog", title=title, lines=list(lines), locale=locale)


def message(title: str, lines: list[str] | None = None, locale: Locale = "zh",
            buttons: list[Button] | None = None) -> Card:
    """A plain reply: help, lists, refusals. ``title`` is the first line people see."""
    return Card(kind="message", title=title, lines=list(lines or []), buttons=list(buttons or []),
                locale=locale)

