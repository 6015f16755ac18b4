"""Who is calling the admin API: the operator's bearer token (actor ``api``) or a console session.

The console's session support plugs in through ``SESSION_LOOKUP`` (an app key on the API
sub-application): a callable that returns the signed-in employee with their current roles and
whether the request carried a valid CSRF token, or None when there is no session. Everything
else (401 / 403, the hr / admin check) is decided here, in ``authenticate``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.web.api.errors import ApiError

STAFF = frozenset({"hr", "admin"})
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class SessionUser:
    """A console session as the session support sees it; roles read from the directory now."""

    employee_id: str
    roles: frozenset[str]
    csrf_ok: bool


SessionLookup = Callable[[web.Request], Awaitable[SessionUser | None]]
TOKEN = web.AppKey("api_admin_token", str)
SESSION_LOOKUP: web.AppKey[SessionLookup] = web.AppKey("api_session_lookup")


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def authenticate(request: web.Request) -> str:
    """The actor id for the audit log and the core: ``api`` or the session's employee id.

    401 without a valid token or session; 403 for a session without hr / admin, or a state
    change without its CSRF token.
    """
    app = request.app
    given = _bearer(request)
    if given is not None:
        token = app.get(TOKEN)
        if token and hmac.compare_digest(given.encode(), token.encode()):
            return "api"
        raise ApiError(401, "unauthorized", "invalid bearer token")
    lookup = app.get(SESSION_LOOKUP)
    user = await lookup(request) if lookup is not None else None
    if user is None:
        raise ApiError(401, "unauthorized", "a bearer token or a console session is required")
    if not user.roles & STAFF:
        raise ApiError(403, "forbidden", "the admin API is for hr and admin")
    if request.method in UNSAFE and not user.csrf_ok:
        raise ApiError(403, "csrf", "missing or invalid CSRF token")
    return user.employee_id
