"""The outbox worker against the fake WeCom API: rate limits, final failure, re-queue."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.outbox import Deliverer, OutboxWorker, RateLimiter
from bot.platforms.wecom.client import RetryPolicy, WeComClient
from cards.builders import message
from cards.serialize import card_to_dict
from core import outbox
from core.db import Database
from core.models import OutboxMessage, utcnow
from core.outbox import Recipient, queue
from core.policy import Policy
from tests.fakes.wecom_server import AGENT_ID, CORP_ID, SECRET, FakeWeComAPI


@pytest.fixture
async def setup(db: Database, policy: Policy) -> AsyncIterator[tuple[OutboxWorker, FakeWeComAPI]]:
    async with FakeWeComAPI() as api:
        client = WeComClient(corp_id=CORP_ID, secret=SECRET, agent_id=str(AGENT_ID),
                             api_base=api.base_url, retry=RetryPolicy(attempts=1, base_delay=0))
        deliverer = Deliverer(db, policy, wecom=client)
        worker = OutboxWorker(db, deliverer, limiter=RateLimiter(), batch=50)
        yield worker, api
        await client.close()


async def _queue_replies(db: Database, user: str, n: int) -> None:
    async with db.uow() as s:
        for i in range(n):
            await queue(s, recipient=Recipient.chat("wecom", user), kind="reply", now=utcnow(),
                        payload={"card": card_to_dict(message(f"第 {i} 条"))})


async def _statuses(db: Database) -> list[tuple[str, str | None]]:
    async with db.uow() as s:
        return [(m.status, m.last_error) for m in
                await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


async def test_thirty_messages_a_minute_per_member(db: Database, setup) -> None:  # type: ignore[no-untyped-def]
    worker, api = setup
    await _queue_replies(db, "zhangsan", 35)
    await _queue_replies(db, "lisi", 2)
    await worker.run_once()
    sent_to = [r.json["touser"] for r in api.calls("message/send")]  # type: ignore[index]
    assert sent_to.count("zhangsan") == 30 and sent_to.count("lisi") == 2
    rows = await _statuses(db)
    waiting = [r for r in rows if r[0] == "pending"]
    # the 31st waits for a free slot; the four after it wait behind it (order per recipient)
    assert len(waiting) == 5 and "rate limited" in (waiting[0][1] or "")
    assert await worker.run_once() == 0  # none is due yet


async def test_permanent_error_fails_then_retry_requeues(db: Database, setup) -> None:  # type: ignore[no-untyped-def]
    worker, api = setup
    api.fail_next(1, errcode=81013)  # WeCom: user not in the app's visible range
    await _queue_replies(db, "zhangsan", 1)
    await worker.run_once()
    assert (await _statuses(db))[0][0] == "failed"
    async with db.uow() as s:
        assert await outbox.requeue_failed(s, now=utcnow()) == 1
    await worker.run_once()
    assert await _statuses(db) == [("sent", None)]


async def test_retriable_errors_back_off_then_give_up(db: Database, setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.outbox import worker as worker_module

    monkeypatch.setattr(worker_module, "BASE_DELAY", 0.0)
    worker, api = setup
    api.fail_next(worker_module.MAX_ATTEMPTS, status=500)
    await _queue_replies(db, "zhangsan", 1)
    for _ in range(worker_module.MAX_ATTEMPTS):
        await worker.run_once()
    status, error = (await _statuses(db))[0]
    assert status == "failed" and error
    assert len(api.requests) == worker_module.MAX_ATTEMPTS  # one try per attempt, then it stops
