"""The outbox at the platform edge: answers overtake queued pushes, order per recipient, limits
kept (excess waits), DingTalk batchSend grouping, nothing dropped — against the fake servers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.outbox import Deliverer, OutboxWorker, RateLimiter
from bot.outbox import worker as worker_module
from bot.outbox.metrics import collect
from bot.platforms.dingtalk.client import DingTalkClient
from bot.platforms.dingtalk.errors import RetryPolicy as DingTalkRetry
from bot.platforms.dingtalk.sender import DingTalkSender
from bot.platforms.wecom.client import RetryPolicy, WeComClient
from cards.builders import message
from cards.serialize import card_to_dict
from core.db import Database
from core.models import OutboxMessage, utcnow
from core.outbox import Recipient, push, queue
from core.policy import Policy
from tests.factories import add_employee
from tests.fakes.dingtalk_server import CLIENT_ID, CLIENT_SECRET, FakeDingTalk
from tests.fakes.wecom_server import AGENT_ID, CORP_ID, SECRET, FakeWeComAPI


@pytest.fixture
async def wecom(db: Database, policy: Policy) -> AsyncIterator[tuple[OutboxWorker, FakeWeComAPI]]:
    async with FakeWeComAPI() as api:
        client = WeComClient(corp_id=CORP_ID, secret=SECRET, agent_id=str(AGENT_ID),
                             api_base=api.base_url, retry=RetryPolicy(attempts=1, base_delay=0))
        yield OutboxWorker(db, Deliverer(db, policy, wecom=client), limiter=RateLimiter(),
                           batch=500), api
        await client.close()


@pytest.fixture
def dt() -> Iterator[FakeDingTalk]:
    with FakeDingTalk() as fake:
        yield fake


async def _employees(db: Database, n: int, *, platform: str) -> list[str]:
    async with db.uow() as s:
        for i in range(n):
            await add_employee(s, f"P{i:03d}", **{platform: f"u{i:03d}"})  # type: ignore[arg-type]
    return [f"u{i:03d}" for i in range(n)]


async def _push_all(db: Database, n: int, *, reason: str = "季度之星") -> None:
    async with db.uow() as s:
        for i in range(n):
            await push(s, employee_id=f"P{i:03d}", kind="points_granted", now=utcnow(),
                       payload={"amount": 100, "reason": reason})


async def _reply(db: Database, user: str, text: str) -> None:
    async with db.uow() as s:
        await queue(s, recipient=Recipient.chat("wecom", user), kind="reply", now=utcnow(),
                    payload={"card": card_to_dict(message(text))})


async def _drain(worker: OutboxWorker) -> None:
    while await worker.run_once():
        pass


async def _pending(db: Database) -> int:
    async with db.uow() as s:
        return int(await s.scalar(select(func.count()).where(OutboxMessage.status == "pending"))
                   or 0)


async def test_answers_overtake_queued_pushes(db: Database, wecom) -> None:  # type: ignore[no-untyped-def]
    worker, api = wecom
    await _employees(db, 40, platform="wecom")
    await _push_all(db, 40)  # a bulk grant, queued first
    for i in range(5):
        await _reply(db, f"asker{i}", f"余额 {i}")
    await _drain(worker)
    to = [r.json["touser"] for r in api.calls("message/send")]  # type: ignore[index]
    assert to[:5] == [f"asker{i}" for i in range(5)]  # every answer before any push
    assert sorted(to[5:]) == [f"u{i:03d}" for i in range(40)]  # and every push, once


async def test_order_per_recipient_survives_a_failure(db: Database, wecom, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(worker_module, "BASE_DELAY", 0.0)
    worker, api = wecom
    api.fail_next(1, status=500)  # the first message of 张三 fails once; the others must wait
    for i in range(6):
        await _reply(db, "zhangsan", f"第 {i} 条")
    await _drain(worker)
    while await _pending(db):  # the failed one is due again at once (no backoff in this test)
        await _drain(worker)
    sent = [str(r.json) for r in api.calls("message/send")]
    order = [next(i for i in range(6) if f"第 {i} 条" in body) for body in sent]
    assert list(dict.fromkeys(order)) == list(range(6))  # a retried one may repeat, never jump


async def test_excess_waits_and_is_never_dropped(db: Database, policy: Policy) -> None:
    async with FakeWeComAPI() as api:
        client = WeComClient(corp_id=CORP_ID, secret=SECRET, agent_id=str(AGENT_ID),
                             api_base=api.base_url, retry=RetryPolicy(attempts=1, base_delay=0))
        limiter = RateLimiter({"wecom": ((3, 0.2),)})  # 3 per 0.2 s: the real rule, shrunk
        worker = OutboxWorker(db, Deliverer(db, policy, wecom=client), limiter=limiter)
        for i in range(10):
            await _reply(db, "zhangsan", f"第 {i} 条")
        await _reply(db, "lisi", "余额")
        await worker.run_once()
        assert len(api.calls("message/send")) == 4  # 3 for 张三, lisi not held back by him
        while await _pending(db):
            await asyncio.sleep(0.05)  # wait for the window; not a timed assertion
            await worker.run_once()
        await client.close()
    to_zhangsan = [str(r.json) for r in api.calls("message/send") if "zhangsan" in str(r.json)]
    assert [next(i for i in range(10) if f"第 {i} 条" in b) for b in to_zhangsan] == list(range(10))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=80))
def test_limiter_never_lets_more_than_the_limit_through_any_window(gaps: list[float]) -> None:
    now = [0.0]
    limiter = RateLimiter({"wecom": ((5, 10.0), (12, 60.0))}, clock=lambda: now[0])
    taken: list[float] = []
    for gap in gaps:
        now[0] += gap
        if limiter.acquire("wecom:u1") == 0:
            taken.append(now[0])
    for i, t in enumerate(taken):
        assert sum(1 for x in taken[i:] if x - t < 10.0) <= 5
        assert sum(1 for x in taken[i:] if x - t < 60.0) <= 12


def test_limiter_forgets_members_whose_sends_are_older_than_every_window() -> None:
    now = [0.0]
    limiter = RateLimiter({"wecom": ((1, 60.0),)}, clock=lambda: now[0])
    for i in range(1000):  # a broadcast: one send to each of 1,000 members
        assert limiter.acquire(f"wecom:u{i}", row_id=i) == 0
    limiter.known("wecom:u1", 5000, 30.0)  # a later send to u1, settled by another replica
    now[0] = 59.0
    assert limiter.acquire("wecom:late", row_id=2000) == 0
    assert limiter.tracked == 1001  # nothing is out of the window yet
    now[0] = 61.0
    assert limiter.acquire("wecom:later", row_id=2001) == 0
    assert limiter.tracked == 3  # u1 (its send at 30 s), late, later
    assert limiter.acquire("wecom:u1") > 0  # what is kept still counts


async def test_same_push_to_many_goes_in_batch_send_calls_of_20(db: Database, policy: Policy,
                                                                 dt: FakeDingTalk) -> None:
    users = await _employees(db, 45, platform="dingtalk")
    client = DingTalkClient(app_key=CLIENT_ID, app_secret=CLIENT_SECRET, api_base=dt.base_url,
                            retry=DingTalkRetry(attempts=1, base_delay=0))
    deliverer = Deliverer(db, policy, dingtalk=DingTalkSender(client))
    worker = OutboxWorker(db, deliverer, limiter=RateLimiter())
    await _push_all(db, 45)
    await _drain(worker)
    await client.close()
    calls = dt.calls("oToMessages/batchSend")
    got = sorted(u for c in calls for u in c.json["userIds"])
    assert got == users  # each exactly once
    assert len(calls) == 3 and all(len(c.json["userIds"]) <= 20 for c in calls)
    assert await _pending(db) == 0


async def test_metrics_show_depth_and_age_per_lane(db: Database) -> None:
    text = "\n".join(await collect(db))
    assert 'jifen_outbox_depth{lane="reply"} 0' in text
    assert 'jifen_outbox_depth{lane="push"} 0' in text
    assert 'jifen_outbox_oldest_age_seconds{lane="push"} 0.000' in text
    await _reply(db, "zhangsan", "余额")
    text = "\n".join(await collect(db))
    assert 'jifen_outbox_depth{lane="reply"} 1' in text
    assert 'jifen_outbox_messages{status="failed"} 0' in text



class _Told:
    """The real Deliverer; ``sent`` is set once it has handed a message to the platform."""

    def __init__(self, inner: Deliverer) -> None:
        self.inner, self.sent = inner, asyncio.Event()

    def rate_key(self, d: Any, contacts: Any) -> str | None:
        return self.inner.rate_key(d, contacts)

    async def send(self, d: Any, contacts: Any) -> Any:
        card = await self.inner.send(d, contacts)
        self.sent.set()
        return card


async def test_a_wake_from_another_thread_reaches_the_workers_loop(db: Database,
                                                                   policy: Policy) -> None:
    """On SQLite a commit happens on a database thread, and its wake must wake the worker's
    loop: with polls an hour apart and nothing else running, only the wake can make it look."""
    async with FakeWeComAPI() as api:
        client = WeComClient(corp_id=CORP_ID, secret=SECRET, agent_id=str(AGENT_ID),
                             api_base=api.base_url, retry=RetryPolicy(attempts=1, base_delay=0))
        told = _Told(Deliverer(db, policy, wecom=client))
        worker = OutboxWorker(db, told, limiter=RateLimiter(), idle=3600, reply_idle=3600)
        task = asyncio.create_task(worker.run())
        try:
            for _ in range(20):  # until both lanes have looked once and wait for a wake
                await asyncio.sleep(0.01)
            await _reply(db, "asker", "余额")
            # from another thread, as a database thread's commit does, while this loop sleeps:
            # a wake that only set the event from there would leave it asleep until the bound
            threading.Timer(0.05, worker.wake).start()
            await asyncio.wait_for(told.sent.wait(), timeout=5)
            assert [r.json["touser"] for r in api.calls("message/send")] == ["asker"]  # type: ignore[index]
        finally:
            worker.stop()
            await asyncio.wait_for(task, timeout=10)
            await client.close()
