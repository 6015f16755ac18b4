"""员工 Employees: search; one employee's balance, allowance, lots and full history; grant and
deduct with a reason (the same core calls as the chat commands 发放 / 扣除)."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.admin.common import Typed, back, form, int_field, lang, refill, refused, render, staff
from bot.web.auth.sessions import user_of
from bot.web.base import now, policy_of, run
from cards.texts import t
from core import errors, ledger
from core.awards.service import allowance_status
from core.directory import service as directory
from core.directory.search import search
from core.hr import service as hr
from core.ledger.service import full_history, open_lots
from core.policy import Policy


@staff
async def listing(request: web.Request) -> web.StreamResponse:
    q = request.query.get("q", "")
    people = await run(request, lambda s: search(s, q=q))
    return render(request, "employees.html", {"q": q, "people": people})


async def _detail(s: AsyncSession, employee_id: str, policy: Policy) -> dict[str, Any]:
    at = now()
    emp = await directory.get(s, employee_id)
    return {"emp": emp, "roles": sorted(await directory.roles_of(s, emp)),
            "balance": await ledger.balance(s, employee_id=employee_id, now=at),
            "allowance": await allowance_status(s, giver_id=employee_id, now=at, policy=policy),
            "lots": await open_lots(s, employee_id=employee_id, now=at),
            "history": await full_history(s, employee_id=employee_id)}


async def _page(request: web.Request, employee_id: str) -> dict[str, Any]:
    policy = policy_of(request)
    data = await run(request, lambda s: _detail(s, employee_id, policy))
    data["nonce"] = secrets.token_urlsafe(12)  # one submission of this form = one grant
    return data


@staff
async def detail(request: web.Request) -> web.StreamResponse:
    employee_id = request.match_info["employee_id"]
    try:
        data = await _page(request, employee_id)
    except errors.UnknownEmployee as exc:
        return refused(request, "/admin/employees", exc)
    return render(request, "employee.html", data)


async def _refill(request: web.Request, employee_id: str, typed: Typed,
                  exc: errors.CoreError) -> web.Response:
    """The employee's page again with the refusal and the refused form as typed."""
    try:
        data = await _page(request, employee_id)
    except errors.UnknownEmployee as unknown:
        return refused(request, "/admin/employees", unknown)
    return refill(request, "employee.html", data, typed, exc)


@staff
async def change(request: web.Request) -> web.StreamResponse:
    employee_id = request.match_info["employee_id"]
    action = request.match_info["action"]
    data = await form(request)
    here = f"/admin/employees/{employee_id}"
    amount = int_field(data.get("points"))
    me, policy = user_of(request).me, policy_of(request)
    call = hr.grant if action == "grant" else hr.deduct
    try:
        if amount is None:
            raise errors.InvalidAmount(amount=0, min=1)
        res = await run(request, lambda s: call(
            s, actor_id=me, employee_id=employee_id, amount=amount, reason=data.get("reason", ""),
            key=f"console:{me}:{data.get('nonce', '')}", now=now(), policy=policy))
    except errors.CoreError as exc:
        return await _refill(request, employee_id, Typed.of(await request.post(), action), exc)
    if res.duplicate:
        return back(here, notice=t(lang(request), "already_done"))
    done = "granted" if action == "grant" else "deducted_ok"
    return back(here, notice=t(lang(request), done, n=res.amount, balance=res.balance))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/employees", listing)
    app.router.add_get("/admin/employees/{employee_id}", detail)
    app.router.add_post(r"/admin/employees/{employee_id}/{action:grant|deduct}", change)
