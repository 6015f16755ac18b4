"""报表 Reports: month picker, the monthly report (the same ``month_summary`` as chat 报表 and
``jifen report``) with charts, and its CSV."""

from __future__ import annotations

from aiohttp import web

from bot.web.admin.common import refused, render, script_json, staff
from bot.web.base import now, policy_of, run
from core import errors
from core.reports.dashboard import last_months
from core.reports.service import month_summary, parse_month, summary_csv
from core.timeutil import month_key


def _month(request: web.Request) -> str:
    wanted = request.query.get("month", "").strip()
    return parse_month(wanted) if wanted else month_key(now(), policy_of(request))


@staff
async def page(request: web.Request) -> web.StreamResponse:
    policy = policy_of(request)
    try:
        month = _month(request)
    except errors.CoreError as exc:
        return refused(request, "/admin/reports", exc)
    summary = await run(request, lambda s: month_summary(s, month=month, now=now(), policy=policy))
    chart = script_json({"items": [i.name for i in summary.top_items],
                         "qty": [i.qty for i in summary.top_items],
                         "depts": [d.department or "-" for d in summary.by_department],
                         "issued": [d.issued for d in summary.by_department],
                         "redeemed": [d.redeemed for d in summary.by_department]})
    return render(request, "reports.html", {"s": summary, "month": month, "chart": chart,
                                            "months": last_months(now(), policy, 24)[::-1]})


@staff
async def export(request: web.Request) -> web.StreamResponse:
    policy = policy_of(request)
    try:
        month = _month(request)
    except errors.CoreError as exc:
        return refused(request, "/admin/reports", exc)
    summary = await run(request, lambda s: month_summary(s, month=month, now=now(), policy=policy))
    return web.Response(body=summary_csv(summary).encode(), content_type="text/csv",
                        charset="utf-8", headers={
                            "Content-Disposition": f'attachment; filename="report-{month}.csv"'})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/reports", page)
    app.router.add_get("/admin/reports.csv", export)
