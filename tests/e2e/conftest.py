"""A real jifen app with WeCom configured against a loopback fake WeCom API, driven by
encrypted callbacks over HTTP exactly as WeCom sends them."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import DB_KEY, EVENT_INBOX_KEY, POLICY_KEY, WORKER_KEY, build
from bot.app.demo import load_demo
from bot.outbox import OutboxWorker
from config.settings import Settings
from core.db import Database
from core.models import utcnow
from tests.conftest import ROOT, _reset_postgres
from tests.fakes.wecom_server import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeComAPI,
    WeComCallbackSender,
    card_event_xml,
    text_xml,
)

_ids = itertools.count(1)


@dataclass
class WeComBot:
    client: TestClient  # type: ignore[type-arg]
    api: FakeWeComAPI
    db: Database
    worker: OutboxWorker
    sender: WeComCallbackSender

    async def post(self, xml: str) -> int:
        req = self.sender.message(xml)
        resp = await self.client.post(f"/wecom/callback?{req.query_string}", data=req.body)
        # the 200 means "stored in the inbox"; processing follows at once, in a task
        app = self.client.app
        events = app.get(EVENT_INBOX_KEY) if app is not None else None
        if events is not None:
            await events.idle()
        return resp.status

    async def say(self, user: str, text: str, *, msg_id: str | None = None) -> int:
        return await self.post(text_xml(user=user, content=text, msg_id=msg_id or f"m{next(_ids)}"))

    async def click(self, user: str, key: str, *, task_id: str = "t1", response_code: str = "rc",
                    create_time: int | None = None) -> int:
        return await self.post(card_event_xml(user=user, key=key, task_id=task_id,
                                              response_code=response_code,
                                              create_time=create_time or 1700000000 + next(_ids)))

    async def flush(self) -> None:
        """Deliver everything due in the outbox (the worker's loop, one pass at a time)."""
        while await self.worker.run_once():
            pass

    def sent_to(self, user: str) -> list[dict[str, Any]]:
        return [r.json for r in self.api.calls("message/send") if r.json and r.json["touser"] == user]

    def texts_to(self, user: str) -> str:
        return "\n".join(str(m) for m in self.sent_to(user))


@pytest.fixture
async def wecom(db_url: str, aiohttp_client, tmp_path) -> AsyncIterator[WeComBot]:  # type: ignore[no-untyped-def]
    async with FakeWeComAPI() as api:
        yield await start_bot(api, db_url, aiohttp_client, policy_file=_policy_with_targets(api, tmp_path))


def _policy_with_targets(api: FakeWeComAPI, tmp_path: Path) -> str:
    """The shipped policy plus broadcast targets that point at the fake."""
    text = (ROOT / "config" / "policy.yaml").read_text(encoding="utf-8")
    text = text.replace("  targets: []", (
        "  targets:\n"
        f"    - {{name: 全员群, platform: wecom, kind: webhook, url: \"{api.webhook_url()}\"}}\n"
        "    - {name: 研发群, platform: wecom, kind: appchat, chatid: CHAT1}\n"))
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


async def start_bot(api: FakeWeComAPI, db_url: str, aiohttp_client, *, policy_file: str) -> WeComBot:  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=db_url, wecom_corp_id=CORP_ID, wecom_agent_id=str(AGENT_ID),
        wecom_secret=SECRET, wecom_token=TOKEN, wecom_aes_key=AES_KEY,  # type: ignore[arg-type]
        wecom_api_base=api.base_url, policy_file=policy_file, _env_file=None)  # type: ignore[call-arg]
    app = await build(settings, background=False)
    db = app[DB_KEY]
    if not db.is_sqlite:
        await _reset_postgres(db)
    await load_demo(db, app[POLICY_KEY], now=utcnow())
    client = await aiohttp_client(app)
    bot = WeComBot(client, api, db, app[WORKER_KEY], WeComCallbackSender())
    await bot.flush()  # the demo's own pushes
    api.requests.clear()
    return bot
