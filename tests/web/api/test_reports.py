"""Reports, leaderboard, broadcasts, the audit log, the ledger check and the OpenAPI document."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from openapi_spec_validator import validate
from sqlalchemy import select

from bot.web.api.routes import TABLE
from core.models import OutboxMessage, utcnow
from core.reports.service import month_summary
from core.timeutil import month_key
from tests.web.api.conftest import Api


async def test_monthly_report_matches_the_core_and_csv(api: Api) -> None:
    from core.models import Order
    from core.orders.service import fulfil

    now = utcnow()
    month = month_key(now, api.policy)
    async with api.db.uow() as s:  # one of the two mugs is handed over: it is "redeemed"
        first = await s.scalar(select(Order.order_no).order_by(Order.id).limit(1))
        assert first is not None
        await fulfil(s, actor_id="HR1", order_no=first, note=None, now=now, policy=api.policy)
    body = await api.call("GET", f"/reports/monthly?month={month}", status=200)
    async with api.db.uow() as s:
        expected = asdict(await month_summary(s, month=month, now=now, policy=api.policy,
                                                  actor_id="api"))
    assert body == expected
    assert body["issued"] == 500 and body["top_items"][0]["sku"] == "MUG"
    assert body["top_items"][0]["qty"] == 1 and body["redeemed"] == 100
    assert (body["open_orders"], body["open_points"]) == (1, 100)
    assert (await api.call("GET", "/reports/monthly", status=200))["month"] == month
    resp = await api.client.get(f"/api/v1/reports/monthly.csv?month={month}",
                                headers={"Authorization": "Bearer s3cret-admin-token"})
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "issued,500" in await resp.text()


async def test_leaderboard_pages(api: Api) -> None:
    from core.awards.service import give

    async with api.db.uow() as s:
        for giver, to, n in (("E2", "E1", 5), ("E3", "E1", 5), ("E1", "E2", 3)):
            await give(s, giver_id=giver, recipient_ids=[to], amount=n, reason="谢谢帮忙 #团队合作",
                       now=utcnow(), policy=api.policy, key=f"{giver}-{to}")
    page = await api.call("GET", "/leaderboard?period=month&limit=1", status=200)
    assert [r["employee_id"] for r in page["items"]] == ["E1"] and page["next_cursor"]
    nxt = await api.call("GET", f"/leaderboard?period=month&limit=1&cursor={page['next_cursor']}")
    assert [(r["rank"], r["employee_id"]) for r in nxt["items"]] == [(2, "E2")]
    await api.call("GET", "/leaderboard?period=decade", status=422)


async def test_broadcast_now_scheduled_and_refused(api: Api) -> None:
    key = {"Idempotency-Key": "b-1"}
    sent = await api.call("POST", "/broadcasts", json={"text": "周五下午茶"}, headers=key,
                          status=202)
    assert sent["targets"] == ["全员群"] and not sent["duplicate"]
    assert await api.call("POST", "/broadcasts", json={"text": "周五下午茶"}, headers=key,
                          status=202) == sent
    later = datetime.now(UTC) + timedelta(days=1)
    await api.call("POST", "/broadcasts", status=202,
                   json={"text": "明天见", "target": "全员群", "at": later.isoformat()})
    async with api.db.uow() as s:
        rows = list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == "target:全员群").order_by(OutboxMessage.id)))
    assert len(rows) == 2 and rows[1].next_attempt_at >= later - timedelta(seconds=1)
    bad = await api.call("POST", "/broadcasts", json={"text": "x", "target": "没有"}, status=422)
    assert "全员群" in bad["error"]["message"]
    await api.call("POST", "/broadcasts", json={"text": "x", "at": "2026-01-01T00:00"},
                   status=422)  # a time without an offset is ambiguous
    audit = (await api.call("GET", "/audit?action=broadcast"))["items"]
    assert [a["after"]["text"] for a in audit] == ["周五下午茶", "明天见"]


async def test_audit_since_filters_and_pages(api: Api) -> None:
    everything = await api.call("GET", "/audit?limit=500", status=200)
    assert [a["action"] for a in everything["items"]][:3] == ["catalog.upsert",
                                                             "catalog.upsert", "grant"]
    assert everything["items"][2]["actor"] == "cli"
    first = await api.call("GET", "/audit?limit=2", status=200)
    second = await api.call("GET", f"/audit?limit=2&cursor={first['next_cursor']}")
    assert [a["id"] for a in first["items"] + second["items"]] == [
        a["id"] for a in everything["items"][:4]]
    future = (utcnow() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert (await api.call("GET", f"/audit?since={future}"))["items"] == []
    today = month_key(utcnow(), api.policy) + "-01"
    assert len((await api.call("GET", f"/audit?since={today}"))["items"]) >= 3
    await api.call("GET", "/audit?since=yesterday", status=422)


async def test_ledger_verify(api: Api) -> None:
    assert await api.call("GET", "/ledger/verify", status=200) == {"ok": True, "violations": []}


async def test_openapi_document_is_valid_and_lists_every_route(api: Api) -> None:
    doc = await api.call("GET", "/openapi.json", auth=False, status=200)
    validate(doc)  # raises on an invalid OpenAPI 3.1 document
    assert doc["openapi"].startswith("3.1")
    for route in TABLE.routes:
        op = doc["paths"][f"/api/v1{route.path}"][route.method.lower()]
        ok = op["responses"][str(route.status)]
        if route.response is not None:
            ref = ok["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
        if route.body is not None:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
        if route.method != "GET":
            assert any(p["name"] == "Idempotency-Key" for p in op["parameters"])
        assert "422" in op["responses"] and "401" in op["responses"]
    spec_routes = {("GET", "/employees"), ("GET", "/employees/{id}"), ("PUT", "/employees/{id}"),
                   ("POST", "/employees/import"), ("GET", "/employees/{id}/history"),
                   ("POST", "/grants"), ("POST", "/grants/preview"), ("POST", "/deductions"),
                   ("GET", "/catalog"), ("PUT", "/catalog/{sku}"),
                   ("POST", "/catalog/{sku}/codes"), ("DELETE", "/catalog/{sku}"),
                   ("GET", "/orders"), ("POST", "/orders/{no}/fulfil"),
                   ("POST", "/orders/{no}/cancel"), ("GET", "/approvals"),
                   ("GET", "/reports/monthly"), ("GET", "/reports/monthly.csv"),
                   ("GET", "/leaderboard"), ("POST", "/broadcasts"), ("GET", "/audit"),
                   ("GET", "/ledger/verify")}
    assert {(r.method, r.path) for r in TABLE.routes} == spec_routes
    grants = doc["components"]["schemas"]["GrantsIn"]
    assert grants["properties"]["grants"]["items"]["$ref"].endswith("/GrantIn")
