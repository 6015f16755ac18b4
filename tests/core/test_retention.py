"""Retention: old idempotency records and sent outbox rows go, in batches; nothing an open
approval, a retry or an operator still needs goes with them. Replay guards are taken once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from core.db import Database
from core.ledger.verify import verify
from core.models import IdempotencyKey, OutboxMessage, SeenRequest
from core.policy import Policy
from core.retention import ReplayGuard, admit, prune
from core.retention.prune import names_open_approval
from tests.cli_helpers import jifen
from tests.core.test_awards import decide, give, org

DAYS = 90


async def _keys(db: Database) -> set[str]:
    async with db.uow() as s:
        return set(await s.scalars(select(IdempotencyKey.key)))


async def _outbox(db: Database) -> dict[int, str]:
    async with db.uow() as s:
        return {m.id: m.status for m in await s.scalars(select(OutboxMessage))}


async def _mark_sent(db: Database, at: datetime) -> None:
    """What the outbox worker does on delivery, for every queued award or approval push."""
    async with db.uow() as s:
        await s.execute(update(OutboxMessage).where(OutboxMessage.status == "pending",
                                                    OutboxMessage.kind != "x")
                        .values(status="sent", sent_at=at))


async def test_prunes_old_records_but_keeps_open_approvals_failures_and_recent_rows(
        db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    old = now - timedelta(days=DAYS + 5)
    small = [await give(db, policy, old - timedelta(days=i), "E1", ["E2"], 5, key=f"small-{i}")
             for i in range(5)]
    pending = await give(db, policy, old, "E3", ["E2"], 60, key="needs-approval")
    [view] = pending.awards
    assert view.approval_id is not None and len(small) == 5
    await _mark_sent(db, old)  # award notices and the approval request to M1, long delivered
    async with db.uow() as s:  # a failed push waits for an operator, a pending one for a send
        s.add_all([OutboxMessage(recipient="employee:E1", kind="x", status=status,
                                 created_at=old, next_attempt_at=old)
                   for status in ("failed", "pending")])
    recent = await give(db, policy, now - timedelta(days=DAYS - 1), "E1", ["E3"], 5, key="recent")
    await _mark_sent(db, now - timedelta(days=1))
    before_out = await _outbox(db)

    result = await prune(db, now=now, days=DAYS, batch=2)  # tiny batches: many transactions

    assert await _keys(db) == {"give:needs-approval", f"give:{recent.batch}"}
    assert result.idempotency == 5
    after_out = await _outbox(db)
    async with db.uow() as s:
        kept_kinds = {m.kind for m in await s.scalars(select(OutboxMessage))}
    assert sorted(after_out.values()).count("failed") == 1
    assert sorted(after_out.values()).count("pending") == 1
    assert "approval_request" in kept_kinds  # the open approval's card push stays
    assert result.outbox == len(before_out) - len(after_out) > 0
    assert (await verify_ok(db))

    # once decided, the approval's records are ordinary old rows and go on the next run
    await decide(db, policy, now, view.approval_id, "M1")
    await _mark_sent(db, old)
    again = await prune(db, now=now, days=DAYS, batch=2)
    assert "give:needs-approval" not in await _keys(db)
    assert again.idempotency >= 1
    # left: the failed and the pending push, and the recent award's notice (sent yesterday)
    assert sorted((await _outbox(db)).values()) == ["failed", "pending", "sent"]


async def verify_ok(db: Database) -> bool:
    async with db.uow() as s:
        return await verify(s) == []


async def test_a_pruned_key_is_a_fresh_start_but_a_kept_one_still_answers(
        db: Database, policy: Policy, now: datetime) -> None:
    await org(db)
    first = await give(db, policy, now - timedelta(days=DAYS + 1), "E1", ["E2"], 5, key="k1")
    await prune(db, now=now, days=DAYS)
    assert await _keys(db) == set()
    # within the window, a redelivery of the same key returns the stored result unchanged
    kept = await give(db, policy, now, "E1", ["E2"], 5, key="k2")
    await prune(db, now=now, days=DAYS)
    assert await give(db, policy, now, "E1", ["E2"], 5, key="k2") == kept
    assert first.batch == "k1"


@pytest.mark.parametrize(("raw", "names"), [
    ('{"approval_id": 7}', True), ('{"awards": [{"approval_id": 7}]}', True),
    ('{"approval_id": "A7"}', True), ('{"cards": [{"buttons": [{"action": "ap:A7"}]}]}', True),
    ('{"approval_id": 8}', False), ('{"text": "A77"}', False), ('{"approval_id": null}', False),
    ("not json", True),
])
def test_names_open_approval(raw: str, names: bool) -> None:
    assert names_open_approval(raw, frozenset({7})) is names


async def test_a_replay_guard_is_taken_once_on_every_replica(db: Database, db_url: str,
                                                              now: datetime) -> None:
    other = Database(db_url)  # a second replica
    try:
        later = now + timedelta(hours=2)
        first, forged = ReplayGuard("k", later, "body-1"), ReplayGuard("k", later, "body-2")
        if db.is_sqlite:
            results = [await admit(db, first), await admit(other, forged)]
        else:
            results = list(await asyncio.gather(admit(db, first), admit(other, forged)))
        assert sorted(results) == [False, True]
        taken = first if results[0] else forged
        # the identical request again (its answer was lost) is admitted on every replica ...
        assert await admit(other, taken) is True
        assert await admit(db, taken) is True
        # ... and a request whose digest is unknown never is
        assert await admit(db, ReplayGuard("k", later)) is False
        assert await admit(db, ReplayGuard("k2", now - timedelta(seconds=1))) is True
        res = await prune(db, now=now, days=DAYS)
        assert res.seen == 1  # the expired one; "k" is still inside its window
        async with db.uow() as s:
            assert list(await s.execute(select(SeenRequest.key, SeenRequest.request))) == [
                ("k", taken.request)]
    finally:
        await other.dispose()


def test_jobs_run_retention_from_the_command_line(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the command itself is dialect-free; prune is tested on both above")
    res = jifen("jobs", "run", "retention", "--now", "2031-01-01T00:00:00", db_url=db_url)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("pruned 0 idempotency records, 0 sent outbox rows"), res.stdout
    assert "Traceback" not in res.stderr


async def test_prunes_old_processed_inbox_events_but_keeps_pending_ones(
        db: Database, now: datetime) -> None:
    from core import inbox
    from core.models import InboxEvent

    old, recent = now - timedelta(days=DAYS + 1), now - timedelta(days=1)
    for key, at, state in (("old-done", old, "done"), ("old-failed", old, "failed"),
                           ("old-pending", old, "pending"), ("new-done", recent, "done")):
        row_id = await inbox.accept(db, key, {}, now=at, lease_until=at)
        assert row_id is not None
        if state != "pending":
            await inbox.finish(db, row_id, state=state)
    result = await prune(db, now=now, days=DAYS, batch=1)
    assert result.inbox == 2
    async with db.uow() as s:
        assert set(await s.scalars(select(InboxEvent.key))) == {"old-pending", "new-done"}
