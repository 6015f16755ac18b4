"""Reports, leaderboard, broadcasts, the audit log and the ledger check."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.api.errors import ApiError
from bot.web.api.framework import Ctx, Reply, decode_cursor
from bot.web.api.routes import TABLE
from bot.web.api.routes.people import page
from bot.web.api.schemas_shop import (
    AuditOut,
    AuditPage,
    AuditQuery,
    BroadcastIn,
    BroadcastOut,
    LeaderboardQuery,
    LeaderOut,
    LeaderPage,
    MonthlyReportOut,
    MonthQuery,
    VerifyOut,
)
from core.audit.service import AuditFilter, entries
from core.hr.broadcast import broadcast
from core.ledger.verify import verify
from core.reports.service import leaderboard, month_summary, summary_csv
from core.timeutil import month_key, start_of_local_day

T = TABLE
MAX_BOARD = 500


async def _summary(ctx: Ctx[MonthQuery, Any], s: AsyncSession) -> Any:
    month = ctx.query.month or month_key(ctx.now, ctx.policy)
    return await month_summary(s, month=month, now=ctx.now, policy=ctx.policy,
                               actor_id=ctx.actor)


@T.add("GET", "/reports/monthly", summary="The monthly report", query=MonthQuery,
       response=MonthlyReportOut)
async def monthly(ctx: Ctx[MonthQuery, Any], s: AsyncSession) -> Reply:
    return Reply(MonthlyReportOut(**asdict(await _summary(ctx, s))).model_dump())


@T.add("GET", "/reports/monthly.csv", summary="The monthly report as CSV", query=MonthQuery,
       response=None, produces="text/csv")
async def monthly_csv(ctx: Ctx[MonthQuery, Any], s: AsyncSession) -> Reply:
    return Reply(summary_csv(await _summary(ctx, s)), content_type="text/csv")


@T.add("GET", "/leaderboard", summary="Points received through awards", query=LeaderboardQuery,
       response=LeaderPage)
async def board(ctx: Ctx[LeaderboardQuery, Any], s: AsyncSession) -> Reply:
    q = ctx.query
    offset = int(decode_cursor(q.cursor)[0]) if q.cursor else 0
    rows = await leaderboard(s, period=q.period, department=q.department, now=ctx.now,
                             policy=ctx.policy, limit=min(offset + q.limit, MAX_BOARD))
    items = [LeaderOut(**asdict(r)).model_dump() for r in rows[offset:]]
    more = len(items) == q.limit and offset + q.limit < MAX_BOARD
    return Reply({"items": items, "next_cursor": page(items, q.limit, offset + q.limit)[
        "next_cursor"] if more else None})


@T.add("POST", "/broadcasts", summary="Send a message to broadcast targets, now or later",
       body=BroadcastIn, response=BroadcastOut, status=202, errors=(400,))
async def post_broadcast(ctx: Ctx[Any, BroadcastIn], s: AsyncSession) -> Reply:
    b = ctx.body
    key = f"api:{ctx.idempotency_key}" if ctx.idempotency_key else f"api:{uuid.uuid4().hex}"
    r = await broadcast(s, actor_id=ctx.actor, text=b.text, target=b.target, key=key,
                        now=ctx.now, policy=ctx.policy, at=b.at)
    return Reply(BroadcastOut(targets=r.targets, at=r.at, duplicate=r.duplicate)
                 .model_dump(mode="json"), status=202)


def _since(ctx: Ctx[AuditQuery, Any]) -> datetime | None:
    value = ctx.query.since
    if isinstance(value, datetime) or value is None:
        return value
    assert isinstance(value, date)
    return start_of_local_day(value, ctx.policy)


@T.add("GET", "/audit", summary="The audit log, oldest first", query=AuditQuery,
       response=AuditPage)
async def audit(ctx: Ctx[AuditQuery, Any], s: AsyncSession) -> Reply:
    q = ctx.query
    after = decode_cursor(q.cursor)[0] if q.cursor else 0
    if not isinstance(after, int):
        raise ApiError(422, "invalid_cursor", "cursor is not one this API returned")
    where = AuditFilter(since=_since(ctx), actor=q.actor, action=q.action, subject=q.subject,
                        after_id=after)
    rows = await entries(s, where=where, limit=q.limit)
    items = [AuditOut(**asdict(r)).model_dump(mode="json") for r in rows]
    return Reply(page(items, q.limit, rows[-1].id if rows else None))


@T.add("GET", "/ledger/verify", summary="Check every ledger invariant", response=VerifyOut)
async def ledger_verify(ctx: Ctx[Any, Any], s: AsyncSession) -> Reply:
    problems = await verify(s)
    return Reply(VerifyOut(ok=not problems, violations=problems).model_dump())
