"""Sign-in over real HTTP: one-time links, cookie flags, CSRF, deactivation and role changes
taking effect on the next request, and the secret key shared through the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from bot.app import DB_KEY
from core.models import Employee, LoginToken, WebSession, utcnow
from tests.cli_helpers import jifen
from tests.web.conftest import ADMIN, EMPLOYEE, HR, Console, csrf_of, demo_app, link_for


async def balance_of(console: Console, employee_id: str) -> int:
    from core import ledger

    result = await console.db.run(lambda s: ledger.balance(s, employee_id=employee_id, now=utcnow()))
    return result.balance


async def test_a_link_signs_in_once_with_a_strict_cookie(console: Console) -> None:
    link = await link_for(console.app, HR)
    first = await console.client.get(link, allow_redirects=False)
    assert first.status == 303 and first.headers["Location"] == "/admin"
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith("jifen_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Max-Age=28800" in cookie  # 8 hours for the console
    assert (await console.client.get("/admin")).status == 200
    again = await console.client.get(link, allow_redirects=False)
    assert again.status == 410
    body = await again.text()
    assert "已使用" in body and "Traceback" not in body
    stored = await console.db.run(lambda s: s.scalar(select(func.count()).select_from(LoginToken)
                                                     .where(LoginToken.token_hash.contains(
                                                         link.rsplit("=", 1)[1]))))
    assert stored == 0  # only a keyed hash of the token is kept


async def test_expired_and_forged_links_get_a_clear_page(console: Console) -> None:
    old = await link_for(console.app, HR, now=utcnow() - timedelta(minutes=11))
    expired = await console.client.get(old, allow_redirects=False)
    assert expired.status == 410 and "过期" in await expired.text()
    for forged in ("/admin/login?token=not-a-token", "/admin/login", "/admin/login?token=%00%ff"):
        resp = await console.client.get(forged, allow_redirects=False)
        assert resp.status == 400
        text = await resp.text()
        assert "登录链接无效" in text and "Traceback" not in text
    english = await console.client.get("/admin/login?token=x&lang=en")
    assert "not valid" in await english.text()
    assert (await console.client.get("/admin", allow_redirects=False)).status == 401


async def test_a_change_without_the_csrf_token_is_refused(console: Console) -> None:
    csrf = await console.sign_in(HR)
    before = await balance_of(console, EMPLOYEE)
    form = {"points": "30", "reason": "项目奖励", "nonce": "n1"}
    refused = await console.client.post(f"/admin/employees/{EMPLOYEE}/grant", data=form,
                                        allow_redirects=False)
    assert refused.status == 403
    wrong = await console.client.post(f"/admin/employees/{EMPLOYEE}/grant",
                                      data={**form, "csrf": "0" * 64}, allow_redirects=False)
    assert wrong.status == 403
    assert await balance_of(console, EMPLOYEE) == before
    done = await console.client.post(f"/admin/employees/{EMPLOYEE}/grant",
                                     data={**form, "csrf": csrf}, allow_redirects=False)
    assert done.status == 303
    twice = await console.client.post(f"/admin/employees/{EMPLOYEE}/grant",
                                      data={**form, "csrf": csrf}, allow_redirects=False)
    assert twice.status == 303  # a double click: the same form nonce grants once
    assert await balance_of(console, EMPLOYEE) == before + 30


async def test_deactivating_an_employee_ends_their_sessions_at_once(console: Console) -> None:
    await console.sign_in(HR)
    await console.db.run(lambda s: s.execute(update(Employee).where(Employee.employee_id == HR)
                                             .values(active=False)))
    resp = await console.client.get("/admin", allow_redirects=False)
    assert resp.status == 401 and "会话已结束" in await resp.text()
    await console.db.run(lambda s: s.execute(update(Employee).where(Employee.employee_id == HR)
                                             .values(active=True)))
    link = await link_for(console.app, HR)
    await console.db.run(lambda s: s.execute(update(Employee).where(Employee.employee_id == HR)
                                             .values(active=False)))
    assert (await console.client.get(link, allow_redirects=False)).status == 400


async def test_roles_are_read_on_every_request(console: Console) -> None:
    await console.sign_in(HR)
    await console.db.run(lambda s: s.execute(update(Employee).where(Employee.employee_id == HR)
                                             .values(roles="")))
    assert (await console.client.get("/admin/orders", allow_redirects=False)).status == 403
    await console.db.run(lambda s: s.execute(update(Employee).where(Employee.employee_id == HR)
                                             .values(roles="hr")))
    assert (await console.client.get("/admin/orders", allow_redirects=False)).status == 200


async def test_only_hr_and_admin_get_console_links(console: Console) -> None:
    from core import errors

    try:
        await link_for(console.app, EMPLOYEE)
    except errors.Forbidden:
        pass
    else:
        raise AssertionError("an employee without hr/admin got a console link")
    assert (await link_for(console.app, ADMIN)).startswith("/admin/login?token=")


async def test_logout_ends_the_session_row(console: Console) -> None:
    csrf = await console.sign_in(HR)
    assert (await console.client.post("/admin/logout", data={}, allow_redirects=False)).status == 403
    assert (await console.client.post("/admin/logout", data={"csrf": csrf})).status == 200
    assert (await console.client.get("/admin", allow_redirects=False)).status == 401
    ended = await console.db.run(lambda s: s.scalar(
        select(func.count()).select_from(WebSession).where(WebSession.ended_at.is_not(None))))
    assert ended == 1


async def test_replicas_share_the_generated_key_and_https_sets_secure(
        db_url: str, aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    first = await demo_app(db_url)
    second_app = await demo_app_on_same_db(first, public_url="https://hr.example.com")
    link = await link_for(first, HR)  # issued by one replica …
    other = await aiohttp_client(second_app)
    resp = await other.get(link, allow_redirects=False)  # … used on another
    assert resp.status == 303
    assert "Secure" in resp.headers["Set-Cookie"]
    # the test client keeps a Secure cookie away from plain http, as browsers do: send it by hand
    session_id = resp.cookies["jifen_session"].value
    page = await other.get("/admin", headers={"Cookie": f"jifen_session={session_id}"})
    assert page.status == 200 and csrf_of(await page.text())
    await first[DB_KEY].dispose()


async def demo_app_on_same_db(app, **extra):  # type: ignore[no-untyped-def]
    from bot.app import SETTINGS_KEY, build
    from tests.web.conftest import console_settings

    return await build(console_settings(app[SETTINGS_KEY].database_url, **extra), background=False)


def test_cli_prints_a_link_and_refuses_an_employee(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path}/j.db"
    env = {"JIFEN_PUBLIC_URL": "https://hr.example.com/", "JIFEN_PLAYGROUND": "0"}
    assert jifen("demo", db_url=url, env=env).returncode == 0
    ok = jifen("login-link", HR, "--admin", db_url=url, env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("https://hr.example.com/admin/login?token=")
    mall = jifen("login-link", EMPLOYEE, db_url=url, env=env)
    assert mall.stdout.startswith("https://hr.example.com/m/login?token=")
    refused = jifen("login-link", EMPLOYEE, "--admin", db_url=url, env=env)
    assert refused.returncode == 1 and "forbidden" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
