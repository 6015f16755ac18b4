"""Renderer guarantees: fallbacks always printed, platform limits, escaping, string-only params."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from cards import builders as b
from cards.actions import ApproveAction
from cards.model import Button, Card
from cards.render_dingtalk import (
    card_param_map,
    dingtalk_markdown_text,
    render_dingtalk_callback_response,
    render_dingtalk_card,
    render_dingtalk_card_update,
    render_dingtalk_sample_markdown,
    validate_out_track_id,
)
from cards.render_html import render_html
from cards.render_text import fit_bytes, render_markdown, render_plain
from cards.render_wecom import (
    MAX_BUTTONS,
    render_wecom,
    render_wecom_markdown,
    render_wecom_replace_button,
    render_wecom_text,
    render_wecom_updated,
    validate_task_id,
)
from cards.serialize import card_from_dict, card_to_dict
from tests.cards.samples import SAMPLES

WITH_BUTTONS = sorted(name for name, card in SAMPLES.items() if card.buttons)
HOSTILE = '<script>alert("x")</script>&<img src=x onerror=alert(1)>'


def test_samples_cover_every_kind_and_button() -> None:
    kinds = {card.kind for card in SAMPLES.values()}
    assert kinds == {"balance", "award_received", "approval_request", "approval_decided",
                     "redemption_confirm", "order_status", "expiry_reminder", "promotion"}
    prefixes = {btn.action.split(":")[0] for c in SAMPLES.values() for btn in c.buttons}
    assert prefixes == {"ap", "rj", "cr", "cx", "ff", "ct"}


@pytest.mark.parametrize("name", WITH_BUTTONS)
def test_every_fallback_is_printed_everywhere(name: str) -> None:
    card = SAMPLES[name]
    wecom = render_wecom(card, "t1")["template_card"]["sub_title_text"]
    params = card_param_map(card)
    outputs = {
        "text": render_plain(card),
        "markdown": render_markdown(card),
        "dingtalk": dingtalk_markdown_text(card),
        "html": render_html(card),
        "wecom": wecom,
        "dingtalk_card": params["markdown"] + params["fallback"],
    }
    for button in card.buttons:
        for where, text in outputs.items():
            assert button.fallback in text, (where, button.fallback)


def test_reply_line_wording() -> None:
    zh = render_plain(SAMPLES["approval_request_award.zh"])
    en = render_plain(SAMPLES["approval_request_award.en"])
    assert zh.splitlines()[-1] == "或回复：同意 A12 / 拒绝 A12"
    assert en.splitlines()[-1] == "or reply: approve A12 / reject A12"


def test_wecom_button_limits() -> None:
    card = SAMPLES["approval_request_award.zh"]
    body = render_wecom(card, "t1")["template_card"]
    assert body["card_type"] == "button_interaction"
    assert 0 < len(body["button_list"]) <= MAX_BUTTONS == 6
    assert [btn["key"] for btn in body["button_list"]] == ["ap:A12", "rj:A12"]
    assert {btn["style"] for btn in body["button_list"]} <= {1, 2, 3, 4}


def test_card_model_allows_at_most_four_buttons() -> None:
    buttons = [Button(f"b{i}", ApproveAction(f"A{i}").pack(), f"同意 A{i}") for i in range(5)]
    with pytest.raises(ValueError, match="at most 4"):
        Card(kind="approval_request", title="x", buttons=buttons)


@pytest.mark.parametrize("task_id", ["a", "task_A12-1@x", "9" * 128])
def test_task_id_accepted(task_id: str) -> None:
    assert validate_task_id(task_id) == task_id


@pytest.mark.parametrize("task_id", ["", "a b", "a:b", "任务1", "a" * 129, "a/b", "a\n"])
def test_task_id_rejected(task_id: str) -> None:
    with pytest.raises(ValueError):
        validate_task_id(task_id)
    with pytest.raises(ValueError):
        render_wecom(SAMPLES["balance.zh"], task_id)


def test_wecom_card_with_buttons_needs_task_id() -> None:
    with pytest.raises(ValueError, match="task_id"):
        render_wecom(SAMPLES["balance.zh"])


def test_wecom_buttonless_cards() -> None:
    assert render_wecom(SAMPLES["award_received.zh"])["msgtype"] == "markdown"
    notice = render_wecom(SAMPLES["promotion.zh"])["template_card"]
    assert notice["card_type"] == "text_notice"
    assert notice["card_action"] == {"type": 1, "url": "https://example.com/promo"}


def test_wecom_long_text_keeps_fallbacks() -> None:
    card = b.approval_request("A12", "application", "张三", 100, "很长的理由" * 200, "zh")
    sub = render_wecom(card, "t1")["template_card"]["sub_title_text"]
    assert len(sub) <= 160 and sub.endswith("或回复：同意 A12 / 拒绝 A12")
    promo = b.promotion("限时兑换 " * 600, "GIFT01", None, "zh")
    content = render_wecom_markdown(promo)["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 2048
    assert len(render_wecom_text(promo)["text"]["content"].encode("utf-8")) <= 2048


def test_markdown_budget_keeps_reply_line() -> None:
    card = b.approval_request("A12", "application", "张三", 100, "理由" * 2000, "zh")
    text = render_markdown(card, max_bytes=600)
    assert len(text.encode("utf-8")) <= 600
    assert text.endswith("> 或回复：同意 A12 / 拒绝 A12")
    with pytest.raises(ValueError):
        render_markdown(card, max_bytes=20)


def test_fit_bytes_cuts_on_character_boundary() -> None:
    assert fit_bytes("积分" * 10, 10) == "积分…"
    assert fit_bytes("short", 10) == "short"


def test_wecom_updated_state() -> None:
    request = SAMPLES["approval_request_award.zh"]
    body = render_wecom_updated(request, "t1", "已同意")["template_card"]
    assert body["replace_text"] == "已同意" and body["task_id"] == "t1"
    assert "或回复" not in body.get("sub_title_text", "")
    assert render_wecom_replace_button("已处理") == {"button": {"replace_name": "已处理"}}
    with pytest.raises(ValueError):
        render_wecom_updated(request, "t 1", "已同意")
    with pytest.raises(ValueError):
        render_wecom_replace_button(" ")


def test_html_escapes_hostile_text() -> None:
    card = b.award_received(HOSTILE, 5, HOSTILE, "zh")
    html = render_html(card)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in html
    promo = render_html(b.promotion(HOSTILE, None, 'https://e.com/?a="><script>', "en"))
    assert "<script>" not in promo and 'href="https://e.com/?a=&quot;&gt;&lt;script&gt;"' in promo


def test_html_has_real_buttons() -> None:
    html = render_html(SAMPLES["redemption_confirm.zh"])
    assert '<button type="button" class="card-btn card-btn-primary" data-action="cr:K7F2QX"' in html
    assert 'data-action="cx:K7F2QX"' in html


def test_card_rejects_non_http_links() -> None:
    with pytest.raises(ValueError):
        b.promotion("x", None, "javascript:alert(1)", "zh")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_dingtalk_param_map_is_all_strings(name: str) -> None:
    card = SAMPLES[name]
    for body in (render_dingtalk_card(card, "o1")["cardData"]["cardParamMap"],
                 render_dingtalk_card_update(card, "o1", "done")["cardData"]["cardParamMap"]):
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in body.items())
    buttons = json.loads(card_param_map(card)["buttons"])
    assert [btn["action"] for btn in buttons] == [btn.action for btn in card.buttons]


def test_dingtalk_update_and_callback() -> None:
    card = SAMPLES["approval_request_award.zh"]
    update = render_dingtalk_card_update(card, "o1", "已同意")
    assert update["cardUpdateOptions"]["updateCardDataByKey"] is True
    params = update["cardData"]["cardParamMap"]
    assert params["buttons"] == "[]" and params["decided"] == "true"
    assert "或回复" not in params["markdown"] and params["fallback"] == ""
    response = render_dingtalk_callback_response(card, "已同意")
    assert response["cardData"]["cardParamMap"] == params


def test_dingtalk_sample_markdown_param_is_json_string() -> None:
    body = render_dingtalk_sample_markdown(SAMPLES["balance.zh"])
    assert json.loads(body["msgParam"])["title"] == "我的积分"


@pytest.mark.parametrize("bad", ["", "a b", "x" * 129, "卡片"])
def test_out_track_id_validation(bad: str) -> None:
    assert validate_out_track_id("jf-card_1.2:3") == "jf-card_1.2:3"
    with pytest.raises(ValueError):
        render_dingtalk_card(SAMPLES["balance.zh"], bad)


def test_a_mall_link_is_on_every_rendering_with_its_label() -> None:
    url = "https://jifen.example.com/m/login?token=abc"
    card = replace(b.balance(520, 100, 500, None), link=url, link_text="打开商城")
    wecom = render_wecom(card, task_id="t1")["template_card"]
    assert wecom["card_type"] == "button_interaction" and wecom["button_list"]
    assert wecom["jump_list"] == [{"type": 1, "title": "打开商城", "url": url}]
    assert f"打开商城：{url}" in render_plain(card)  # the text fallback carries the link
    assert f"[打开商城]({url})" in render_markdown(card)
    assert f"[打开商城]({url})" in dingtalk_markdown_text(card)
    assert f'href="{url.replace("&", "&amp;")}"' in render_html(card) and "打开商城" in render_html(card)
    assert card_from_dict(card_to_dict(card)) == card
    plain = replace(card, link_text=None)
    assert f"详情：{url}" in render_plain(plain)  # no label: the promotion's 详情 as before


def test_a_long_reply_with_a_mall_link_stays_markdown_on_wecom() -> None:
    url = "https://jifen.example.com/m/login?token=abc"
    lines = [f"SKU{i:03d}  商品 {i}  {10 + i}分" for i in range(200)]
    card = replace(b.message("积分商城", lines), link=url, link_text="打开商城")
    body = render_wecom(card)
    assert body["msgtype"] == "markdown"
    text = body["markdown"]["content"]
    assert "SKU020" in text and "SKU199" not in text  # cut to 2048 bytes, but never the link
    assert f"[打开商城]({url})" in text and len(text.encode()) <= 2048
