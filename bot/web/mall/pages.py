"""我的 (points, allowance, lots expiring soonest, recent entries), 明细 and 排行."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.base import now, policy_of, run
from bot.web.mall.common import mall, me, render
from core import ledger
from core.awards.service import allowance_status
from core.directory import service as directory
from core.ledger.service import LotLine, open_lots
from core.reports.service import leaderboard

PERIODS = ("month", "quarter", "year")
LOTS_SHOWN = 3


@mall
async def home(request: web.Request) -> web.StreamResponse:
    employee_id, policy, at = me(request), policy_of(request), now()

    async def read(s: AsyncSession) -> dict[str, object]:
        bal = await ledger.balance(s, employee_id=employee_id, now=at)
        allowance = await allowance_status(s, giver_id=employee_id, now=at, policy=policy)
        lots = await open_lots(s, employee_id=employee_id, now=at)
        recent = await ledger.history(s, employee_id=employee_id, limit=5)
        return {"balance": bal.balance, "allowance": allowance.left,
                "lots": _by_day(lots, policy.timezone)[:LOTS_SHOWN], "recent": recent}

    return render(request, "home.html", await run(request, read) | {"tab": "home"})


def _by_day(lots: list[LotLine], timezone: str) -> list[tuple[str, int]]:
    """Points left per local expiry day, soonest first (lots of one day read as one line)."""
    zone, days = ZoneInfo(timezone), dict[str, int]()
    for lot in lots:
        day = lot.expires_at.astimezone(zone).strftime("%Y-%m-%d")
        days[day] = days.get(day, 0) + lot.remaining
    return sorted(days.items())


@mall
async def history(request: web.Request) -> web.StreamResponse:
    employee_id = me(request)
    lines = await run(request, lambda s: ledger.history(s, employee_id=employee_id, limit=100))
    return render(request, "history.html", {"lines": lines, "tab": "home"})


@mall
async def board(request: web.Request) -> web.StreamResponse:
    """排行 as in chat: by period, and (like ``排行 [部门]``) for one department of active
    employees; a department nobody is in any more shows the whole company."""
    period = request.query.get("period", "month")
    period = period if period in PERIODS else "month"
    wanted = request.query.get("dept", "").strip()
    policy, at = policy_of(request), now()

    async def read(s: AsyncSession) -> dict[str, object]:
        departments = await directory.departments(s)
        dept = wanted if wanted in departments else ""
        rows = await leaderboard(s, period=period, department=dept or None, now=at, policy=policy)
        return {"rows": rows, "departments": departments, "dept": dept}

    return render(request, "board.html", await run(request, read) | {
        "period": period, "periods": PERIODS, "tab": "board"})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/m", home)
    app.router.add_get("/m/", home)
    app.router.add_get("/m/history", history)
    app.router.add_get("/m/leaderboard", board)
