"""Worked examples for the catalog import and listing (SPEC sections 3 and 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from config.catalog_file import parse_catalog
from core import errors, ledger
from core.catalog.importer import CatalogImportReport, ItemSpec, create_item, import_items
from core.catalog.service import categories, get_item, list_items
from core.db import Database
from core.ledger.verify import verify
from core.models import CatalogItem, CodeEntry
from core.orders.service import confirm, start_redemption
from core.policy import Policy
from tests.factories import add_employee

CATALOG_YAML = """\
items:
  - {sku: CUP01, name: 定制马克杯, points: 80, category: 周边, stock: 5, kind: physical,
     description: 公司 logo 陶瓷杯, image_url: "https://img.example/cup.png"}
  - sku: JD100
    name: 京东E卡 100元
    points: 1000
    category: 卡券
    kind: code
    codes: [JD-0001, JD-0002, JD-0002, 12345]
  - sku: LEAVE1
    name: 调休半天
    points: 300
    category: 假期
    kind: leave
    requires_approval: true
    limit_per_employee: 1
  - sku: XMAS
    name: 圣诞礼盒
    points: 200
    category: 周边
    available_from: 2026-12-20
    available_until: 2026-12-25
"""

CATALOG_CSV = (
    "\ufeffsku,name,points,category,stock,limit_per_employee,kind,requires_approval,codes,extra\n"
    "CF01,咖啡券,30,卡券,,,code,否,CF-1|CF-2|CF-3,ignored\n"
    "\n"
    'BAG01,"帆布包, 大号",120,周边,20,2,physical,false,,\n'
    "GYM01,健身月卡,500,健康,5,,service,是,,\n"
)


async def _import(
    db: Database, policy: Policy, now: datetime, text: str, fmt: str
) -> CatalogImportReport:
    async with db.uow() as s:
        return await import_items(s, items=parse_catalog(text, fmt=fmt), now=now, policy=policy)


async def test_import_yaml_creates_items_codes_and_windows(
    db: Database, policy: Policy, now: datetime
) -> None:
    report = await _import(db, policy, now, CATALOG_YAML, "yaml")
    assert (report.created, report.updated, report.codes_added) == (4, 0, 3)
    async with db.uow() as s:
        cup = await get_item(s, "CUP01")
        assert (cup.stock, cup.sold, cup.stock_added, cup.image_url) == (5, 0, 5, "https://img.example/cup.png")
        card = await get_item(s, "jd100")  # SKUs match case-insensitively
        assert (card.kind, card.stock, card.stock_added) == ("code", 3, 3)  # a code item's stock = free codes
        codes = set(await s.scalars(select(CodeEntry.code).where(CodeEntry.sku == "JD100")))
        assert codes == {"JD-0001", "JD-0002", "12345"}
        leave = await get_item(s, "LEAVE1")
        assert (leave.stock, leave.requires_approval, leave.limit_per_employee) == (None, True, 1)
        xmas = await get_item(s, "XMAS")
        # Dates are local (Asia/Shanghai) midnights; the end date is included in full.
        assert xmas.available_from == datetime(2026, 12, 19, 16, 0, tzinfo=UTC)
        assert xmas.available_until == datetime(2026, 12, 25, 16, 0, tzinfo=UTC)
        assert await verify(s) == []


async def test_import_csv_with_bom_codes_and_booleans(db: Database, policy: Policy, now: datetime) -> None:
    report = await _import(db, policy, now, CATALOG_CSV, "csv")
    assert (report.created, report.codes_added) == (3, 3)
    async with db.uow() as s:
        coffee, bag, gym = [await get_item(s, sku) for sku in ("CF01", "BAG01", "GYM01")]
        assert (coffee.kind, coffee.stock, coffee.requires_approval) == ("code", 3, False)
        assert (bag.name, bag.stock, bag.limit_per_employee) == ("帆布包, 大号", 20, 2)
        assert (gym.kind, gym.requires_approval) == ("service", True)


@pytest.mark.parametrize(("text", "fmt", "line", "field"), [
    ("items:\n  - {sku: A1, name: ok, points: 10}\n  - sku: A2\n    name: bad\n    points: -5\n",
     "yaml", 5, "points"),
    ("items:\n  - {sku: A1, name: ok, points: 10, kind: gift}\n", "yaml", 2, "kind"),
    ("items:\n  - {sku: A1, name: ok, points: 10, stok: 3}\n", "yaml", 2, "stok"),
    ("items:\n  - {sku: A1, name: ok, points: 10, codes: [X]}\n", "yaml", 2, "codes"),
    ("items:\n  - {sku: A1, name: ok, points: 10}\n  - {sku: A1, name: again, points: 10}\n",
     "yaml", 3, "sku"),
    ("items:\n  - {sku: A1, name: x, points: 1, available_from: 2026-05-01, available_until: 2026-04-01}\n",
     "yaml", 2, "available_until"),
    ("sku,name,points,stock\nA1,ok,10,3\nA2,bad,10,many\n", "csv", 3, "stock"),
    ("sku,name,points,available_from\nA1,ok,10,2026-13-01\n", "csv", 2, "available_from"),
    ("sku,name\nA1,ok\n", "csv", 1, "header"),
    ("sku,name,points\nA1,ok,10,extra\n", "csv", 2, "row"),
    ("items: [oops\n", "yaml", 2, "file"),
])
async def test_bad_item_names_line_and_field_and_imports_nothing(
    db: Database, policy: Policy, now: datetime, text: str, fmt: str, line: int, field: str
) -> None:
    with pytest.raises(errors.InvalidInput) as exc:
        await _import(db, policy, now, text, fmt)
    assert exc.value.params["line"] == line
    assert exc.value.params.get("field", field) == field
    assert exc.value.params["message"].startswith(f"{field}:") or field in ("file", "row")
    assert "\n" not in exc.value.params["message"]
    async with db.uow() as s:
        assert await s.scalar(select(func.count()).select_from(CatalogItem)) == 0


async def test_reimport_updates_and_restocks_keeping_sold(db: Database, policy: Policy, now: datetime) -> None:
    await _import(db, policy, now, CATALOG_YAML, "yaml")
    async with db.uow() as s:
        await add_employee(s, "E1", "张三")
        await ledger.credit(s, employee_id="E1", amount=5000, key="g", kind="grant", actor="HR",
                            reason="r", now=now, policy=policy)
    for sku, qty in (("CUP01", 2), ("JD100", 1)):
        async with db.uow() as s:
            view = await start_redemption(s, employee_id="E1", sku=sku, qty=qty, now=now, policy=policy)
            await confirm(s, employee_id="E1", code=view.code, now=now, policy=policy)
    again = CATALOG_YAML.replace("points: 80, category: 周边, stock: 5", "points: 90, category: 周边, stock: 10")
    again = again.replace("codes: [JD-0001, JD-0002, JD-0002, 12345]", "codes: [JD-0001, JD-0003]")
    report = await _import(db, policy, now, again, "yaml")
    assert (report.created, report.updated, report.codes_added) == (0, 4, 1)
    async with db.uow() as s:
        cup = await get_item(s, "CUP01")
        # 10 available now, 2 already sold: 12 stocked in total (5 first, 7 more now).
        assert (cup.points, cup.stock, cup.sold, cup.stock_added) == (90, 10, 2, 12)
        card = await get_item(s, "JD100")
        assert (card.stock, card.sold, card.stock_added) == (3, 1, 4)  # 4 codes, one handed out
        assert await verify(s) == []


async def test_list_items_filters_window_category_and_retired(
    db: Database, policy: Policy, now: datetime
) -> None:
    await _import(db, policy, now, CATALOG_YAML, "yaml")
    retired = "items:\n  - {sku: OLD1, name: 旧款, points: 10, category: 周边, active: false}\n"
    await _import(db, policy, now, retired, "yaml")
    async with db.uow() as s:
        assert [i.sku for i in await list_items(s, category=None, now=now)] == ["LEAVE1", "JD100", "CUP01"]
        assert [i.sku for i in await list_items(s, category="周边", now=now)] == ["CUP01"]
        christmas = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
        assert "XMAS" in [i.sku for i in await list_items(s, category="周边", now=christmas)]
        after = datetime(2026, 12, 25, 16, 0, tzinfo=UTC)
        assert "XMAS" not in [i.sku for i in await list_items(s, category=None, now=after)]
        assert await categories(s) == sorted(["假期", "卡券", "周边"])
        with pytest.raises(errors.UnknownItem):
            await get_item(s, "OLD1")
        assert (await get_item(s, "OLD1", include_inactive=True)).active is False
        with pytest.raises(errors.UnknownItem):
            await get_item(s, "NOPE")


async def test_datetime_window_without_offset_is_local(db: Database, policy: Policy, now: datetime) -> None:
    text = ("sku,name,points,available_from,available_until\n"
            "FLASH,秒杀,10,2026-03-15T10:00:00,2026-03-15T12:00:00+08:00\n")
    await _import(db, policy, now, text, "csv")
    async with db.uow() as s:
        item = await get_item(s, "FLASH")
        assert item.available_from == now  # 10:00 Shanghai
        assert item.available_until == now + timedelta(hours=2)
        assert [i.sku for i in await list_items(s, category=None, now=now - timedelta(seconds=1))] == []
        assert [i.sku for i in await list_items(s, category=None, now=now)] == ["FLASH"]


async def test_a_new_item_may_not_take_a_used_sku_in_any_case(
        db: Database, policy: Policy, now: datetime) -> None:
    await _import(db, policy, now, CATALOG_CSV, "csv")
    for sku in ("BAG01", "bag01"):
        with pytest.raises(errors.InvalidInput) as refused:
            async with db.uow() as s:
                await create_item(s, spec=ItemSpec(sku=sku, name="别的包", points=1), now=now,
                                  policy=policy, actor_id="E002")
        assert refused.value.field == "sku"
    async with db.uow() as s:
        bag = await get_item(s, "BAG01")
        assert (bag.name, bag.points) == ("帆布包, 大号", 120)  # unchanged
    report = await db.run(lambda s: create_item(s, spec=ItemSpec(sku="BAG02", name="小包", points=60),
                                                now=now, policy=policy, actor_id="E002"))
    assert report.created == 1
