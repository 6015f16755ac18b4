"""Directory, history, grants, the preview, deductions and idempotency over real HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.models import AuditEntry, LedgerTransaction, OutboxMessage
from tests.web.api.conftest import Api


async def _all_pages(api: Api, path: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    sep = "&" if "?" in path else "?"
    while True:
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = await api.call("GET", url, status=200)
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_employee_list_pages_and_filters(api: Api) -> None:
    everyone = await _all_pages(api, "/employees", 2)
    assert [e["employee_id"] for e in everyone] == ["E1", "E2", "E3", "GONE", "HR1"]
    assert [e["employee_id"] for e in await _all_pages(api, "/employees?active=false", 2)] == [
        "GONE"]
    found = await api.call("GET", "/employees?q=张", status=200)
    assert [e["name"] for e in found["items"]] == ["张三"]
    dept = await api.call("GET", "/employees?department=研发部&active=true", status=200)
    assert {e["employee_id"] for e in dept["items"]} == {"E1", "E2"}


async def test_one_employee_has_balance_allowance_and_lots(api: Api) -> None:
    e1 = await api.call("GET", "/employees/E1", status=200)
    assert e1["balance"] == 300  # 500 granted, two mugs of 100 in escrow
    assert e1["allowance"]["left"] == e1["allowance"]["limit"] > 0
    assert [lot["remaining"] for lot in e1["lots"]] == [300]


async def test_put_employee_creates_then_updates_with_audit(api: Api) -> None:
    body = {"name": "赵六", "department": "财务部", "roles": ["hr"], "mobile": "13812341234"}
    created = await api.call("PUT", "/employees/E9", json=body, status=201)
    assert created["roles"] == ["hr"] and created["mobile"] == "138****1234"
    updated = await api.call("PUT", "/employees/E9", json={"name": "赵六", "department": "法务部"},
                             status=200)
    assert updated["department"] == "法务部" and updated["roles"] == ["hr"]  # others kept
    audit = await api.call("GET", "/audit?subject=employee:E9", status=200)
    assert [a["action"] for a in audit["items"]] == ["employee.upsert"] * 2
    last = audit["items"][-1]
    assert last["actor"] == "api"
    assert last["before"]["employees"]["E9"]["department"] == "财务部"
    assert last["after"]["employees"]["E9"]["department"] == "法务部"
    assert "13812341234" not in str(audit)
    bad = await api.call("PUT", "/employees/E10", json={"name": "x", "manager_id": "NOBODY"},
                         status=422)
    assert "manager_id" in bad["error"]["message"]


async def test_import_csv_dry_run_then_for_real(api: Api) -> None:
    csv = "employee_id,name,department\nE1,张三,研发部\nN1,新人,市场部\n"
    dry = await api.call("POST", "/employees/import?dry_run=true", data=csv.encode(),
                         headers={"Content-Type": "text/csv"}, status=200)
    assert dry["dry_run"] and dry["created"] == ["N1"]
    await api.call("GET", "/employees/N1", status=404)
    done = await api.call("POST", "/employees/import", data=csv.encode(), status=200)
    assert done["created"] == ["N1"] and done["unchanged"] == ["E1"]
    await api.call("GET", "/employees/N1", status=200)
    bad = await api.call("POST", "/employees/import", data=b"employee_id,name\n,nobody\n",
                         status=422)
    assert bad["error"]["message"] == "line 2: employee_id: is required"
    bad = await api.call("POST", "/employees/import", data=b"employee_id,name\n,nobody\nE 7,x\n",
                         headers={"Accept-Language": "zh-CN"}, status=422)
    assert bad["error"]["message"] == "2 行有问题：第 2 行：employee_id：必须填写；第 3 行：employee_id：「E 7」含有空格"
    await api.call("POST", "/employees/import", data=b"\xff\xfe\x00", status=400)


async def test_history_newest_first_in_pages(api: Api) -> None:
    for i in range(3):
        await api.call("POST", "/grants", json={"grants": [
            {"employee_id": "E2", "points": 10 + i, "reason": f"r{i}"}]}, status=201)
    rows = await _all_pages(api, "/employees/E2/history", 2)
    assert [r["amount"] for r in rows] == [12, 11, 10]
    assert {r["actor"] for r in rows} == {"api"} and rows[0]["reason"] == "r2"
    await api.call("GET", "/employees/NOBODY/history", status=404)


async def _count(api: Api, model: Any) -> int:
    async with api.db.uow() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_grants_are_idempotent_by_header(api: Api) -> None:
    body = {"grants": [{"employee_id": "E2", "points": 30, "reason": "项目奖"},
                       {"employee_id": "E3", "points": 20, "reason": "项目奖",
                        "expires_at": "2099-12-31"}]}
    key = {"Idempotency-Key": "hris-batch-1"}
    first = await api.call("POST", "/grants", json=body, headers=key, status=201)
    assert first["granted"] == 50
    txs, pushes = await _count(api, LedgerTransaction), await _count(api, OutboxMessage)
    again = await api.call("POST", "/grants", json=body, headers=key, status=201)
    assert again == first
    assert (await _count(api, LedgerTransaction), await _count(api, OutboxMessage)) == (txs, pushes)
    assert (await api.call("GET", "/employees/E2"))["balance"] == 30
    reused = await api.call("POST", "/deductions", headers=key, status=422,
                            json={"employee_id": "E2", "points": 1, "reason": "x"})
    assert reused["error"]["code"] == "idempotency_key_reused"


async def test_grant_keys_in_the_body_are_idempotent_too(api: Api) -> None:
    body = {"grants": [{"employee_id": "E2", "points": 5, "reason": "r", "key": "k-1"}]}
    await api.call("POST", "/grants", json=body, status=201)
    again = await api.call("POST", "/grants", json=body, status=201)
    assert again["granted"] == 0 and again["items"][0]["duplicate"]
    assert (await api.call("GET", "/employees/E2"))["balance"] == 5


async def test_preview_changes_nothing(api: Api) -> None:
    txs = await _count(api, LedgerTransaction)
    body = {"grants": [{"employee_id": "E1", "points": 10, "reason": "a"},
                       {"employee_id": "E1", "points": 5, "reason": "b"},
                       {"employee_id": "NOBODY", "points": 1, "reason": "c"},
                       {"employee_id": "GONE", "points": 1, "reason": "d"}]}
    out = await api.call("POST", "/grants/preview", json=body, status=200)
    assert not out["ok"]
    assert [(r["balance"], r["new_balance"]) for r in out["items"][:2]] == [(300, 310), (310, 315)]
    assert [r["problems"] for r in out["items"][2:]] == [["unknown employee"],
                                                         ["inactive employee"]]
    zh = await api.call("POST", "/grants/preview", json=body, headers={"Accept-Language": "zh"},
                        status=200)
    assert [r["problems"] for r in zh["items"]] == [[], [], ["没有这位员工"], ["员工已离职"]]
    assert await _count(api, LedgerTransaction) == txs


async def test_deduction_and_its_audit_entry(api: Api) -> None:
    key = {"Idempotency-Key": "d-1"}
    body = {"employee_id": "E1", "points": 40, "reason": "违规"}
    first = await api.call("POST", "/deductions", json=body, headers=key, status=201)
    assert first["balance"] == 260
    assert await api.call("POST", "/deductions", json=body, headers=key, status=201) == first
    assert (await api.call("GET", "/employees/E1"))["balance"] == 260
    async with api.db.uow() as s:
        rows = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "deduct")))
    assert len(rows) == 1 and rows[0].subject == "employee:E1"


async def test_concurrent_repeats_of_one_key_grant_once(api: Api) -> None:
    """A double click or a client retrying before the first answer: one effect, one answer."""
    import asyncio

    body = {"grants": [{"employee_id": "E3", "points": 25, "reason": "并发"}]}
    key = {"Idempotency-Key": "race-1"}
    answers = await asyncio.gather(*(api.call("POST", "/grants", json=body, headers=key,
                                              status=201) for _ in range(5)))
    assert all(a == answers[0] for a in answers)
    assert (await api.call("GET", "/employees/E3"))["balance"] == 25
    assert (await api.call("GET", "/ledger/verify"))["ok"]
