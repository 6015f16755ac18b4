"""报表 Reports: month picker, the monthly report (the same ``month_summary`` as chat 报表 and
``jifen report``) with charts, and its CSV."""

from __future__ import annotations

from aiohttp import web

from bot.web.admin.common import refused, render, script_json, staff
from bot.web.auth.sessions import user_of
from bot.web.base import now, policy_of, run
from core import errors
from core.reports.dashboard import last_months
from core.reports.service import MonthSummary, month_summary, parse_month, summary_csv
from core.timeutil import month_key


def _month(request: web.Request) -> str:
    wanted = request.query.get("month", "").strip()
    return parse_month(wanted) if wanted else month_key(now(), policy_of(request))


async def _summary(request: web.Request) -> tuple[str, MonthSummary] | web.StreamResponse:
    """The asked month and its summary, or the page refusing a malformed month."""
    policy = policy_of(request)
    try:
        month = _month(request)
    except errors.CoreError as exc:
        return refused(request, "/admin/reports", exc)
    return month, await run(request, lambda s: month_summary(
        s, month=month, now=now(), policy=policy, actor_id=user_of(request).me))


@staff
async def page(request: web.Request) -> web.StreamResponse:
    got = await _summary(request)
    if isinstance(got, web.StreamResponse):
        return got
    month, summary = got
    chart = script_json({"items": [i.name for i in summary.top_items],
                         "qty": [i.qty for i in summary.top_items],
                         "depts": [d.department or "-" for d in summary.by_department],
                         "issued": [d.issued for d in summary.by_department],
                         "redeemed": [d.redeemed for d in summary.by_department]})
    return render(request, "reports.html", {"s": summary, "month": month, "chart": chart,
                                            "months": last_months(now(), policy_of(request), 24)[::-1]})


@staff
async def export(request: web.Request) -> web.StreamResponse:
    got = await _summary(request)
    if isinstance(got, web.StreamResponse):
        return got
    month, summary = got
    return web.Response(body=summary_csv(summary).encode(), content_type="text/csv",
                        charset="utf-8", headers={
                            "Content-Disposition": f'attachment; filename="report-{month}.csv"'})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/reports", page)
    app.router.add_get("/admin/reports.csv", export)
