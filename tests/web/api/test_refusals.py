"""Authentication and every kind of refusal, in the one error shape, never a 500."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from bot.app import create_app
from bot.web.api import API_KEY, SESSION_LOOKUP, SessionUser
from config.settings import Settings
from core.models import AuditEntry
from tests.web.api.conftest import AUTH, Api


def _is_error(body: Any, code: str) -> None:
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert body["error"]["message"]


async def test_no_token_configured_and_no_session_is_401(api: Api, aiohttp_client: Any) -> None:
    settings = Settings(database_url=api.db.url, playground=False, _env_file=None)  # type: ignore[call-arg]
    client = await aiohttp_client(create_app(settings, api.db, api.policy))
    resp = await client.get("/api/v1/employees", headers=AUTH)
    assert resp.status == 401
    _is_error(await resp.json(), "unauthorized")
    resp = await client.get("/api/v1/employees")
    assert resp.status == 401


async def test_missing_or_wrong_token_is_401(api: Api) -> None:
    _is_error(await api.call("GET", "/employees", auth=False, status=401), "unauthorized")
    body = await api.call("GET", "/employees", auth=False, status=401,
                          headers={"Authorization": "Bearer wrong"})
    _is_error(body, "unauthorized")
    body = await api.call("GET", "/employees", auth=False, status=401,
                          headers={"Authorization": "Basic czNjcmV0"})
    _is_error(body, "unauthorized")


async def test_session_hook_roles_and_csrf(api: Api, aiohttp_client: Any) -> None:
    """The console's sessions plug in through SESSION_LOOKUP; the API decides 401/403."""
    settings = Settings(database_url=api.db.url, playground=False, _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings, api.db, api.policy)

    async def lookup(request: web.Request) -> SessionUser | None:
        who = request.headers.get("X-Test-Session")
        if who is None:
            return None
        roles = frozenset({"hr"}) if who == "HR1" else frozenset({"employee"})
        return SessionUser(who, roles, csrf_ok=request.headers.get("X-CSRF") == "ok")

    app[API_KEY][SESSION_LOOKUP] = lookup
    client = await aiohttp_client(app)
    assert (await client.get("/api/v1/employees")).status == 401
    resp = await client.get("/api/v1/employees", headers={"X-Test-Session": "E1"})
    assert resp.status == 403
    _is_error(await resp.json(), "forbidden")
    assert (await client.get("/api/v1/employees", headers={"X-Test-Session": "HR1"})).status == 200
    body = {"employee_id": "E2", "points": 5, "reason": "console"}
    resp = await client.post("/api/v1/deductions", json=body, headers={"X-Test-Session": "HR1"})
    assert resp.status == 403
    _is_error(await resp.json(), "csrf")
    grant = {"grants": [{"employee_id": "E2", "points": 7, "reason": "console"}]}
    resp = await client.post("/api/v1/grants", json=grant,
                             headers={"X-Test-Session": "HR1", "X-CSRF": "ok"})
    assert resp.status == 201, await resp.text()
    async with api.db.uow() as s:
        actors = list(await s.scalars(select(AuditEntry.actor).where(AuditEntry.action == "grant")))
    assert "HR1" in actors


async def test_unknown_route_and_method_keep_the_error_shape(api: Api) -> None:
    _is_error(await api.call("GET", "/nothing-here", status=404), "not_found")
    _is_error(await api.call("PATCH", "/employees", status=405), "method_not_allowed")


async def test_oversized_body_is_413(api: Api) -> None:
    body = b'{"grants": [' + b" " * (1024 * 1024) + b"]}"
    resp = await api.client.post("/api/v1/grants", data=body,
                                 headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status == 413
    _is_error(await resp.json(), "too_large")


async def test_malformed_json_is_400_and_wrong_shapes_are_422(api: Api) -> None:
    hdrs = {"Content-Type": "application/json"}
    _is_error(await api.call("POST", "/grants", data=b'{"grants": [', headers=hdrs, status=400),
              "malformed_json")
    _is_error(await api.call("POST", "/grants", data=b"\xff\xfe", headers=hdrs, status=400),
              "malformed_json")
    _is_error(await api.call("POST", "/grants", data=b"[1, 2]", headers=hdrs, status=422),
              "invalid_input")
    _is_error(await api.call("POST", "/grants", json={"grants": "x"}, status=422), "invalid_input")
    _is_error(await api.call("POST", "/grants", json={"grants": [{"employee_id": "E1",
              "points": -1, "reason": "r"}]}, status=422), "invalid_input")
    _is_error(await api.call("POST", "/deductions", json={"employee_id": "E1", "points": 1,
              "reason": "r", "extra": 1}, status=422), "invalid_input")
    _is_error(await api.call("GET", "/employees?limit=501", status=422), "invalid_input")
    _is_error(await api.call("GET", "/employees?limit=abc", status=422), "invalid_input")
    _is_error(await api.call("GET", "/employees?cursor=%%%", status=422), "invalid_cursor")
    _is_error(await api.call("GET", "/orders?cursor=WyJ4Il0", status=422), "invalid_cursor")
    _is_error(await api.call("GET", "/reports/monthly?month=2026-13", status=422),
              "invalid_month")


async def test_refusals_change_nothing(api: Api) -> None:
    async with api.db.uow() as s:
        before = await s.scalar(select(func.count()).select_from(AuditEntry))
    _is_error(await api.call("GET", "/employees/NOBODY", status=404), "unknown_employee")
    _is_error(await api.call("POST", "/deductions", json={"employee_id": "E2", "points": 10,
              "reason": "too much"}, status=409), "insufficient_points")
    _is_error(await api.call("POST", "/orders/ONOPE/fulfil", status=404), "unknown_order")
    _is_error(await api.call("DELETE", "/catalog/NOPE", status=404), "unknown_item")
    _is_error(await api.call("POST", "/grants", json={"grants": [
        {"employee_id": "E2", "points": 1, "reason": "ok"},
        {"employee_id": "GONE", "points": 1, "reason": "left"}]}, status=422), "invalid_input")
    async with api.db.uow() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == before
    detail = await api.call("GET", "/employees/E2", status=200)
    assert detail["balance"] == 0
