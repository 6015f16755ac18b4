"""广播 Broadcasts: compose, pick targets (policy file), preview per platform (the very renderers
delivery uses), send now or at a local time (the outbox holds the rows until then)."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.admin.common import back, lang, render, staff
from bot.web.auth.sessions import user_of
from bot.web.base import now, policy_of, run
from cards.builders import promotion
from cards.render_dingtalk import render_dingtalk_markdown
from cards.render_text import render_plain
from cards.render_wecom import render_wecom_markdown
from cards.texts import t
from core.hr.broadcast import broadcast


def _previews(text: str, locale: str) -> dict[str, str]:
    card = promotion(text, locale="en" if locale == "en" else "zh")
    return {"WeCom": json.dumps(render_wecom_markdown(card), ensure_ascii=False, indent=1),
            "DingTalk": json.dumps(render_dingtalk_markdown(card), ensure_ascii=False, indent=1),
            "Text": render_plain(card)}


@staff
async def page(request: web.Request) -> web.StreamResponse:
    targets = policy_of(request).broadcast.targets
    return render(request, "broadcasts.html", {"targets": targets, "previews": None, "text": "",
                                               "nonce": secrets.token_urlsafe(12)})


@staff
async def preview(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    text = str(data.get("text", "")).strip()
    targets = policy_of(request).broadcast.targets
    return render(request, "broadcasts.html", {
        "targets": targets, "text": text, "previews": _previews(text, lang(request)) if text else None,
        "picked": set(map(str, data.getall("target", []))), "nonce": str(data.get("nonce", ""))})


def _when(value: str, zone: str) -> datetime:
    if not value.strip():
        return now()
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        return now()
    return local.replace(tzinfo=ZoneInfo(zone)) if local.tzinfo is None else local


@staff
async def send(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    text = str(data.get("text", "")).strip()
    known = {t.name for t in policy_of(request).broadcast.targets}
    picked = [t for t in map(str, data.getall("target", [])) if t in known]
    if not text or not picked:
        return back("/admin/broadcasts", problem=t(lang(request), "usage_broadcast"))
    at = max(_when(str(data.get("at", "")), policy_of(request).timezone), now())
    user, nonce = user_of(request), str(data.get("nonce", ""))

    policy = policy_of(request)

    async def queue_all(s: AsyncSession) -> None:
        for name in picked:  # the same core call as chat 广播: authorised and audited there
            await broadcast(s, actor_id=user.me, text=text, target=name, now=now(), at=at,
                            key=f"console-broadcast:{nonce}", policy=policy)

    await run(request, queue_all)
    return back("/admin/broadcasts", notice=t(lang(request), "broadcast_sent", n=len(picked)))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/broadcasts", page)
    app.router.add_post("/admin/broadcasts/preview", preview)
    app.router.add_post("/admin/broadcasts", send)
