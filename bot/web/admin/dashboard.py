"""概览 Dashboard: flows by month (chart), participation, allowance, values, departments,
waiting orders and approvals, points expiring soon. Numbers come from the report's definitions."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.admin.common import age_text, render, script_json, staff
from bot.web.auth.sessions import user_of
from bot.web.base import now, policy_of, run
from core.access import authorize_hr
from core.policy import Policy
from core.reports import dashboard as dash
from core.reports.rollup import month_figures
from core.reports.service import summary_of
from core.timeutil import month_key


async def gather(s: AsyncSession, policy: Policy, actor_id: str) -> dict[str, Any]:
    """Everything the page shows, in one read: the twelve months' ledger figures come from the
    report's rollup in one pass, this month's summary is built from the same figures."""
    await authorize_hr(s, actor_id, "report")
    at = now()
    month = month_key(at, policy)
    months = dash.last_months(at, policy)
    figs = await month_figures(s, months, policy)
    return {
        "month": month,
        "summary": await summary_of(s, month=month, figs=figs[month], now=at, policy=policy),
        "flows": dash.month_flows(figs, months),
        "departments": dash.departments_over(figs),
        "participation": await dash.participation(s, month=month, policy=policy),
        "allowance_used": await dash.allowance_used(s, month=month),
        "values": await dash.top_values(s, month=month, policy=policy),
        "orders_waiting": await dash.orders_waiting(s),
        "approvals": await dash.approvals_waiting(s, limit=20),
        "now": at,
    }


def chart_json(flows: list[dash.MonthFlow]) -> str:
    return script_json({"months": [f.month for f in flows],
                       "issued": [f.issued for f in flows], "redeemed": [f.redeemed for f in flows],
                       "expired": [f.expired for f in flows], "deducted": [f.deducted for f in flows]})


def pct(n: int, total: int) -> int:
    return round(100 * n / total) if total else 0


@staff
async def page(request: web.Request) -> web.StreamResponse:
    policy = policy_of(request)
    data = await run(request, lambda s: gather(s, policy, user_of(request).me))
    data["chart"] = chart_json(data["flows"])
    depts = data["departments"]
    data["depts"] = script_json({"names": [d.department or "-" for d in depts],
                                "issued": [d.issued for d in depts],
                                "redeemed": [d.redeemed for d in depts]})
    data["pct"] = pct
    data["age"] = age_text(request)
    return render(request, "dashboard.html", data)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin", page)
