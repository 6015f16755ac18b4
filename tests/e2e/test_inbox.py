"""The inbox with a real database that breaks: an event is acknowledged only once stored, an
infrastructure error while processing is retried from the inbox, and the last failure sends an
apology counted in /metrics. The "outage" is a real database error: the table the step needs
is renamed away, then back (ALTER TABLE … RENAME works on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, select, text

from bot.app import EVENT_INBOX_KEY
from bot.inbox import InboxProcessor
from bot.outbox.metrics import collect
from core import ledger
from core.ledger.verify import verify
from core.models import IdempotencyKey, InboxEvent, OutboxMessage, utcnow
from tests.e2e.conftest import WeComBot

AWARD = "赞 @刘洋 10分 谢谢你的帮助"


def _events(bot: WeComBot) -> InboxProcessor:
    assert bot.client.app is not None
    events = bot.client.app[EVENT_INBOX_KEY]
    events.t = replace(events.t, retry_first_s=0.0)  # a failed event is due again at once
    return events


async def _rename(bot: WeComBot, old: str, new: str) -> None:
    async with bot.db.uow() as s:
        await s.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


async def _balance(bot: WeComBot, employee_id: str) -> int:
    async with bot.db.uow() as s:
        assert await verify(s) == []
        return (await ledger.balance(s, employee_id=employee_id, now=utcnow())).balance


async def _states(bot: WeComBot) -> dict[str, int]:
    async with bot.db.uow() as s:
        rows = await s.execute(select(InboxEvent.state, func.count()).group_by(InboxEvent.state))
        return {state: int(n) for state, n in rows.tuples()}


async def _metric(bot: WeComBot, state: str) -> str:
    line = f'jifen_inbox_events{{state="{state}"}} '
    (found,) = [x for x in await collect(bot.db) if x.startswith(line)]
    return found.removeprefix(line)


async def test_event_not_stored_is_not_acknowledged_and_the_retry_counts_once(
        wecom: WeComBot) -> None:
    before = await _balance(wecom, "E006")
    await _rename(wecom, "inbox", "inbox_away")
    try:
        assert await wecom.say("wangwei", AWARD, msg_id="outage-1") == 500  # WeCom redelivers
    finally:
        await _rename(wecom, "inbox_away", "inbox")
    assert await _balance(wecom, "E006") == before
    for _ in range(2):  # WeCom's redelivery, then one more
        assert await wecom.say("wangwei", AWARD, msg_id="outage-1") == 200
    await wecom.flush()
    assert await _balance(wecom, "E006") == before + 10
    assert len(wecom.sent_to("wangwei")) == 1


async def test_processing_error_stays_in_the_inbox_and_is_retried(wecom: WeComBot) -> None:
    events = _events(wecom)
    before = await _balance(wecom, "E006")
    await _rename(wecom, "employees", "employees_away")
    try:
        assert await wecom.say("wangwei", AWARD, msg_id="retry-1") == 200  # stored: acknowledged
    finally:
        await _rename(wecom, "employees_away", "employees")
    assert await _states(wecom) == {"pending": 1}
    assert await events.resume_due() == 1
    await events.idle()
    await wecom.flush()
    assert await _states(wecom) == {"done": 1}
    assert await _balance(wecom, "E006") == before + 10
    assert "10" in wecom.texts_to("wangwei")


async def test_last_failure_sends_an_apology_and_is_counted(wecom: WeComBot) -> None:
    events = _events(wecom)
    events.t = replace(events.t, max_attempts=2)
    before = await _balance(wecom, "E006")
    assert await _metric(wecom, "failed") == "0"
    await _rename(wecom, "ledger_transactions", "ledger_away")
    try:
        assert await wecom.say("wangwei", AWARD, msg_id="lost-1") == 200
        assert await events.resume_due() == 1
        await events.idle()
    finally:
        await _rename(wecom, "ledger_away", "ledger_transactions")
    assert await _states(wecom) == {"failed": 1}
    assert (await _metric(wecom, "failed"), await _metric(wecom, "pending")) == ("1", "0")
    await wecom.flush()
    assert "系统繁忙" in wecom.texts_to("wangwei")
    assert await events.resume_due() == 0  # given up for good: nothing runs it again
    assert await _balance(wecom, "E006") == before


def _count_commits(bot: WeComBot) -> list[int]:
    commits = [0]

    @sa_event.listens_for(bot.db.engine.sync_engine, "commit")
    def _commit(_conn: object) -> None:
        commits[0] += 1

    return commits


async def test_concurrent_callbacks_share_commits_and_each_is_answered_once(wecom: WeComBot) -> None:
    """Group commit: accepts (and answers) arriving together are stored in shared transactions,
    yet each MsgId — even sent three times at once — is stored, answered and sent once."""
    users = ["chenjing", "linfang", "zhaolei", "wangwei", "liuyang", "sunyue", "zhoujie", "wumin"]
    commits = _count_commits(wecom)
    posts = [wecom.say(u, "积分", msg_id=f"burst-{u}") for u in users for _ in range(3)]
    assert await asyncio.gather(*posts) == [200] * len(posts)
    await _events(wecom).idle()
    assert commits[0] < len(posts)  # an accept per POST and an answer per event: shared
    assert await _states(wecom) == {"done": len(users)}
    await wecom.flush()
    for u in users:
        assert len(wecom.sent_to(u)) == 1, u
    async with wecom.db.uow() as s:  # each event's row is its record: one, done
        keys = (await s.scalars(select(InboxEvent.key).where(InboxEvent.key.like("evt:wecom:burst-%"),
                                                             InboxEvent.state == "done"))).all()
    assert sorted(keys) == sorted(f"evt:wecom:burst-{u}" for u in users)


async def test_an_answer_that_cannot_be_written_fails_alone(wecom: WeComBot) -> None:
    """One answer in a shared batch cannot be stored (its reply's dedupe key is taken): the
    others of the batch are still answered; it stays pending and is retried."""
    users = ["chenjing", "linfang", "zhaolei", "liuyang", "sunyue", "zhoujie"]
    async with wecom.db.uow() as s:  # a row already holding the reply key of one event
        s.add(OutboxMessage(recipient="x", kind="reply", dedupe_key="evt:wecom:poison-zhaolei:r0",
                            lane=0, payload="{}", status="sent", created_at=utcnow(),
                            next_attempt_at=utcnow()))
    posts = [wecom.say(u, "积分", msg_id=f"poison-{u}") for u in users]
    assert await asyncio.gather(*posts) == [200] * len(users)
    await _events(wecom).idle()
    assert await _states(wecom) == {"done": len(users) - 1, "pending": 1}
    await wecom.flush()
    assert [u for u in users if len(wecom.sent_to(u)) != 1] == ["zhaolei"]


async def _replies(bot: WeComBot, msg_id: str) -> int:
    async with bot.db.uow() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.dedupe_key.like(f"evt:wecom:{msg_id}:%"))) or 0)


async def test_a_read_only_command_is_answered_before_it_is_stored_in_one_write(
        wecom: WeComBot) -> None:
    """``积分`` is answered first: when the 200 arrives its row is already done and its reply
    queued, committed together; a redelivery sends nothing again."""
    events = _events(wecom)
    commits = _count_commits(wecom)
    assert await wecom.say("wangwei", "积分", msg_id="early-1") == 200
    assert commits[0] == 1  # the row and the reply: one transaction
    assert events.busy == 0  # nothing left to process after the acknowledgement
    assert await _states(wecom) == {"done": 1}
    assert await _replies(wecom, "early-1") == 1
    assert await wecom.say("wangwei", "积分", msg_id="early-1") == 200  # redelivered
    assert await _replies(wecom, "early-1") == 1
    await wecom.flush()
    assert len(wecom.sent_to("wangwei")) == 1


async def test_a_read_only_command_whose_read_fails_is_stored_and_retried(
        wecom: WeComBot) -> None:
    events = _events(wecom)
    await _rename(wecom, "employees", "employees_away")
    try:
        assert await wecom.say("wangwei", "积分", msg_id="early-2") == 200  # stored instead
        await events.idle()
    finally:
        await _rename(wecom, "employees_away", "employees")
    assert await _states(wecom) == {"pending": 1}
    assert await events.resume_due() == 1
    await events.idle()
    assert await _states(wecom) == {"done": 1}
    await wecom.flush()
    assert len(wecom.sent_to("wangwei")) == 1


async def test_an_award_is_processed_in_the_transaction_that_stores_it(wecom: WeComBot) -> None:
    """``赞`` (a quick write) is stored as done and processed in one transaction before the 200:
    no processing is left for after the acknowledgement, and a redelivery changes nothing."""
    events = _events(wecom)
    before = await _balance(wecom, "E006")
    commits = _count_commits(wecom)
    assert await wecom.say("wangwei", AWARD, msg_id="arrival-1") == 200
    assert commits[0] == 1  # the row, the award, the ledger and the replies: one transaction
    assert events.busy == 0
    assert await _states(wecom) == {"done": 1}
    assert await _balance(wecom, "E006") == before + 10
    commits[0] = 0
    assert await wecom.say("wangwei", AWARD, msg_id="arrival-1") == 200  # redelivered
    assert commits[0] == 1 and events.busy == 0  # its row's insert, which found the row
    assert await _balance(wecom, "E006") == before + 10
    async with wecom.db.uow() as s:  # the event's row is the award's only record
        assert await s.scalar(select(func.count()).select_from(IdempotencyKey)
                              .where(IdempotencyKey.key.like("give:evt:%"))) == 0
    await wecom.flush()
    assert len(wecom.sent_to("wangwei")) == 1


async def test_a_refused_award_at_arrival_is_answered_once_and_changes_nothing(
        wecom: WeComBot) -> None:
    """Its transaction is rolled back, and the event is stored with the refusal as its answer."""
    before = await _balance(wecom, "E006")
    too_much = "赞 @刘洋 100000 谢谢你的帮助"
    for _ in range(2):  # and its redelivery
        assert await wecom.say("wangwei", too_much, msg_id="arrival-2") == 200
    assert await _states(wecom) == {"done": 1}
    assert await _balance(wecom, "E006") == before
    assert await _replies(wecom, "arrival-2") == 1
    await wecom.flush()
    [sent] = wecom.sent_to("wangwei")
    assert "本月点赞额度不足" in sent["markdown"]["content"]


async def _until(condition: Callable[[], bool]) -> None:
    """Let the server's tasks run until ``condition`` holds (it changes only as they run)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the server never got there")


def _count_savepoints(bot: WeComBot) -> list[int]:
    savepoints = [0]

    @sa_event.listens_for(bot.db.engine.sync_engine, "savepoint")
    def _savepoint(_conn: object, _name: object) -> None:
        savepoints[0] += 1

    return savepoints


async def test_quick_writes_arriving_together_share_a_commit_and_each_stands_alone(
        wecom: WeComBot) -> None:
    """Awards and answered reads arriving while one is committing are stored in one
    transaction, each award in a savepoint of its own: a refused award and one that cannot be
    written are rolled back alone (then answered with the refusal; left pending to retry), the
    rest commit together; a redelivery sent with its original counts once."""
    events = _events(wecom)
    givers = ["chenjing", "linfang", "zhaolei", "wangwei", "sunyue", "zhoujie", "wumin"]
    readers = ["alice", "wangwei2"]
    before = await _balance(wecom, "E006")
    async with wecom.db.uow() as s:  # sunyue's reply cannot be queued: its dedupe key is taken
        s.add(OutboxMessage(recipient="x", kind="reply", dedupe_key="evt:wecom:together-sunyue:r0",
                            lane=0, payload="{}", status="sent", created_at=utcnow(),
                            next_attempt_at=utcnow()))

    def text_of(user: str) -> str:
        if user in readers:
            return "积分"
        return "赞 @刘洋 100000 谢谢你的帮助" if user == "zhaolei" else AWARD

    async with wecom.db.engine.connect() as blocker:
        # another connection's uncommitted row of the first event's key holds its store (on
        # SQLite the write lock, on PostgreSQL the key), so every other arrival queues behind it
        await blocker.execute(insert(InboxEvent).values(
            key="evt:wecom:together-first", payload="{}", state="done", attempts=0,
            lease_until=utcnow(), created_at=utcnow()))
        first = asyncio.ensure_future(wecom.say("liuyang", "赞 @王伟 1 谢谢", msg_id="together-first"))
        await _until(lambda: events.storing == 1)
        posts = [asyncio.ensure_future(wecom.say(u, text_of(u), msg_id=f"together-{u}"))
                 for u in givers + readers for _ in range(2)]
        await _until(lambda: events.waiting == len(posts))
        commits, savepoints = _count_commits(wecom), _count_savepoints(wecom)
        await blocker.rollback()
    assert await asyncio.gather(first, *posts) == [200] * (1 + len(posts))
    await events.idle()
    # every award in the second batch, each in a savepoint; one commit for it and the first,
    # one for the refusal's answer, and the stored path's few for sunyue's
    assert savepoints[0] == 2 * len(givers) and commits[0] <= 6
    assert await _states(wecom) == {"done": len(givers) + len(readers), "pending": 1}
    assert await _balance(wecom, "E006") == before + 10 * (len(givers) - 2)  # verify() too
    await wecom.flush()
    assert [u for u in givers + readers if len(wecom.sent_to(u)) != 1] == ["sunyue"]
    assert "本月点赞额度不足" in wecom.texts_to("zhaolei")
