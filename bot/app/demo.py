"""A demo organisation (10 people, two of them named 王伟), a catalog and some history, and the
playground's broadcast target (演示群) so 广播 can be tried without a platform."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

import config
from config.catalog_file import parse_catalog
from config.settings import Settings
from core.awards.service import give
from core.catalog.importer import import_items
from core.db import Database
from core.directory import service as directory
from core.directory.importer import import_employees, parse_directory_csv
from core.hr.service import grant
from core.orders.service import confirm, start_redemption
from core.policy import BroadcastTarget, Policy
from core.timeutil import month_bounds, month_key

DEMO_DIR = Path(config.__file__).resolve().parent / "demo"
WELCOME = 500
PLAYGROUND_TARGET = BroadcastTarget(name="演示群", platform="playground", kind="group")


def with_playground_target(policy: Policy, settings: Settings) -> Policy:
    """With the playground as the only platform, 广播 goes to the playground's 演示群, which
    every playground user sees; a policy that already names targets is left as it is."""
    only_playground = settings.playground_enabled and not (
        settings.wecom_enabled or settings.dingtalk_enabled)
    if not only_playground or policy.broadcast.targets:
        return policy
    broadcast = policy.broadcast.model_copy(update={"targets": [PLAYGROUND_TARGET]})
    return policy.model_copy(update={"broadcast": broadcast})


class DemoRefused(Exception):
    """The database already has employees: the demo loads only into an empty one."""


async def is_empty(db: Database) -> bool:
    async with db.uow() as s:
        return await directory.count(s) == 0


async def _org(s: AsyncSession, policy: Policy, now: datetime) -> None:
    rows = parse_directory_csv((DEMO_DIR / "directory.csv").read_text(encoding="utf-8"))
    await import_employees(s, rows=rows, now=now, actor_id="demo")
    items = parse_catalog((DEMO_DIR / "catalog.yaml").read_text(encoding="utf-8"), fmt="yaml")
    await import_items(s, items=items, now=now, policy=policy, actor_id="demo")


def _this_month(now: datetime, days_ago: int, policy: Policy) -> datetime:
    """``days_ago`` before ``now`` but not before this local month began, so 排行 (this month)
    shows the demo's awards even on the first day of a month. (The award that waits for
    approval keeps its day before: it is not on a board, and a reminder is due for it.)"""
    month_start = month_bounds(month_key(now, policy), policy)[0]
    return max(now - timedelta(days=days_ago), month_start)


async def _history(s: AsyncSession, policy: Policy, now: datetime) -> None:
    ids = await directory.all_ids(s)
    for emp in ids:
        await grant(s, actor_id="cli", employee_id=emp, amount=WELCOME, reason="欢迎使用积分商城",
                    key=f"demo:welcome:{emp}", now=now - timedelta(days=20), policy=policy)
    await give(s, giver_id="E003", recipient_ids=["E004", "E006"], amount=20,
               reason="上线支持辛苦了 #团队合作", key="demo:award:1",
               now=_this_month(now, 3, policy), policy=policy)
    await give(s, giver_id="E007", recipient_ids=["E008"], amount=30, reason="发布会筹备很出色 #追求卓越",
               key="demo:award:2", now=_this_month(now, 2, policy), policy=policy)
    await give(s, giver_id="E004", recipient_ids=["E006"], amount=60, reason="帮忙排查线上故障",
               key="demo:award:3", now=now - timedelta(days=1), policy=policy)  # waits for 赵磊
    pending = await start_redemption(s, employee_id="E006", sku="CUP01", qty=1, now=now, policy=policy)
    await confirm(s, employee_id="E006", code=pending.code, now=now, policy=policy)


async def load_demo(db: Database, policy: Policy, *, now: datetime) -> str:
    """Load the demo into an empty database; refuses (DemoRefused) if anyone is enrolled already."""
    if not await is_empty(db):
        raise DemoRefused("the database already has employees; the demo loads only into an empty one")

    async def _all(s: AsyncSession) -> None:
        await _org(s, policy, now)
        await _history(s, policy, now)

    await db.run(_all)
    return ("demo loaded: 10 employees (E001 admin 陈静, E002 HR 林芳, managers E003 赵磊 and "
            "E007 孙悦), 7 catalog items, 500 welcome points each, a few awards and an order")
