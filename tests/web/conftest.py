"""The real application with the demo organisation, served over HTTP on loopback, and helpers to
sign in the way people do: a one-time link, then the session cookie and its CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import DB_KEY, POLICY_KEY, SETTINGS_KEY, build
from bot.app.demo import load_demo
from bot.web.auth.links import login_link
from config.settings import Settings
from core.db import Database
from core.models import utcnow
from tests.conftest import ROOT, _reset_postgres
from tests.web.browser import (  # noqa: F401  (fixtures: one browser, one jifen run)
    CHROMIUM_SESSION,
    browser,
    chromium_session,
    is_browser_test,
    live,
)

HR, ADMIN, EMPLOYEE = "E002", "E001", "E004"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def console_settings(db_url: str, **extra: object) -> Settings:
    return Settings(database_url=db_url, policy_file=str(ROOT / "config" / "policy.yaml"),
                    playground=False, _env_file=None, **extra)  # type: ignore[call-arg, arg-type]


async def demo_app(db_url: str, **extra: object) -> web.Application:
    app = await build(console_settings(db_url, **extra), background=False)
    db = app[DB_KEY]
    if not db.is_sqlite:
        await _reset_postgres(db)
    await load_demo(db, app[POLICY_KEY], now=utcnow())
    return app


async def link_for(app: web.Application, employee_id: str, *, now: datetime | None = None,
                   purpose: str = "admin") -> str:
    """The path and query of a fresh sign-in link (what chat 后台 and the CLI hand out)."""
    settings = app[SETTINGS_KEY]
    url = await app[DB_KEY].run(lambda s: login_link(s, settings, employee_id=employee_id,
                                                     purpose=purpose, now=now or utcnow()))
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "page has no CSRF field"
    return found[1]


class _Forms(HTMLParser):
    """Each form of a page as a browser would submit it: field name → value (text, textarea,
    the selected option, ticked checkboxes); hidden fields, files and buttons left out."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self._filling: str | None = None  # a textarea, or a selected option without a value
        self._select = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        kind = a.get("type", "text")
        if tag == "form":
            self.forms.append({})
        elif tag == "input" and kind not in ("hidden", "file", "checkbox"):
            self.forms[-1][a["name"]] = a.get("value", "")
        elif tag == "input" and kind == "checkbox" and "checked" in a:
            self.forms[-1][a["name"]] = a.get("value", "on")
        elif tag == "textarea" and "hidden" not in a:
            self._start(a["name"])
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and "selected" in a:
            self._start(self._select, a.get("value"))

    def _start(self, name: str, value: str | None = None) -> None:
        self.forms[-1][name] = value or ""
        self._filling = name if value is None else None

    def handle_data(self, data: str) -> None:
        if self._filling:
            self.forms[-1][self._filling] += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("textarea", "option"):
            self._filling = None


def forms_of(html: str) -> list[dict[str, str]]:
    """The page's forms with what their fields hold (see ``_Forms``)."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


@dataclass
class Console:
    app: web.Application
    client: TestClient  # type: ignore[type-arg]

    @property
    def db(self) -> Database:
        return self.app[DB_KEY]

    async def sign_in(self, employee_id: str = HR) -> str:
        """Follow a fresh link; returns the CSRF token of the dashboard."""
        resp = await self.client.get(await link_for(self.app, employee_id), allow_redirects=False)
        assert resp.status == 303, await resp.text()
        page = await self.client.get("/admin")
        assert page.status == 200
        return csrf_of(await page.text())


@pytest.fixture
async def console(db_url: str, aiohttp_client) -> AsyncIterator[Console]:  # type: ignore[no-untyped-def]
    app = await demo_app(db_url)
    yield Console(app, await aiohttp_client(app))


@pytest.hookimpl(trylast=True)  # after any shuffling plugin
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last and together: sync Playwright keeps an event loop running on the main
    thread while the browser is open, and async tests could not start their own loop then."""
    items[:] = [i for i in items if not is_browser_test(i)] + [i for i in items if is_browser_test(i)]


@pytest.hookimpl(trylast=True)  # after the test's own fixtures (browser contexts) are torn down
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the Chromium after the last browser test of this process, so tests that follow it
    (possible under pytest-xdist) get the main thread's event loop back."""
    if is_browser_test(item) and not is_browser_test(nextitem):
        CHROMIUM_SESSION.stop()
