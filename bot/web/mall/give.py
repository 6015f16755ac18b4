"""送积分: search a colleague by name, amount, reason and value hashtags, then the same
``core.awards.give`` as chat ``赞 @同事 10分 理由`` (same allowance, approvals, notifications)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.base import core_error_text, now, policy_of, run
from bot.web.mall.common import form, lang, mall, me, render, see_other, small_int
from cards.texts import t
from core import errors
from core.awards.service import allowance_status
from core.awards.service import give as give_points
from core.directory.search import search

SHOWN = 20


async def _context(request: web.Request, q: str, picked: str = "") -> dict[str, Any]:
    employee_id, policy, at = me(request), policy_of(request), now()

    async def read(s: AsyncSession) -> dict[str, Any]:
        found = await search(s, q=q, limit=SHOWN + 1) if q.strip() else []
        people = [e for e in found if e.active and e.employee_id != employee_id][:SHOWN]
        left = (await allowance_status(s, giver_id=employee_id, now=at, policy=policy)).left
        return {"people": people, "allowance": left}

    return await run(request, read) | {"q": q, "picked": picked, "values": policy.award.values,
                                       "tab": "give"}


@mall
async def page(request: web.Request) -> web.StreamResponse:
    q = request.query.get("q", "")[:50]
    return render(request, "give.html", await _context(request, q, request.query.get("to", "")))


def _reason(data: dict[str, str], tags: list[str], known: list[str]) -> str:
    """The typed reason plus the picked values as ``#tags`` (how chat users write them)."""
    reason = data.get("reason", "").strip()[:200]
    extra = [f"#{tag}" for tag in tags if tag in known and f"#{tag}" not in reason]
    return " ".join([reason, *extra]).strip()


@mall
async def send(request: web.Request) -> web.StreamResponse:
    data = await form(request)
    tags = [str(v) for v in (await request.post()).getall("value", [])]
    policy, employee_id = policy_of(request), me(request)
    to, amount = data.get("to", ""), small_int(data.get("amount"), default=0) or 0
    reason = _reason(data, tags, policy.award.values)
    # the page's nonce makes a double click or a resent form one award, as a redelivered chat
    # message is (core.awards.give remembers the key)
    key = f"mall:{employee_id}:{data.get('nonce', '')[:40]}"
    try:
        if not to:
            raise errors.InvalidInput(message=t(lang(request), "m_pick"))
        result = await run(request, lambda s: give_points(
            s, giver_id=employee_id, recipient_ids=[to], amount=amount, reason=reason, key=key,
            now=now(), policy=policy))
    except errors.CoreError as exc:
        context = await _context(request, data.get("q", ""), to) | {
            "problem": core_error_text(request, exc), "amount": data.get("amount", ""),
            "reason": data.get("reason", ""), "tags": tags}
        return render(request, "give.html", context, status=422)
    award = result.awards[0]
    key_text = "award_sent" if award.status == "approved" else "award_pending"
    notice = t(lang(request), key_text, name=award.recipient_name, n=award.amount,
                id=award.approval_public_id)
    return see_other("/m/give", notice=notice)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/m/give", page)
    app.router.add_post("/m/give", send)
