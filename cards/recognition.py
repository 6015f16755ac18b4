"""Cards of SPEC section 13: +1 buttons, the weekly digest (公示), undo and revoke notices.

Pure like ``cards.builders``: plain values in, a neutral Card out. Every +1 button carries its
text fallback (``+1 Z12``), printed on the card, because group channels often cannot call back
(WeCom appchat and group robots never can; DingTalk only with a card template).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cards.actions import JoinAward
from cards.model import MAX_BUTTONS, Button, Card
from cards.texts import Locale, t


@dataclass(frozen=True)
class Joinable:
    """An award people may +1: its public id (``Z12``) and whose it is."""

    award_id: str
    recipient_name: str


def join_button(locale: Locale, award: Joinable) -> Button:
    return Button(text=t(locale, "btn.join", name=award.recipient_name),
                  action=JoinAward(award.award_id).pack(),
                  fallback=t(locale, "cmd.join", id=award.award_id))


def join_buttons(locale: Locale, awards: Sequence[Joinable]) -> list[Button]:
    """+1 buttons for the first few awards (a card holds at most four buttons)."""
    return [join_button(locale, a) for a in awards[:MAX_BUTTONS]]


@dataclass(frozen=True)
class DigestView:
    """The figures of one week, as plain rows (built from the core's digest payload)."""

    first_day: str
    last_day: str
    receivers: Sequence[tuple[int, str, str, int]]  # rank, name, department, points
    givers: Sequence[tuple[int, str, str, int]]  # rank, name, department, points
    values: Sequence[tuple[str, int]]  # value, awards
    joined: Sequence[tuple[str, str, str, str, int]]  # award id, giver, recipient, reason, joins


def weekly_digest(view: DigestView, locale: Locale = "zh") -> Card:
    """公示 for groups: top receivers, top givers, values and the most-joined awards (+1)."""
    lines: list[str] = []
    if view.receivers:
        lines.append(f"【{t(locale, 'digest.receivers')}】")
        lines += [t(locale, "digest.receiver_line", rank=r, name=n, department=d or "-",
                    points=f"{p:,}") for r, n, d, p in view.receivers]
    if view.givers:
        lines.append(f"【{t(locale, 'digest.givers')}】")
        lines += [t(locale, "digest.giver_line", rank=r, name=n, department=d or "-",
                    points=f"{p:,}") for r, n, d, p in view.givers]
    if view.values:
        lines.append(f"【{t(locale, 'digest.values')}】")
        lines.append("  ".join(t(locale, "digest.value_line", value=v, awards=n)
                               for v, n in view.values))
    if view.joined:
        lines.append(f"【{t(locale, 'digest.joined')}】")
        lines += [t(locale, "digest.joined_line", id=i, giver=g, recipient=r, reason=why, joins=n)
                  for i, g, r, why, n in view.joined]
    return Card(
        kind="weekly_digest",
        title=t(locale, "digest.title", first_day=view.first_day, last_day=view.last_day),
        lines=lines or [t(locale, "digest.empty")],
        buttons=join_buttons(locale, [Joinable(i, r) for i, _g, r, _w, _n in view.joined]),
        locale=locale,
    )


def award_undone(giver_name: str, reversed_: int, reason: str, locale: Locale = "zh") -> Card:
    """To the recipient: the giver took an award back (撤回)."""
    return Card(kind="message", title=t(locale, "undone.title", giver=giver_name,
                                        n=f"{reversed_:,}"),
                lines=[reason] if reason else [], locale=locale)


def award_revoked(
    award_id: str, amount: int, reversed_: int, reason: str, recipient_name: str,
    locale: Locale = "zh", *, for_giver: bool = False,
) -> Card:
    """To recipient and giver: HR revoked an award (撤销), saying how much came back."""
    lines = [t(locale, "revoked.line", reversed=f"{reversed_:,}", amount=f"{amount:,}",
               reason=reason)]
    if for_giver:
        lines.insert(0, t(locale, "revoked.giver_line", recipient=recipient_name))
    return Card(kind="message", title=t(locale, "revoked.title", id=award_id), lines=lines,
                locale=locale)
