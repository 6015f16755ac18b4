"""审批 Approvals: everything pending with its age and current approver; admins decide here
with the same ``approvals.decide`` as the chat buttons (which also allows them)."""

from __future__ import annotations

from aiohttp import web

from bot.web.admin.common import age_text, back, form, lang, refused, render, staff
from bot.web.auth.sessions import user_of
from bot.web.base import now, policy_of, run
from cards.texts import t
from core import errors
from core.approvals.service import decide
from core.reports.dashboard import approvals_waiting


@staff
async def page(request: web.Request) -> web.StreamResponse:
    rows = await run(request, lambda s: approvals_waiting(s))
    return render(request, "approvals.html", {"rows": rows, "age": age_text(request)})


@staff
async def decide_one(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    if not user.signed.is_admin:
        return refused(request, "/admin/approvals", errors.Forbidden(action="decide", actor=user.me))
    data = await form(request)
    approval_id = request.match_info["approval_id"]
    approve = data.get("decision") == "approve"
    policy = policy_of(request)
    try:
        await run(request, lambda s: decide(s, approval_id=approval_id, actor_id=user.me,
                                            approve=approve, comment=data.get("comment") or None,
                                            now=now(), policy=policy))
    except errors.CoreError as exc:
        return refused(request, "/admin/approvals", exc)
    return back("/admin/approvals", notice=t(lang(request), "decided"))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/approvals", page)
    app.router.add_post(r"/admin/approvals/{approval_id:\d+}", decide_one)
