"""Approve / reject buttons carry the chain step their card was shown for (SPEC section 3).

An admin may decide any step, so before steps were pinned a doubled or stale click on a
two-step (manager → HR) card approved both steps. Through the real dispatcher and router.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from bot.handlers import build_router
from bot.runtime.dispatcher import Dispatcher
from bot.runtime.events import playground_event
from cards import actions
from cards.model import Card
from config.settings import Settings
from core.approvals import service as approvals
from core.db import Database
from core.policy import Policy
from tests.core.test_awards import balance_of, give, org


def _dispatcher(db: Database, policy: Policy, now: datetime) -> Dispatcher:
    settings = Settings(database_url="sqlite+aiosqlite://", _env_file=None)  # type: ignore[call-arg]
    return Dispatcher(db=db, policy=policy, settings=settings, router=build_router(),
                      clock=lambda: now)


async def _click(dispatcher: Dispatcher, who: str, action: str) -> list[Card]:
    return await dispatcher.feed(playground_event(who, None, action=action,
                                                  message_id=uuid.uuid4().hex))


async def _approve_button(dispatcher: Dispatcher, who: str) -> str:
    cards = await dispatcher.feed(playground_event(who, "审批", message_id=uuid.uuid4().hex))
    [button] = [b for c in cards for b in c.buttons
                if isinstance(actions.unpack(b.action), actions.ApproveAction)]
    return button.action


def test_decision_payloads_round_trip_with_and_without_step() -> None:
    assert actions.ApproveAction("A12", 1).pack() == "ap:A12:1"
    assert actions.unpack("rj:A12:0") == actions.RejectAction("A12", 0)
    assert actions.unpack("ap:A12") == actions.ApproveAction("A12", None)  # cards sent earlier


async def test_admin_double_click_on_two_step_card_decides_only_the_shown_step(
    db: Database, policy: Policy, now: datetime,
) -> None:
    await org(db)
    award = policy.award.model_copy(update={"approval_threshold": 10, "hr_threshold": 20})
    policy = policy.model_copy(update={"award": award})
    amount = 30  # above hr_threshold: award_large, the manager then HR
    [view] = (await give(db, policy, now, "E1", ["E2"], amount)).awards
    dispatcher = _dispatcher(db, policy, now)
    action = await _approve_button(dispatcher, "ADM")
    assert action.endswith(":0")

    await _click(dispatcher, "ADM", action)
    again = await _click(dispatcher, "ADM", action)  # the same card, clicked a second time

    assert "已" in again[0].title + "".join(again[0].lines)  # already decided, by 陈静
    async with db.uow() as s:
        req = await approvals.get_request(s, view.approval_id or 0)
        assert (req.status, req.current_step) == ("pending", 1)  # the HR step still waits
    assert await balance_of(db, "E2", now) == 0
    # the HR step's own card (shown now, pinned to step 1) still decides it
    action = await _approve_button(dispatcher, "ADM")
    assert action.endswith(":1")
    await _click(dispatcher, "ADM", action)
    assert await balance_of(db, "E2", now) == amount
