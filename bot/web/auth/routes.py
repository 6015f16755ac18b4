"""``/admin/login?token=…`` (one-time link → session cookie) and ``/admin/logout``."""

from __future__ import annotations

from aiohttp import web

from bot.web.auth.sessions import clear_cookie, set_cookie, signed_in, user_of
from bot.web.base import key_of, message_page, now, run
from core import errors
from core.signin.service import end_session, redeem_link

# used or expired links are gone for good (410); a forged or malformed one is simply wrong (400)
_LINK_STATUS = {"link_used": 410, "link_expired": 410}


async def admin_login(request: web.Request) -> web.StreamResponse:
    return await _login(request, purpose="admin", home="/admin")


async def _login(request: web.Request, *, purpose: str, home: str) -> web.StreamResponse:
    token = request.query.get("token", "").strip()
    key = await key_of(request)
    try:
        session_id = await run(request, lambda s: redeem_link(s, token=token, purpose=purpose,
                                                              key=key, now=now()))
    except (errors.LinkInvalid, errors.LinkUsed, errors.LinkExpired,
            errors.InactiveEmployee, errors.UnknownEmployee) as exc:
        code = exc.code if exc.code.startswith("link_") else "link_invalid"
        return message_page(request, "signin_failed", code, "signin_again", status=_LINK_STATUS.get(code, 400))
    response = web.Response(status=303, headers={"Location": home})
    set_cookie(request, response, session_id, purpose)
    return response


@signed_in("admin", staff=False)
async def admin_logout(request: web.Request) -> web.StreamResponse:
    user = user_of(request)
    key = await key_of(request)
    await run(request, lambda s: end_session(s, session_id=user.session_id, key=key, now=now()))
    response = message_page(request, "signed_out", "signin_again", status=200)
    clear_cookie(response)
    return response


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/login", admin_login)
    app.router.add_post("/admin/logout", admin_logout)
