"""广播 Broadcasts: compose, pick targets (policy file), preview per platform (the very renderers
delivery uses), send now or at a local time (the outbox holds the rows until then)."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.admin.common import Typed, back, lang, refill, render, staff
from bot.web.auth.sessions import user_of
from bot.web.base import now, policy_of, run
from cards.builders import promotion
from cards.render_dingtalk import render_dingtalk_markdown
from cards.render_text import render_plain
from cards.render_wecom import render_wecom_markdown
from cards.texts import t
from core import errors
from core.hr.broadcast import broadcast
from core.problems import problem


def _previews(text: str, locale: str) -> dict[str, str]:
    card = promotion(text, locale="en" if locale == "en" else "zh")
    return {"WeCom": json.dumps(render_wecom_markdown(card), ensure_ascii=False, indent=1),
            "DingTalk": json.dumps(render_dingtalk_markdown(card), ensure_ascii=False, indent=1),
            "Text": render_plain(card)}


def _page(request: web.Request, nonce: str, previews: dict[str, str] | None = None,
          ) -> dict[str, Any]:
    return {"targets": policy_of(request).broadcast.targets, "previews": previews, "nonce": nonce}


@staff
async def page(request: web.Request) -> web.StreamResponse:
    return render(request, "broadcasts.html", _page(request, secrets.token_urlsafe(12)))


@staff
async def preview(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    text = str(data.get("text", "")).strip()
    previews = _previews(text, lang(request)) if text else None
    return render(request, "broadcasts.html", _page(request, str(data.get("nonce", "")), previews)
                  | {"typed": Typed.of(data)})


def _when(value: str, zone: str) -> datetime:
    if not value.strip():
        return now()
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        return now()
    return local.replace(tzinfo=ZoneInfo(zone)) if local.tzinfo is None else local


def _check(text: str, picked: list[str], known: set[str]) -> None:
    """A broadcast needs its text and at least one of the configured targets."""
    if not known:
        raise errors.NoBroadcastTargets()
    for field, given in (("text", text), ("target", picked)):
        if not given:
            found = problem(field, "required")
            raise errors.InvalidInput(field=field, message=found.english, problem=found)


@staff
async def send(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    text = str(data.get("text", "")).strip()
    known = {t.name for t in policy_of(request).broadcast.targets}
    picked = [t for t in map(str, data.getall("target", [])) if t in known]
    policy, user, nonce = policy_of(request), user_of(request), str(data.get("nonce", ""))
    at = max(_when(str(data.get("at", "")), policy.timezone), now())

    async def queue_all(s: AsyncSession) -> None:
        for name in picked:  # the same core call as chat 广播: authorised and audited there
            await broadcast(s, actor_id=user.me, text=text, target=name, now=now(), at=at,
                            key=f"console-broadcast:{nonce}", policy=policy)

    try:
        _check(text, picked, known)
        await run(request, queue_all)
    except errors.CoreError as exc:
        return refill(request, "broadcasts.html", _page(request, nonce), Typed.of(data), exc)
    return back("/admin/broadcasts", notice=t(lang(request), "broadcast_sent", n=len(picked)))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/broadcasts", page)
    app.router.add_post("/admin/broadcasts/preview", preview)
    app.router.add_post("/admin/broadcasts", send)
