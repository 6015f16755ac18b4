"""后台 / admin in WeCom chat: HR gets a one-time console link that signs in over HTTP; an
employee without hr / admin is refused and gets no link."""

from __future__ import annotations

import json
import re

from tests.e2e.conftest import WeComBot


async def test_hr_gets_a_console_link_in_chat_and_it_signs_in(wecom: WeComBot) -> None:
    assert await wecom.say("linfang", "后台") == 200
    await wecom.flush()
    text = json.dumps(wecom.sent_to("linfang"), ensure_ascii=False)
    found = re.search(r"http://[^/\s\"]+(/admin/login\?token=[A-Za-z0-9_\-]+)", text)
    assert found, text
    assert "10 分钟" in text
    resp = await wecom.client.get(found[1], allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/admin"
    assert (await wecom.client.get("/admin")).status == 200


async def test_an_employee_is_refused_a_console_link(wecom: WeComBot) -> None:
    assert await wecom.say("wangwei", "admin") == 200
    await wecom.flush()
    text = json.dumps(wecom.sent_to("wangwei"), ensure_ascii=False)
    assert "Only HR" in text and "/admin/login" not in text
