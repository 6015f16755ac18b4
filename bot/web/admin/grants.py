"""发放 Grants: upload a grants CSV → a preview of every row → confirm. Nothing changes before
confirm; the confirm posts back the very text that was previewed and grants it all or nothing
(``hr.grant_rows``); default row keys come from the file's hash, so the same file twice grants
once."""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDict

from bot.web.admin.common import Typed, back, lang, refill, render, staff
from bot.web.auth.sessions import user_of
from bot.web.base import now, policy_of, run
from cards.texts import t
from core import errors
from core.hr import service as hr
from core.hr.preview import preview_grants

MAX_FILE = 1024 * 1024


async def _text(request: web.Request) -> str:
    data = await request.post()
    upload = data.get("file")
    if isinstance(upload, web.FileField):
        raw = upload.file.read(MAX_FILE + 1)
        if raw:
            return raw.decode("utf-8", errors="replace")
    return str(data.get("text", ""))


@staff
async def page(request: web.Request) -> web.StreamResponse:
    return render(request, "grants.html", {"preview": None, "text": ""})


def _refill(request: web.Request, text: str, exc: errors.CoreError) -> web.Response:
    """The upload form again with the refusal and the text (pasted, or the file's) to fix."""
    return refill(request, "grants.html", {"preview": None, "text": ""},
                  Typed.of(MultiDict(text=text)), exc)


@staff
async def preview(request: web.Request) -> web.StreamResponse:
    text = await _text(request)
    me, policy = user_of(request).me, policy_of(request)
    try:
        result = await run(request, lambda s: preview_grants(s, actor_id=me, text=text, now=now(),
                                                             policy=policy))
    except errors.CoreError as exc:
        return _refill(request, text, exc)
    return render(request, "grants.html", {"preview": result, "text": text,
                                           "total": sum(r.points for r in result.new_rows)})


@staff
async def confirm(request: web.Request) -> web.StreamResponse:
    text = str((await request.post()).get("text", ""))
    me, policy = user_of(request).me, policy_of(request)
    try:
        rows = hr.parse_grants_csv(text)
        results = await run(request, lambda s: hr.grant_rows(s, actor_id=me, rows=rows, now=now(),
                                                             policy=policy))
    except errors.CoreError as exc:
        return _refill(request, text, exc)
    fresh = sum(1 for r in results if not r.duplicate)
    return back("/admin/grants", notice=t(lang(request), "grants_done", n=fresh,
                                           dup=len(results) - fresh))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/grants", page)
    app.router.add_post("/admin/grants/preview", preview)
    app.router.add_post("/admin/grants/confirm", confirm)
