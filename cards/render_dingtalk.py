"""DingTalk (钉钉) renderings (facts: docs/platforms.md §2.2–2.6).

(a) **Markdown** — ``{"msgtype": "markdown", "markdown": {"title", "text"}}`` for a
``sessionWebhook`` reply or a custom group robot, and ``{"msgKey": "sampleMarkdown", "msgParam":
"<json string>"}`` for ``/v1.0/robot/oToMessages/batchSend`` and ``/groupMessages/send``. This is
what every card degrades to without a card template: the ``或回复：…`` line carries the buttons.

(b) **Interactive card** (``/v1.0/card/instances/createAndDeliver``, ``PUT /v1.0/card/instances``)
— ``cardParamMap``, where **every value is a string**. The template named by
``JIFEN_DINGTALK_CARD_TEMPLATE_ID`` reads these variables:

| variable | content |
|---|---|
| ``kind``, ``locale`` | card kind (``approval_request`` …) and ``zh`` / ``en`` |
| ``title`` | the title |
| ``body`` | markdown: lines, ``**key**：value`` fields, link (no title, no reply line) |
| ``markdown`` | the whole card as markdown (for a one-component template) |
| ``fallback`` | ``或回复：同意 A12 / 拒绝 A12`` (empty when there are no buttons) |
| ``footer`` | footer text or empty |
| ``buttons`` | JSON array string of ``{"text", "action", "style", "fallback"}``; a template loops over
  it and sets each button's 回传参数 to ``{"action": "${action}"}``, so a click arrives as
  ``cardPrivateData.params.action`` = the packed payload |
| ``buttonCount`` | ``"0"`` … ``"4"`` |
| ``decided`` / ``replaceText`` | ``"false"`` / ``""``; after a decision ``"true"`` / e.g. ``已同意`` |
"""

from __future__ import annotations

import json
import re
from typing import Any

from cards.model import Card
from cards.render_text import render_markdown
from cards.texts import t

# Not a documented DingTalk limit: our own conservative rule so ids are safe in URLs and logs.
OUT_TRACK_ID_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
DINGTALK_LINE_BREAK = "\n\n"  # DingTalk joins single newlines into one paragraph

JSON = dict[str, Any]


def validate_out_track_id(out_track_id: str) -> str:
    """``out_track_id`` if it is 1-128 of ``[A-Za-z0-9_.:-]``, else ``ValueError``."""
    if not isinstance(out_track_id, str) or not OUT_TRACK_ID_RE.fullmatch(out_track_id):
        raise ValueError(f"invalid DingTalk outTrackId: {out_track_id!r}")
    return out_track_id


def dingtalk_markdown_text(card: Card) -> str:
    """The card as DingTalk markdown (paragraph breaks, reply line included)."""
    return render_markdown(card, line_break=DINGTALK_LINE_BREAK)


def render_dingtalk_markdown(card: Card) -> JSON:
    """``{"msgtype": "markdown", ...}`` for a sessionWebhook reply or a custom group robot."""
    return {"msgtype": "markdown", "markdown": {"title": card.title, "text": dingtalk_markdown_text(card)}}


def render_dingtalk_sample_markdown(card: Card) -> JSON:
    """``msgKey`` / ``msgParam`` (a JSON *string*) for the robot OpenAPI send calls."""
    param = {"title": card.title, "text": dingtalk_markdown_text(card)}
    return {"msgKey": "sampleMarkdown", "msgParam": json.dumps(param, ensure_ascii=False)}


def _body(card: Card) -> str:
    sep = t(card.locale, "sep")
    parts = [*card.lines, *(f"**{k}**{sep}{v}" for k, v in card.fields)]
    if card.link:
        parts.append(f"[{card.link_label}]({card.link})")
    return DINGTALK_LINE_BREAK.join(parts)


def card_param_map(card: Card, *, replace_text: str | None = None) -> dict[str, str]:
    """All template variables as strings. With ``replace_text`` the card is in its decided
    state (``Card.settled``: no buttons, no reply line) and ``decided = "true"``."""
    shown = card if replace_text is None else card.settled()
    button_list = [
        {"text": b.text, "action": b.action, "style": b.style, "fallback": b.fallback}
        for b in shown.buttons
    ]
    return {
        "kind": shown.kind,
        "locale": shown.locale,
        "title": shown.title,
        "body": _body(shown),
        "markdown": dingtalk_markdown_text(shown),
        "fallback": shown.reply_hint or "",
        "footer": shown.footer or "",
        "buttons": json.dumps(button_list, ensure_ascii=False, separators=(",", ":")),
        "buttonCount": str(len(button_list)),
        "decided": "true" if replace_text is not None else "false",
        "replaceText": replace_text or "",
    }


def render_dingtalk_card(card: Card, out_track_id: str) -> JSON:
    """``outTrackId`` + ``cardData`` for ``createAndDeliver``; the caller adds
    ``cardTemplateId``, ``openSpaceId``, ``callbackType`` and the deliver models."""
    return {
        "outTrackId": validate_out_track_id(out_track_id),
        "cardData": {"cardParamMap": card_param_map(card)},
    }


def render_dingtalk_card_update(card: Card, out_track_id: str, replace_text: str) -> JSON:
    """Body for ``PUT /v1.0/card/instances`` after a decision: buttons gone, ``replaceText`` set.
    ``updateCardDataByKey`` so only these keys change (without it the map replaces all data)."""
    if not replace_text.strip():
        raise ValueError("replace_text is empty")
    return {
        "outTrackId": validate_out_track_id(out_track_id),
        "cardData": {"cardParamMap": card_param_map(card, replace_text=replace_text)},
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
    }


def render_dingtalk_callback_response(card: Card, replace_text: str) -> JSON:
    """What a card-callback handler returns (2nd tuple element) to update the card in place."""
    return {
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
        "cardData": {"cardParamMap": card_param_map(card, replace_text=replace_text)},
    }
