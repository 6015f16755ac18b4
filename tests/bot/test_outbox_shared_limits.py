"""The platforms' send limits are per app, not per process: two replicas (two workers, each with
its own limiter and its own connection pool on one database) together never send a member more
than the limit, because each counts what the outbox records as already sent. The same holds for
a process restarted within the window (a fresh limiter)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.outbox import Deliverer, OutboxWorker, RateLimiter
from bot.outbox.limits import Window
from bot.platforms.wecom.client import RetryPolicy, WeComClient
from core.db import Database
from core.models import OutboxMessage, utcnow
from core.outbox import Lane, claim, push
from core.policy import Policy
from tests.bot.test_outbox_lanes import _drain, _reply
from tests.conftest import _reset_postgres
from tests.factories import add_employee
from tests.fakes.wecom_server import AGENT_ID, CORP_ID, SECRET, FakeWeComAPI

SHRUNK: dict[str, tuple[Window, ...]] = {"wecom": ((3, 3600.0),)}  # the real rule (30 a minute, 1,000 an hour), shrunk to 3


@pytest.fixture
async def api() -> AsyncIterator[FakeWeComAPI]:
    async with FakeWeComAPI() as fake:
        yield fake
        for client in _clients:
            await client.close()
        _clients.clear()


_clients: list[WeComClient] = []


@pytest.fixture
async def second(db_url: str) -> AsyncIterator[Database]:
    other = Database(db_url)  # another replica's pool on the same database
    yield other
    await other.dispose()


def _worker(db: Database, policy: Policy, api: FakeWeComAPI) -> OutboxWorker:
    client = WeComClient(corp_id=CORP_ID, secret=SECRET, agent_id=str(AGENT_ID),
                         api_base=api.base_url, retry=RetryPolicy(attempts=1, base_delay=0))
    _clients.append(client)
    return OutboxWorker(db, Deliverer(db, policy, wecom=client), limiter=RateLimiter(SHRUNK))


def _sent_to(api: FakeWeComAPI, user: str) -> int:
    return sum(1 for r in api.calls("message/send") if r.json and r.json["touser"] == user)


async def _waiting(db: Database) -> list[str | None]:
    async with db.uow() as s:
        return list(await s.scalars(select(OutboxMessage.last_error)
                                    .where(OutboxMessage.status == "pending")))


async def test_a_member_limit_holds_across_replicas(db: Database, second: Database,
                                                     policy: Policy, api: FakeWeComAPI) -> None:
    async with db.uow() as s:
        await add_employee(s, "P000", wecom="zhangsan")
    first, other = _worker(db, policy, api), _worker(second, policy, api)
    for i in range(3):
        await _reply(db, "zhangsan", f"第 {i} 条")
    await _drain(first)
    assert _sent_to(api, "zhangsan") == 3  # the member's whole allowance, by the first replica
    for i in range(3, 5):
        await _reply(db, "zhangsan", f"第 {i} 条")
    async with db.uow() as s:  # a push to the same member, under another recipient address
        await push(s, employee_id="P000", kind="points_granted", now=utcnow(),
                   payload={"amount": 5, "reason": "感谢"})
    await _reply(db, "lisi", "余额")
    await other.run_once()
    assert _sent_to(api, "zhangsan") == 3  # the other replica counted the first one's sends
    assert _sent_to(api, "lisi") == 1  # … and is not held back for anyone else
    assert len(await _waiting(db)) == 3  # the excess waits (rate limited), nothing dropped
    await _worker(db, policy, api).run_once()  # a restarted process: a fresh limiter
    assert _sent_to(api, "zhangsan") == 3


async def test_a_recipient_being_claimed_elsewhere_is_left_alone(
        pg_url: str, policy: Policy) -> None:
    """PostgreSQL, two replicas claiming at the same moment: while the first one's claim of a
    member's earliest rows is not committed (its lease is invisible), the second skips those
    locked rows — and must leave that member's later rows alone too, or they would go out
    beside the earlier ones (out of order, and past a limit neither has counted yet)."""
    one, two = Database(pg_url), Database(pg_url)
    try:
        await _reset_postgres(one)
        for i in range(3):
            await _reply(one, "zhangsan", f"第 {i} 条")
        await _reply(one, "lisi", "余额")
        lease = timedelta(minutes=2)
        async with one.uow() as first:
            mine = await claim(first, lane=Lane.REPLY, now=utcnow(), limit=2, lease=lease,
                               skip_locked=True)  # zhangsan's first two, not committed yet
            async with two.uow() as second:
                other = await claim(second, lane=Lane.REPLY, now=utcnow(), limit=10,
                                    lease=lease, skip_locked=True)
        assert [d.recipient.id for d in mine] == ["zhangsan", "zhangsan"]
        assert [d.recipient.id for d in other] == ["lisi"]  # not zhangsan's third
    finally:
        await one.dispose()
        await two.dispose()
