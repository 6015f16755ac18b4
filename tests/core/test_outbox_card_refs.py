"""Approval card updates are queued with the decision itself, from the delivered cards' handles."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from core.approvals import service as approvals
from core.db import Database
from core.models import OutboxMessage
from core.outbox import Lane, Recipient, card_refs
from core.policy import Policy
from tests.core.test_awards import give, org


async def _request_with_two_copies(db: Database, policy: Policy, now: datetime) -> str:
    [view] = (await give(db, policy, now, "E1", ["E2"], 60)).awards
    assert view.approval_id is not None
    ref = card_refs.approval_ref(f"A{view.approval_id}")
    async with db.uow() as s:
        await card_refs.remember(s, [
            card_refs.DeliveredCard(ref, "wecom", "zhaolei", "task-1", "rc-1"),
            card_refs.DeliveredCard(ref, "dingtalk", "admin01", "track-2", "track-2"),
            card_refs.DeliveredCard("approval:A999", "wecom", "zhaolei", "task-9", "rc-9"),
        ], now=now)
    return f"A{view.approval_id}"


async def _updates(db: Database) -> list[OutboxMessage]:
    async with db.uow() as s:
        return list(await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "card_update")
                                    .order_by(OutboxMessage.id)))


async def test_decision_queues_an_update_of_every_delivered_copy(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    public_id = await _request_with_two_copies(db, policy, now)
    async with db.uow() as s:
        await approvals.decide(s, approval_id=public_id, actor_id="M1", approve=True, comment=None, now=now,
                               policy=policy)
        assert len(await _pending_in(s)) == 2  # in the decision's own transaction
    rows = await _updates(db)
    assert [Recipient.parse(r.recipient) for r in rows] == [
        Recipient.card("wecom", "zhaolei"), Recipient.card("dingtalk", "admin01")]
    assert all(r.lane == Lane.REPLY for r in rows)
    payload = json.loads(rows[0].payload)
    assert payload["render"] == "approval_decided" and payload["response_code"] == "rc-1"
    assert payload["data"]["status"] == "approved"


async def test_the_clicked_copy_is_updated_by_the_click_only(
    db: Database, policy: Policy, now: datetime
) -> None:
    await org(db)
    public_id = await _request_with_two_copies(db, policy, now)
    async with db.uow() as s:
        await approvals.decide(s, approval_id=public_id, actor_id="M1", approve=True, comment=None, now=now,
                               policy=policy)
        await card_refs.supersede(s, platform="wecom", task_id="task-1")
    assert [r.recipient for r in await _updates(db)] == ["dingtalk-update:admin01"]


async def _pending_in(s):  # type: ignore[no-untyped-def]
    return list(await s.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == "card_update")))


def test_recipient_addresses_round_trip() -> None:
    for r in (Recipient.employee("E1"), Recipient.target("全员群"), Recipient.chat("wecom", "u:1"),
              Recipient.card("dingtalk", "staff1"), Recipient.chat("playground", "E2")):
        assert Recipient.parse(r.address) == r
    assert Recipient.employee("E1").lane == Lane.PUSH and Recipient.chat("wecom", "x").lane == 0
