"""The shipped DingTalk card template definition names every variable jifen fills in."""

from __future__ import annotations

import json
from pathlib import Path

from cards import builders
from cards.render_dingtalk import card_param_map

TEMPLATE = Path(__file__).resolve().parents[2] / "config" / "dingtalk" / "card_template.json"


def test_template_declares_every_card_param() -> None:
    declared = {v["name"] for v in json.loads(TEMPLATE.read_text(encoding="utf-8"))["variables"]}
    card = builders.approval_request("A12", "award", "王伟", 60, "帮忙排查线上故障", "zh")
    params = card_param_map(card)
    assert set(params) == declared
    assert all(isinstance(v, str) for v in params.values())
