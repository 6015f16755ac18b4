"""WeCom (企业微信) renderings: ``template_card`` bodies for ``message/send`` and the after-decision
update for ``message/update_template_card`` (facts: docs/platforms.md §3.6–3.9, WC-90236/94888).

Which message type a card becomes:

* **with buttons** → ``template_card`` of ``card_type: button_interaction``: ``main_title.title``,
  the lines, footer and reply line in ``sub_title_text``, fields as ``horizontal_content_list``
  (≤ 6; extra fields go into ``sub_title_text``), ``button_list`` (≤ 6) with ``key`` = packed
  action, and the caller's unique ``task_id``; a link (打开商城) as ``jump_list``.
* **without buttons, with a link** (promotions) → ``template_card`` of ``card_type: text_notice``;
  WeCom requires ``card_action`` on text_notice, which is why only cards with a URL can use it.
* **without buttons or link**, and plain replies (``message``) → ``markdown`` (≤ 2048 bytes; the body is cut, never the reply line).
  ``appchat/send`` and group robots cannot send template cards: use :func:`render_wecom_markdown`
  there (group robots allow 4096 bytes).

The returned dicts are the ``msgtype`` part of the request; the caller adds ``touser`` /
``agentid`` (or ``userids`` / ``agentid`` / ``response_code`` for updates).
"""

from __future__ import annotations

import re
from typing import Any

from cards.model import Button, Card
from cards.render_text import fit_bytes, render_markdown, render_plain
from cards.texts import t

# task_id: "同一个应用任务id不能重复，只能由数字、字母和“_-@”组成，最长128字节" (WC-90236)
TASK_ID_RE = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
MAX_BUTTONS = 6  # button_list "列表长度不超过6"
MAX_HORIZONTAL = 6  # horizontal_content_list "列表长度不超过6"
MAX_KEY_BYTES = 1024  # button key "最长支持1024字节"
SUB_TITLE_MAX = 160  # sub_title_text "建议不超过160个字"
MARKDOWN_MAX_BYTES = 2048  # message/send markdown content
ROBOT_MARKDOWN_MAX_BYTES = 4096  # group robot markdown content
# Styles 1-4 ("不填或错填默认1"); the 94888 style sheet names them 强调 / 次强调 / 中性 / 负向.
STYLE = {"primary": 1, "default": 2, "danger": 4}

JSON = dict[str, Any]


def validate_task_id(task_id: str) -> str:
    """``task_id`` if WeCom accepts it (``[0-9A-Za-z_-@]``, 1-128 bytes), else ``ValueError``."""
    if not isinstance(task_id, str) or not TASK_ID_RE.fullmatch(task_id):
        raise ValueError(f"invalid WeCom task_id: {task_id!r} (1-128 of [0-9A-Za-z_-@])")
    return task_id


def _buttons(buttons: list[Button]) -> list[JSON]:
    if len(buttons) > MAX_BUTTONS:
        raise ValueError(f"WeCom allows at most {MAX_BUTTONS} buttons, got {len(buttons)}")
    out = []
    for b in buttons:
        if len(b.action.encode("utf-8")) > MAX_KEY_BYTES:
            raise ValueError(f"button key too long: {b.action!r}")
        out.append({"text": b.text, "style": STYLE[b.style], "key": b.action})
    return out


def _sub_title(card: Card, overflow: list[str]) -> str:
    """Lines (cut to fit the recommended length) then the footer and the reply line, which are
    kept whole so the text fallbacks are always on the card."""
    tail = "\n".join(p for p in (card.footer, card.reply_hint) if p)
    body = "\n".join([*card.lines, *overflow])
    room = SUB_TITLE_MAX - len(tail) - 1
    if len(body) > room:
        body = (body[: room - 1].rstrip() + "…") if room > 1 else ""
    return "\n".join(p for p in (body, tail) if p)


def _common(card: Card, card_type: str) -> JSON:
    fields = card.fields[:MAX_HORIZONTAL]
    sep = t(card.locale, "sep")
    overflow = [f"{k}{sep}{v}" for k, v in card.fields[MAX_HORIZONTAL:]]
    body: JSON = {
        "card_type": card_type,
        "source": {"desc": t(card.locale, "app")},
        "main_title": {"title": card.title},
    }
    sub_title = _sub_title(card, overflow)
    if sub_title:
        body["sub_title_text"] = sub_title
    if fields:
        body["horizontal_content_list"] = [{"keyname": k, "value": v} for k, v in fields]
    return body


def _button_card(card: Card, task_id: str) -> JSON:
    body = _common(card, "button_interaction")
    body["task_id"] = validate_task_id(task_id)
    body["button_list"] = _buttons(card.buttons)
    if card.link:  # 打开商城: a jump link under the buttons (the text renderings print it too)
        body["jump_list"] = [{"type": 1, "title": card.link_label, "url": card.link}]
    return body


def _text_notice(card: Card, link: str, task_id: str | None) -> JSON:
    body = _common(card, "text_notice")
    if task_id is not None:
        body["task_id"] = validate_task_id(task_id)
    body["jump_list"] = [{"type": 1, "title": card.link_label, "url": link}]
    body["card_action"] = {"type": 1, "url": link}
    return body


def render_wecom(card: Card, task_id: str | None = None) -> JSON:
    """The ``msgtype`` part of a WeCom ``message/send`` body for ``card``. ``task_id`` (unique
    per app) is required when the card has buttons; the click event returns it as ``TaskId``."""
    if card.buttons:
        if task_id is None:
            raise ValueError("a WeCom card with buttons needs a task_id")
        return {"msgtype": "template_card", "template_card": _button_card(card, task_id)}
    # a plain reply (e.g. the 商城 list with 打开商城) stays markdown: text_notice cuts its text
    # at 160 characters, markdown keeps 2048 bytes and shows the link as [打开商城](url)
    if card.link and card.kind != "message":
        return {"msgtype": "template_card", "template_card": _text_notice(card, card.link, task_id)}
    return render_wecom_markdown(card)


def render_wecom_markdown(card: Card, max_bytes: int = MARKDOWN_MAX_BYTES) -> JSON:
    """``{"msgtype": "markdown", ...}`` for app messages, ``appchat/send`` and group robots."""
    return {"msgtype": "markdown", "markdown": {"content": render_markdown(card, max_bytes=max_bytes)}}


def render_wecom_text(card: Card, max_bytes: int = MARKDOWN_MAX_BYTES) -> JSON:
    """``{"msgtype": "text", ...}`` — for clients that do not show markdown (WeChat 微工作台)."""
    return {"msgtype": "text", "text": {"content": fit_bytes(render_plain(card), max_bytes)}}


def render_wecom_updated(card: Card, task_id: str, replace_text: str) -> JSON:
    """``{"template_card": …}`` for ``message/update_template_card`` (or the passive
    ``update_template_card`` reply) after a decision: the same ``task_id``, the card's content
    (the request card or the decided card, see ``Card.settled``), and ``replace_text``, which
    WeCom shows as one grey, unclickable button in place of ``button_list``."""
    if not replace_text.strip():
        raise ValueError("replace_text is empty")
    body = _common(card.settled(), "button_interaction")
    body["task_id"] = validate_task_id(task_id)
    body["button_list"] = _buttons(card.buttons)
    body["replace_text"] = replace_text
    return {"template_card": body}


def render_wecom_replace_button(replace_text: str) -> JSON:
    """The light update: ``{"button": {"replace_name": …}}`` for ``message/update_template_card``
    (greys out the buttons of the card identified by ``response_code``)."""
    if not replace_text.strip():
        raise ValueError("replace_text is empty")
    return {"button": {"replace_name": replace_text}}
