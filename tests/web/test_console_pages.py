"""Console pages over real HTTP against the real core: every page renders in both languages,
the order desk (bulk, CSV, masked contacts), grants preview/confirm, catalog codes, approvals,
broadcast preview, and the dashboard agreeing with the monthly report."""

from __future__ import annotations

import re

from sqlalchemy import event, func, select

from core.audit.service import AuditFilter, entries
from core.models import CatalogItem, CodeEntry, LedgerTransaction, Order, OutboxMessage, utcnow
from core.orders.service import confirm, start_redemption
from core.reports.service import month_summary
from core.timeutil import month_key
from tests.core.test_report_rollup import fold
from tests.web.conftest import ADMIN, EMPLOYEE, HR, Console, forms_of

PAGES = ("/admin", "/admin/employees", "/admin/employees?q=研发", "/admin/employees/E004",
         "/admin/orders", "/admin/orders?state=placed", "/admin/grants", "/admin/catalog",
         "/admin/catalog/new", "/admin/catalog/CUP01", "/admin/approvals", "/admin/broadcasts",
         "/admin/reports", "/admin/reports?month=2026-01", "/admin/audit")


async def test_every_page_renders_in_chinese_and_english(console: Console) -> None:
    await console.sign_in(HR)
    for path in PAGES:
        resp = await console.client.get(path)
        assert resp.status == 200, path
        assert "员工" in await resp.text()
    english = await console.client.get("/admin?lang=en")
    assert "Employees" in await english.text()
    assert "Dashboard" in await (await console.client.get("/admin/orders")).text()  # remembered
    for asset in ("/static/vendor/htmx-2.0.4.min.js", "/static/vendor/echarts-5.5.1.min.js",
                  "/static/web.css"):
        assert (await console.client.get(asset)).status == 200, asset
    bad = await console.client.get("/admin/reports?month=2026-13", allow_redirects=False)
    assert bad.status == 303 and "problem=" in bad.headers["Location"]
    missing = await console.client.get("/admin/employees/NOPE", allow_redirects=False)
    assert missing.status == 303


async def _order(console: Console, employee_id: str) -> str:
    from bot.app import POLICY_KEY

    async def place(s):  # type: ignore[no-untyped-def]
        pol = console.app[POLICY_KEY]
        conf = await start_redemption(s, employee_id=employee_id, sku="CUP01", now=utcnow(),
                                      policy=pol)
        return (await confirm(s, employee_id=employee_id, code=conf.code, now=utcnow(),
                              policy=pol)).order_no

    return str(await console.db.run(place))


async def test_order_desk_bulk_fulfil_cancel_and_csv(console: Console) -> None:
    csrf = await console.sign_in(HR)
    first, second = await _order(console, "E003"), await _order(console, "E005")
    desk = await (await console.client.get("/admin/orders?state=placed")).text()
    assert first in desk and second in desk and "138****" in desk
    assert "13800000003" not in desk  # contacts are masked
    resp = await console.client.post("/admin/orders", data={
        "csrf": csrf, "action": "fulfil", "order_no": [first, second], "note": "前台自取"},
        allow_redirects=False)
    assert resp.status == 303 and "notice=" in resp.headers["Location"]
    again = await console.client.post("/admin/orders", data={
        "csrf": csrf, "action": "cancel", "order_no": [first]}, allow_redirects=False)
    assert "problem=" in again.headers["Location"]  # fulfilled orders cannot be cancelled

    async def state(s):  # type: ignore[no-untyped-def]
        orders = {o.order_no: o.status for o in await s.scalars(select(Order))}
        pushes = await s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "order_fulfilled"))
        return orders, pushes

    orders, pushes = await console.db.run(state)
    assert orders[first] == orders[second] == "fulfilled" and pushes == 2
    csv_text = await (await console.client.get("/admin/orders.csv?state=fulfilled")).text()
    assert csv_text.startswith("\ufefforder_no,") and first in csv_text and "前台自取" in csv_text
    assert "13800000003" not in csv_text


async def _transactions(console: Console) -> int:
    return int(await console.db.run(lambda s: s.scalar(
        select(func.count()).select_from(LedgerTransaction))) or 0)


async def test_grants_preview_changes_nothing_and_a_file_grants_once(console: Console) -> None:
    csrf = await console.sign_in(HR)
    before = await _transactions(console)
    bad = "employee_id,points,reason\nE003,10,好\nE404,5,谁\nE004,-3,负数\n"
    page = await (await console.client.post("/admin/grants/preview",
                                            data={"csrf": csrf, "text": bad})).text()
    assert page.count('class="bad"') == 2 and 'id="confirm"' not in page
    assert "E404" in page and await _transactions(console) == before
    # each row's problem in the console's language, the cell as written
    assert "points：「-3」不是正整数" in page and "employee_id：不是在职员工" in page
    assert "positive whole number" not in page
    good = "employee_id,points,reason\nE003,10,好样的\nE004,20,加油\n"
    page = await (await console.client.post("/admin/grants/preview",
                                            data={"csrf": csrf, "text": good})).text()
    assert 'id="confirm"' in page and await _transactions(console) == before
    hidden = re.search(r'<textarea name="text" hidden>(.*?)</textarea>', page, re.S)
    assert hidden
    for _ in range(2):  # a double click or the same file again: granted once
        resp = await console.client.post("/admin/grants/confirm", data={
            "csrf": csrf, "text": hidden[1].replace("\n", "\r\n")}, allow_redirects=False)
        assert resp.status == 303
    assert await _transactions(console) == before + 2
    broken = await console.client.post("/admin/grants/confirm", data={"csrf": csrf, "text": bad},
                                       allow_redirects=False)
    assert broken.status == 422 and await _transactions(console) == before + 2
    html = await broken.text()  # the refusal, and the text back in the box to be fixed
    assert "第 4 行：points：「-3」不是正整数" in html
    assert forms_of(html)[1]["text"] == bad


async def test_catalog_item_with_codes_never_shows_them(console: Console) -> None:
    csrf = await console.sign_in(HR)
    resp = await console.client.post("/admin/catalog/new", data={
        "csrf": csrf, "sku": "GIFT50", "name": "京东卡 50", "points": "500", "kind": "code",
        "category": "卡券", "codes": "SECRET-AAA-111\nSECRET-BBB-222\n", "active": "1"},
        allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/admin/catalog/GIFT50")
    for path in ("/admin/catalog", "/admin/catalog/GIFT50"):
        text = await (await console.client.get(path)).text()
        assert "京东卡 50" in text and "SECRET-" not in text
    codes = await console.db.run(lambda s: s.scalar(
        select(func.count()).select_from(CodeEntry).where(CodeEntry.sku == "GIFT50")))
    assert codes == 2
    await console.client.post("/admin/catalog/GIFT50", data={
        "csrf": csrf, "sku": "GIFT50", "name": "京东卡 50", "points": "500", "kind": "code",
        "active": "0"})
    item = await console.db.run(lambda s: s.get(CatalogItem, "GIFT50"))
    assert item is not None and item.active is False
    invalid = await console.client.post("/admin/catalog/new", data={
        "csrf": csrf, "sku": "BAD SKU", "name": "x", "points": "0"}, allow_redirects=False)
    assert invalid.status == 422
    assert "sku：「BAD SKU」格式不对" in await invalid.text()


TYPED_ITEM = {"sku": "LAMP7", "name": "台灯", "points": "-5", "category": "生活", "kind": "service",
              "stock": "12", "limit_per_employee": "2", "requires_approval": "1",
              "description": "护眼\n可调光", "image_url": "https://example.com/lamp.png",
              "available_from": "2030-01-01", "available_until": "2030-02-01",
              "codes": ""}


async def _items(console: Console) -> list[tuple[str, str, int]]:
    rows = await console.db.run(lambda s: s.execute(
        select(CatalogItem.sku, CatalogItem.name, CatalogItem.points).order_by(CatalogItem.sku)))
    return [tuple(r) for r in rows]


async def _refused_new_item(console: Console, csrf: str, typed: dict[str, str]) -> str:
    """Post the new-item form as ``typed``: refused with 422, its page shows every field as
    typed; the page's HTML."""
    resp = await console.client.post("/admin/catalog/new", data={"csrf": csrf, **typed},
                                     allow_redirects=False)
    assert resp.status == 422
    html = await resp.text()
    assert forms_of(html)[1] == typed
    return html


async def test_a_refused_new_item_keeps_every_field_as_typed(console: Console) -> None:
    """A bad price: the refusal in Chinese, 422, every field as typed, nothing stored."""
    csrf = await console.sign_in(HR)
    before = await _items(console)
    html = await _refused_new_item(console, csrf, TYPED_ITEM)
    assert '<p class="problem">points：「-5」不是正整数</p>' in html
    assert await _items(console) == before


async def test_a_new_item_may_not_take_a_used_sku(console: Console) -> None:
    """The new-item form never overwrites another item: its SKU is refused, the rest kept."""
    csrf = await console.sign_in(HR)
    before = await _items(console)
    typed = dict(TYPED_ITEM, sku="CUP01", points="90")
    assert "sku：「CUP01」已属于 定制马克杯" in await _refused_new_item(console, csrf, typed)
    same_but_case = dict(typed, sku="cup01")
    assert "「cup01」已属于 定制马克杯" in await _refused_new_item(console, csrf, same_but_case)
    assert await _items(console) == before


async def test_a_refused_edit_shows_the_edit_not_the_stored_item(console: Console) -> None:
    csrf = await console.sign_in(HR)
    before = await _items(console)
    resp = await console.client.post("/admin/catalog/CUP01", data={
        "csrf": csrf, "sku": "CUP01", "name": "新马克杯", "points": "80", "kind": "physical",
        "stock": "-1", "active": "1"}, allow_redirects=False)
    assert resp.status == 422
    html = await resp.text()
    assert "stock：「-1」小于 0" in html
    shown = forms_of(html)[1]
    assert (shown["name"], shown["points"], shown["stock"]) == ("新马克杯", "80", "-1")
    assert await _items(console) == before
    english = await console.client.post("/admin/catalog/CUP01?lang=en", data={
        "csrf": csrf, "sku": "CUP01", "name": "", "points": "80"}, allow_redirects=False)
    assert english.status == 422 and "name: is required" in await english.text()


async def test_a_refused_grant_keeps_its_form_and_changes_nothing(console: Console) -> None:
    csrf = await console.sign_in(HR)
    before = await _transactions(console)
    page = await (await console.client.get(f"/admin/employees/{EMPLOYEE}")).text()
    nonce = re.search(r'name="nonce" value="([^"]+)-grant"', page)
    assert nonce
    resp = await console.client.post(f"/admin/employees/{EMPLOYEE}/grant", data={
        "csrf": csrf, "nonce": f"{nonce[1]}-grant", "points": "abc", "reason": "季度之星"},
        allow_redirects=False)
    assert resp.status == 422
    html = await resp.text()
    assert '<p class="problem">积分数量必须是正整数。</p>' in html
    grant, deduct = forms_of(html)[1:3]
    assert grant == {"points": "abc", "reason": "季度之星"}
    assert deduct == {"points": "", "reason": ""}  # only the refused form is refilled
    assert await _transactions(console) == before
    fixed = await console.client.post(f"/admin/employees/{EMPLOYEE}/grant", data={
        "csrf": csrf, "nonce": f"{nonce[1]}-grant", "points": "10", "reason": "季度之星"},
        allow_redirects=False)
    assert fixed.status == 303 and await _transactions(console) == before + 1


async def test_admins_decide_approvals_and_hr_only_sees_them(console: Console) -> None:
    csrf = await console.sign_in(HR)
    page = await (await console.client.get("/admin/approvals")).text()
    assert "A1" in page and "赵磊" in page
    refused = await console.client.post("/admin/approvals/1", data={
        "csrf": csrf, "decision": "approve"}, allow_redirects=False)
    assert "problem=" in refused.headers["Location"]
    csrf = await console.sign_in(ADMIN)
    done = await console.client.post("/admin/approvals/1", data={
        "csrf": csrf, "decision": "approve"}, allow_redirects=False)
    assert "notice=" in done.headers["Location"]
    assert "A1" not in await (await console.client.get("/admin/approvals")).text()
    # the console's decision is in the audit log, by its admin, like every HR change
    audit = await (await console.client.get("/admin/audit")).text()
    assert "approval.approved" in audit and "approval:A1" in audit
    [row] = await console.db.run(lambda s: entries(s, where=AuditFilter(subject="approval:A1"),
                                                   limit=10))
    assert (row.actor, row.action, row.before["status"], row.after["status"]) == (
        ADMIN, "approval.approved", "pending", "approved")


async def test_broadcast_preview_per_platform(console: Console) -> None:
    csrf = await console.sign_in(HR)
    page = await (await console.client.post("/admin/broadcasts/preview", data={
        "csrf": csrf, "text": "本周五下午茶"})).text()
    assert "WeCom" in page and "DingTalk" in page and "本周五下午茶" in page
    refused = await console.client.post("/admin/broadcasts", data={
        "csrf": csrf, "text": "本周五下午茶", "at": "2030-01-02T15:00"}, allow_redirects=False)
    assert refused.status == 422  # no targets in the shipped policy; the message is kept
    html = await refused.text()
    assert "还没有配置广播目标" in html
    assert forms_of(html)[1] == {"text": "本周五下午茶", "at": "2030-01-02T15:00"}


async def test_dashboard_figures_are_the_reports(console: Console) -> None:
    from bot.app import POLICY_KEY

    await console.sign_in(HR)
    policy = console.app[POLICY_KEY]
    summary = await console.db.run(lambda s: month_summary(
        s, month=month_key(utcnow(), policy), now=utcnow(), policy=policy, actor_id="cli"))
    html = await (await console.client.get("/admin")).text()
    shown = dict(re.findall(r'data-k="(\w+)">(?:<a [^>]*>)?(\d+)', html))
    assert int(shown["issued"]) == summary.issued
    assert int(shown["redeemed"]) == summary.redeemed
    assert int(shown["expired"]) == summary.expired
    assert int(shown["expiring_30d"]) == summary.expiring_30d
    assert int(shown["orders_waiting"]) >= 1 and int(shown["approvals_waiting"]) >= 1


async def test_the_dashboard_reads_the_stored_months_in_few_statements(console: Console) -> None:
    """Twelve months of figures come from the report's rollup in one pass (it was four
    statements per month and figure before), and they are the same after the fold."""
    from bot.app import POLICY_KEY

    await console.sign_in(HR)
    live = await (await console.client.get("/admin")).text()
    assert await fold(console.db, console.app[POLICY_KEY]) > 0
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    engines = {console.db.engine.sync_engine, console.db.reader.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        stored = await (await console.client.get("/admin")).text()
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
    figures = re.compile(r'data-k="(\w+)">(?:<a [^>]*>)?(\d+)')
    assert figures.findall(stored) == figures.findall(live)
    assert len(seen) <= 30, seen


async def test_the_report_page_shows_open_orders_like_jifen_report(console: Console) -> None:
    """The demo has one order waiting for approval: the page says so, as the CLI and chat do,
    and with no order handed over this month the top items say none instead of an empty chart."""
    await console.sign_in(HR)
    html = await (await console.client.get("/admin/reports")).text()
    assert re.search(r'data-k="open_orders">1<', html), html
    assert 'id="items"' not in html and "暂无" in html
