"""Every sample card through every renderer, compared with committed golden files."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cards.model import Card
from cards.render_dingtalk import (
    render_dingtalk_card,
    render_dingtalk_card_update,
    render_dingtalk_markdown,
    render_dingtalk_sample_markdown,
)
from cards.render_html import render_html
from cards.render_text import render_markdown, render_plain
from cards.render_wecom import render_wecom, render_wecom_updated
from tests.cards.samples import SAMPLES
from tests.cards.snapshot import SNAPSHOTS, assert_snapshot, to_json, updating

TASK_ID = "jf_task-0001@t"
OUT_TRACK_ID = "jf-card-0001"

RENDERERS: dict[str, tuple[str, Callable[[Card], str]]] = {
    "text": ("txt", lambda c: render_plain(c) + "\n"),
    "markdown": ("md", lambda c: render_markdown(c) + "\n"),
    "html": ("html", lambda c: render_html(c) + "\n"),
    "wecom": ("json", lambda c: to_json(render_wecom(c, TASK_ID))),
    "dingtalk_markdown": ("json", lambda c: to_json(render_dingtalk_markdown(c))),
    "dingtalk_sample_markdown": ("json", lambda c: to_json(render_dingtalk_sample_markdown(c))),
    "dingtalk_card": ("json", lambda c: to_json(render_dingtalk_card(c, OUT_TRACK_ID))),
}


def snapshot_name(sample: str, renderer: str) -> str:
    return f"{sample}.{renderer}.{RENDERERS[renderer][0]}"


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_render_snapshot(sample: str, renderer: str) -> None:
    assert_snapshot(snapshot_name(sample, renderer), RENDERERS[renderer][1](SAMPLES[sample]))


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_after_decision_snapshots(locale: str) -> None:
    request = SAMPLES[f"approval_request_award.{locale}"]
    decided = SAMPLES[f"approval_decided_approved.{locale}"]
    replace_text = "已同意" if locale == "zh" else "Approved"
    assert_snapshot(f"after_decision.{locale}.wecom_updated.json",
                    to_json(render_wecom_updated(decided, TASK_ID, replace_text)))
    assert_snapshot(f"after_decision_request.{locale}.wecom_updated.json",
                    to_json(render_wecom_updated(request, TASK_ID, replace_text)))
    assert_snapshot(f"after_decision.{locale}.dingtalk_card_update.json",
                    to_json(render_dingtalk_card_update(decided, OUT_TRACK_ID, replace_text)))


def test_no_stale_snapshots() -> None:
    """Every committed file belongs to a current test (renamed samples leave no orphans)."""
    if updating():
        pytest.skip("rewriting snapshots")
    expected = {snapshot_name(s, r) for s in SAMPLES for r in RENDERERS}
    for locale in ("zh", "en"):
        expected |= {f"after_decision.{locale}.wecom_updated.json",
                     f"after_decision_request.{locale}.wecom_updated.json",
                     f"after_decision.{locale}.dingtalk_card_update.json"}
    present = {p.name for p in SNAPSHOTS.iterdir() if p.is_file()}
    assert present - expected == set(), "stale snapshot files"
    assert expected - present == set(), "missing snapshot files"
