"""A small HTML fragment of a card for the local web playground.

Every piece of card text is escaped (``html.escape`` with quotes), so names, reasons and broadcast
text cannot inject markup. Buttons are real ``<button data-action="…">`` elements; the playground's
script posts ``data-action`` back as a card click, exactly as a platform callback would. The
``或回复：…`` line is printed as well, so the fragment also documents the text commands.
"""

from __future__ import annotations

from html import escape

from cards.model import Button, Card


def _e(text: str) -> str:
    return escape(text, quote=True)


def _button(button: Button) -> str:
    return (
        f'<button type="button" class="card-btn card-btn-{_e(button.style)}"'
        f' data-action="{_e(button.action)}" data-fallback="{_e(button.fallback)}">'
        f"{_e(button.text)}</button>"
    )


def _fields(card: Card) -> list[str]:
    if not card.fields:
        return []
    rows = "".join(f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>" for key, value in card.fields)
    return [f'<dl class="card-fields">{rows}</dl>']


def _body(card: Card) -> list[str]:
    parts = [f'<h3 class="card-title">{_e(card.title)}</h3>']
    parts += [f'<p class="card-line">{_e(line)}</p>' for line in card.lines]
    parts += _fields(card)
    if card.link:
        parts.append(
            f'<p class="card-link"><a href="{_e(card.link)}" rel="noopener noreferrer"'
            f' target="_blank">{_e(card.link_label)}</a></p>'
        )
    return parts


def render_html(card: Card) -> str:
    """``<div class="card">…</div>`` with escaped text and one ``<button>`` per card button."""
    parts = _body(card)
    if card.buttons:
        buttons = "".join(_button(b) for b in card.buttons)
        parts.append(f'<div class="card-buttons">{buttons}</div>')
    if card.footer:
        parts.append(f'<p class="card-footer">{_e(card.footer)}</p>')
    if card.reply_hint:
        parts.append(f'<p class="card-fallback">{_e(card.reply_hint)}</p>')
    inner = "\n  ".join(parts)
    return (
        f'<div class="card card-{_e(card.kind)}" data-kind="{_e(card.kind)}"'
        f' lang="{_e(card.locale)}">\n  {inner}\n</div>'
    )
