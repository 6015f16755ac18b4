"""Signing in to the mall: a one-time card link (``/m/login?token=…``), WeCom OAuth
(``/m/auth/wecom``) and DingTalk 免登 (``/m/auth/dingtalk``); all end in a 30-day mall session.

The OAuth ``state`` (and the DingTalk page's form) is tied to a short-lived cookie, so nobody can
sign a colleague's browser into their own account with a code of theirs (login CSRF)."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode

from aiohttp import web

from bot.appkeys import SETTINGS_KEY
from bot.web.auth.routes import _login
from bot.web.auth.sessions import clear_cookie, set_cookie, user_of
from bot.web.base import key_of, now, public_url, run, settings_of
from bot.web.mall.common import form, mall, message, render
from bot.web.mall.identity import CodeRefused, PlatformDown, identity_of, setup_identity
from core.directory.service import by_platform_id
from core.signin.service import end_session, open_session

STATE_COOKIE = "jifen_oauth_state"
STATE_MINUTES = 10


async def login(request: web.Request) -> web.StreamResponse:
    return await _login(request, purpose="mall", home="/m")


@mall
async def logout(request: web.Request) -> web.StreamResponse:
    session_id, key = user_of(request).session_id, await key_of(request)
    await run(request, lambda s: end_session(s, session_id=session_id, key=key, now=now()))
    response = message(request, "signed_out", "m_signin_hint", status=200)
    clear_cookie(response)
    return response


def _page(request: web.Request, title: str, text: str, *, status: int) -> web.Response:
    return message(request, title, text, status=status)


def _keep_state(response: web.StreamResponse, request: web.Request, state: str) -> None:
    response.set_cookie(STATE_COOKIE, state, max_age=STATE_MINUTES * 60, path="/m/auth/",
                        httponly=True, samesite="Lax",
                        secure=public_url(settings_of(request)).startswith("https://"))


def _state_ok(request: web.Request, given: str) -> bool:
    kept = request.cookies.get(STATE_COOKIE, "")
    return bool(kept) and hmac.compare_digest(kept, given)


async def _sign_in_as(request: web.Request, platform: str, userid: str | None) -> web.Response:
    """A session for the employee behind ``userid``; a stranger gets the not-enrolled page."""
    if not userid:
        return _page(request, "m_not_enrolled", "m_not_enrolled_hint", status=403)
    emp = await run(request, lambda s: by_platform_id(s, platform=platform, user_id=userid))
    if emp is None or not emp.active:
        return _page(request, "m_not_enrolled", "m_not_enrolled_hint", status=403)
    key, employee_id = await key_of(request), emp.employee_id
    session_id = await run(request, lambda s: open_session(s, employee_id=employee_id, kind="mall",
                                                           key=key, now=now()))
    response = web.Response(status=303, headers={"Location": "/m"})
    set_cookie(request, response, session_id, "mall")
    response.del_cookie(STATE_COOKIE, path="/m/auth/")
    return response


async def wecom(request: web.Request) -> web.StreamResponse:
    """Without ``code``: off to WeCom's authorize page; with it (WeCom's redirect): sign in."""
    settings = settings_of(request)
    if not settings.wecom_enabled:
        return _page(request, "signin_failed", "m_platform_off", status=404)
    code = request.query.get("code", "")
    if not code:
        response = web.Response(status=302)
        state = secrets.token_urlsafe(16)
        _keep_state(response, request, state)
        query = urlencode({"appid": settings.wecom_corp_id, "redirect_uri": _callback(request),
                           "response_type": "code", "scope": "snsapi_base", "state": state,
                           "agentid": settings.wecom_agent_id})
        # "#wechat_redirect" is how the WeCom client knows to attach the member's identity
        response.headers["Location"] = (f"{settings.wecom_oauth_base.rstrip('/')}"
                                        f"/connect/oauth2/authorize?{query}#wechat_redirect")
        return response
    if not _state_ok(request, request.query.get("state", "")) or len(code) > 512:
        return _page(request, "signin_failed", "m_code_refused", status=400)
    return await _exchange(request, "wecom", code)


def _callback(request: web.Request) -> str:
    return f"{public_url(settings_of(request))}/m/auth/wecom"


async def _exchange(request: web.Request, platform: str, code: str) -> web.Response:
    ident = identity_of(request.app)
    try:
        if platform == "wecom":
            userid = await ident.wecom_userid(code)
        else:
            userid = await ident.dingtalk_userid(code)
    except CodeRefused:
        return _page(request, "signin_failed", "m_code_refused", status=400)
    except PlatformDown:
        return _page(request, "signin_failed", "m_platform_down", status=502)
    return await _sign_in_as(request, platform, userid)


async def dingtalk_page(request: web.Request) -> web.StreamResponse:
    """The page that asks the DingTalk client for a 免登 code and posts it back."""
    settings = settings_of(request)
    if not settings.dingtalk_enabled:
        return _page(request, "signin_failed", "m_platform_off", status=404)
    # 应用首页地址 may carry ?corpId=$CORPID$ (DingTalk fills it in); else the configured corp
    corp_id = (request.query.get("corpId") or settings.dingtalk_corp_id or "")[:64]
    state = secrets.token_urlsafe(16)
    response = render(request, "dingtalk.html", {"corp_id": corp_id, "state": state})
    _keep_state(response, request, state)
    return response


async def dingtalk_code(request: web.Request) -> web.StreamResponse:
    if not settings_of(request).dingtalk_enabled:
        return _page(request, "signin_failed", "m_platform_off", status=404)
    data = await form(request)
    code = data.get("code", "").strip()
    if not code or len(code) > 512 or not _state_ok(request, data.get("state", "")):
        return _page(request, "signin_failed", "m_code_refused", status=400)
    return await _exchange(request, "dingtalk", code)


def setup_routes(app: web.Application) -> None:
    setup_identity(app, app[SETTINGS_KEY])
    app.router.add_get("/m/login", login)
    app.router.add_post("/m/logout", logout)
    app.router.add_get("/m/auth/wecom", wecom)
    app.router.add_get("/m/auth/dingtalk", dingtalk_page)
    app.router.add_post("/m/auth/dingtalk", dingtalk_code)
