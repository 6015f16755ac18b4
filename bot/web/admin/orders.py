"""订单 Orders: the order desk. Every order that needs HR, filter by state and item, fulfil or
cancel with a note, one or many at once (each order its own unit of work), CSV export."""

from __future__ import annotations

import csv
import io

from aiohttp import web

from bot.web.admin.common import back, lang, render, see_other, staff
from bot.web.auth.sessions import user_of
from bot.web.base import core_error_text, now, policy_of, run
from cards.texts import t
from core import errors
from core.orders import service as orders
from core.orders.desk import STATES, desk


def _filters(request: web.Request) -> tuple[str | None, str | None]:
    state = request.query.get("state") or None
    return (state if state in STATES else None), (request.query.get("sku") or None)


@staff
async def page(request: web.Request) -> web.StreamResponse:
    state, sku = _filters(request)
    rows = await run(request, lambda s: desk(s, state=state, sku=sku))
    return render(request, "orders.html", {"rows": rows, "states": STATES, "state": state or "",
                                           "sku": sku or "", "query": request.query_string})


async def _act(request: web.Request, action: str, order_no: str, note: str | None) -> None:
    me, policy = user_of(request).me, policy_of(request)
    if action == "fulfil":
        await run(request, lambda s: orders.fulfil(s, actor_id=me, order_no=order_no, note=note,
                                                   now=now(), policy=policy))
    else:
        await run(request, lambda s: orders.cancel(s, actor_id=me, order_no=order_no, now=now(),
                                                   policy=policy))


@staff
async def act(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    action = "fulfil" if data.get("action") == "fulfil" else "cancel"
    picked = [str(v) for v in data.getall("order_no", [])][:500]
    note = str(data.get("note", "")).strip() or None
    query = str(data.get("query", ""))
    back_to = "/admin/orders" + (f"?{query}" if query else "")
    if not picked:
        return back(back_to, problem=t(lang(request), "nothing_selected"))
    done, problems = 0, []
    for order_no in picked:
        try:
            await _act(request, action, order_no, note)
            done += 1
        except errors.CoreError as exc:
            problems.append(f"{order_no}: {core_error_text(request, exc)}")
    sep = "&" if "?" in back_to else "?"
    return see_other(back_to + sep + _qs(t(lang(request), "orders_done", n=done),
                                              "; ".join(problems)))


def _qs(notice: str, problem: str) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in (("notice", notice), ("problem", problem)) if v})


@staff
async def export(request: web.Request) -> web.StreamResponse:
    state, sku = _filters(request)
    rows = await run(request, lambda s: desk(s, state=state, sku=sku, limit=100_000))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["order_no", "created_at", "status", "sku", "item", "qty", "points", "employee_id",
                "name", "department", "contact", "note"])
    w.writerows([[r.order_no, r.created_at.isoformat(), r.status, r.sku, r.item, r.qty, r.points,
                  r.employee_id, r.name, r.department, r.contact, r.note] for r in rows])
    return web.Response(body=("\ufeff" + out.getvalue()).encode(), content_type="text/csv",
                        charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="orders.csv"'})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/orders", page)
    app.router.add_post("/admin/orders", act)
    app.router.add_get("/admin/orders.csv", export)
