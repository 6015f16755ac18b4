"""Catalog, the order desk and approvals over real HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.models import CodeEntry, OutboxMessage, utcnow
from core.orders import service as orders
from tests.factories import add_employee
from tests.web.api.conftest import Api


async def _orders(api: Api) -> list[str]:
    async with api.db.uow() as s:
        return [o.order_no for o in await orders.orders_of(s, employee_id="E1")]


async def test_catalog_list_upsert_codes_and_deactivate(api: Api) -> None:
    items = (await api.call("GET", "/catalog", status=200))["items"]
    assert [(i["sku"], i["available"]) for i in items] == [("CARD", 2), ("MUG", 3)]
    body = {"name": "雨伞", "points": 80, "category": "周边", "stock": 10,
            "available_until": "2099-03-31"}
    made = await api.call("PUT", "/catalog/UMB", json=body, status=201)
    assert made["stock"] == 10 and made["active"]
    again = await api.call("PUT", "/catalog/UMB", json={**body, "points": 90}, status=200)
    assert again["points"] == 90
    bad = await api.call("PUT", "/catalog/UMB", json={**body, "kind": "nope"}, status=422)
    assert bad["error"]["code"] == "invalid_input"
    await api.call("PUT", "/catalog/UMB", json={**body, "sku": "OTHER"}, status=422)
    codes = await api.call("POST", "/catalog/CARD/codes", json={"codes": ["C-2", "C-3", "C-4"]},
                           status=201)
    assert codes == {"sku": "CARD", "added": 2, "available": 4}
    await api.call("POST", "/catalog/MUG/codes", json={"codes": ["X"]}, status=422)
    gone = await api.call("DELETE", "/catalog/UMB", status=200)
    assert gone["active"] is False
    active = (await api.call("GET", "/catalog?active=true", status=200))["items"]
    assert "UMB" not in [i["sku"] for i in active]
    audit = (await api.call("GET", "/audit?subject=item:UMB", status=200))["items"]
    assert [a["action"] for a in audit] == ["catalog.upsert", "catalog.upsert",
                                            "catalog.deactivate"]
    assert audit[1]["before"]["points"] == 80 and audit[1]["after"]["points"] == 90
    async with api.db.uow() as s:  # codes are stored, never logged
        assert len(list(await s.scalars(select(CodeEntry).where(CodeEntry.sku == "CARD")))) == 4
    assert "C-3" not in str(await api.call("GET", "/audit?subject=item:CARD"))


async def test_order_desk_fulfil_and_cancel(api: Api) -> None:
    first, second = sorted(await _orders(api))
    desk = await api.call("GET", "/orders?state=placed&limit=1", status=200)
    assert len(desk["items"]) == 1 and desk["next_cursor"]
    rest = await api.call("GET", f"/orders?state=placed&limit=1&cursor={desk['next_cursor']}")
    assert {desk["items"][0]["order_no"], rest["items"][0]["order_no"]} == {first, second}
    assert desk["items"][0]["employee_name"] == "张三"
    done = await api.call("POST", f"/orders/{first}/fulfil", json={"note": "已寄出"}, status=200)
    assert done["status"] == "fulfilled" and done["note"] == "已寄出"
    again = await api.call("POST", f"/orders/{first}/fulfil", status=409)
    assert again["error"]["code"] == "bad_order_state"
    key = {"Idempotency-Key": "cancel-1"}
    cancelled = await api.call("POST", f"/orders/{second}/cancel", headers=key, status=200)
    assert cancelled["status"] == "cancelled"
    assert await api.call("POST", f"/orders/{second}/cancel", headers=key, status=200) == cancelled
    await api.call("POST", f"/orders/{second}/cancel", status=409)
    assert (await api.call("GET", "/employees/E1"))["balance"] == 400  # one mug back
    fulfilled = await api.call("GET", "/orders?state=fulfilled", status=200)
    assert [o["order_no"] for o in fulfilled["items"]] == [first]
    async with api.db.uow() as s:
        kinds = list(await s.scalars(select(OutboxMessage.kind).where(
            OutboxMessage.recipient == "employee:E1")))
    assert "order_fulfilled" in kinds  # the employee hears of it in chat
    audit = (await api.call("GET", "/audit?action=order.fulfil"))["items"]
    assert audit[0]["before"] == {"status": "placed"} and audit[0]["after"]["status"] == "fulfilled"


async def test_pending_approvals(api: Api) -> None:
    now = utcnow()
    async with api.db.uow() as s:
        await add_employee(s, "M1", "经理")
    body = {"name": "年假一天", "points": 10, "kind": "leave", "requires_approval": True}
    await api.call("PUT", "/catalog/LEAVE", json=body, status=201)
    async with api.db.uow() as s:
        conf = await orders.start_redemption(s, employee_id="E1", sku="LEAVE", now=now,
                                             policy=api.policy)
        await orders.confirm(s, employee_id="E1", code=conf.code, now=now, policy=api.policy)
    page: Any = await api.call("GET", "/approvals", status=200)
    assert [(a["kind"], a["requester_id"], a["status"]) for a in page["items"]] == [
        ("redemption", "E1", "pending")]
    assert page["items"][0]["approver"] and page["items"][0]["id"].startswith("A")
    assert (await api.call("GET", "/approvals?state=approved"))["items"] == []
    await api.call("GET", "/approvals?state=bogus", status=422)
