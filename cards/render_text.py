"""Plain text and markdown renderings of a card.

Used wherever a platform cannot show our buttons: DingTalk without a card template, group robots
(WeCom and DingTalk), WeCom app messages for button-less cards, and the terminal chat. Layout:
title, lines, fields, link, footer, then last the ``或回复：…`` line with every button's text
command. The reply line is never cut when a byte budget forces truncation, so the text fallback of
every button survives any platform limit.

Markdown is the subset both platforms render (``###`` heading, ``**bold**``, ``[text](url)``,
``>`` quote). User text (reasons, names, broadcast text) is passed through unescaped: both
platforms show markdown markers literally when they do not form a construct, and escaping with
backslashes would show the backslashes in DingTalk.
"""

from __future__ import annotations

from cards.model import Card
from cards.texts import t

ELLIPSIS = "…"


def _field_lines(card: Card) -> list[str]:
    sep = t(card.locale, "sep")
    return [f"{key}{sep}{value}" for key, value in card.fields]


def _tail(card: Card) -> list[str]:
    return [part for part in (card.footer, card.reply_hint) if part]


def render_plain(card: Card) -> str:
    """The card as plain text (terminal chat, DingTalk ``sampleText``, WeCom ``text``)."""
    head = [card.title, *card.lines, *_field_lines(card)]
    if card.link:
        head.append(f"{card.link_label}{t(card.locale, 'sep')}{card.link}")
    return "\n".join(head + _tail(card))


def _md_head(card: Card) -> list[str]:
    sep = t(card.locale, "sep")
    head = [f"### {card.title}", *card.lines]
    head += [f"**{key}**{sep}{value}" for key, value in card.fields]
    if card.link and not card.link_text:
        head.append(f"[{card.link_label}]({card.link})")
    return head


def _md_tail(card: Card) -> list[str]:
    # a labelled link (打开商城) is kept with the footer: a long list may be cut, never the link
    tail = [f"[{card.link_label}]({card.link})"] if card.link and card.link_text else []
    tail += [card.footer] if card.footer else []
    if card.reply_hint:
        tail.append(f"> {card.reply_hint}")
    return tail


def render_markdown(card: Card, *, line_break: str = "\n", max_bytes: int | None = None) -> str:
    """The card as markdown. ``line_break`` is ``"\\n"`` for WeCom and ``"\\n\\n"`` for DingTalk
    (which joins single newlines into one paragraph). ``max_bytes`` (UTF-8) truncates the body,
    never the footer or the reply line with the text fallbacks."""
    head = line_break.join(_md_head(card))
    tail = line_break.join(_md_tail(card))
    text = head + (line_break + tail if tail else "")
    if max_bytes is None or len(text.encode("utf-8")) <= max_bytes:
        return text
    marker = ELLIPSIS + t(card.locale, "more")
    budget = max_bytes - len((line_break + marker + line_break + tail).encode("utf-8"))
    if budget <= 0:
        raise ValueError(f"max_bytes={max_bytes} cannot hold the card's reply line")
    cut = head.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip()
    return line_break.join(part for part in (cut, marker, tail) if part)


def fit_bytes(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes (on a character boundary, with …)."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    room = max_bytes - len(ELLIPSIS.encode("utf-8"))
    return text.encode("utf-8")[: max(room, 0)].decode("utf-8", errors="ignore") + ELLIPSIS
