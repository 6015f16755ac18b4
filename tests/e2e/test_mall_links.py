"""打开商城 on the WeCom cards that lead to the mall, as WeCom receives them: the balance reply
and an expiry reminder push carry a one-time ``/m/login?token=…`` link for their employee (a
jump link under the card's buttons, and in the text), a group broadcast links to ``/m``."""

from __future__ import annotations

from datetime import timedelta

from core.models import utcnow
from core.outbox import push
from tests.e2e.conftest import WeComBot

PUBLIC = "http://127.0.0.1:8080"


def _jump_urls(message: dict[str, object]) -> list[str]:
    card = message.get("template_card") or {}
    assert isinstance(card, dict)
    return [j["url"] for j in card.get("jump_list", [])]


async def test_balance_reply_and_expiry_push_carry_a_mall_link(wecom: WeComBot) -> None:
    await wecom.say("wangwei", "积分")
    expires = (utcnow() + timedelta(days=7)).isoformat()
    await wecom.db.run(lambda s: push(s, employee_id="E004", kind="expiry_reminder",
                                       payload={"amount": 120, "expires_at": expires, "days": 7},
                                       now=utcnow(), dedupe_key="test-expiry-E004"))
    await wecom.flush()
    sent = [m for m in wecom.sent_to("wangwei") if m.get("msgtype") == "template_card"]
    assert len(sent) == 2
    links = [url for m in sent for url in _jump_urls(m)]
    assert len(links) == 2 and len(set(links)) == 2  # one fresh link per card
    assert all(u.startswith(f"{PUBLIC}/m/login?token=") for u in links)
    titles = [m["template_card"]["jump_list"][0]["title"] for m in sent]  # type: ignore[index]
    assert titles == ["打开商城", "打开商城"]
    resp = await wecom.client.get(links[1].removeprefix(PUBLIC), allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/m"


async def test_the_catalog_reply_carries_a_mall_link(wecom: WeComBot) -> None:
    await wecom.say("wangwei", "商城")
    await wecom.flush()
    text = wecom.texts_to("wangwei")
    assert "打开商城" in text and f"{PUBLIC}/m/login?token=" in text


async def test_a_group_broadcast_links_to_the_mall_itself(wecom: WeComBot) -> None:
    await wecom.say("linfang", "广播 双十一限时兑换：咖啡券 30 分")
    await wecom.flush()
    hooks = wecom.api.calls("webhook/send")
    assert len(hooks) == 1
    text = str(hooks[0].json)
    assert f"[打开商城]({PUBLIC}/m)" in text and "token=" not in text
