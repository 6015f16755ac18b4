"""The one Chromium for every browser test (Debian's /usr/bin/chromium, never a downloaded
browser) and the real ``jifen run`` it talks to: session-scoped, shared by the console's and the
mall's browser tests (the fixtures are re-exported by tests/web/conftest.py)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from core.db import Database
from tests.cli_helpers import jifen

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]

BROWSER_MARKS = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="needs the playwright package (pip install playwright; no browser download)"),
]


class Live:
    def __init__(self, base: str, db_url: str, env: dict[str, str], shots: Path) -> None:
        self.base, self.db_url, self.env, self.shots = base, db_url, env, shots

    def link(self, employee_id: str = "E002", *, admin: bool = True) -> str:
        """``jifen login-link`` as an operator runs it: the console's link, or the mall's."""
        flags = ["--admin"] if admin else []
        out = jifen("login-link", employee_id, *flags, db_url=self.db_url, env=self.env)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def query(self, fn: Any) -> Any:
        async def go() -> Any:
            db = Database(self.db_url)
            try:
                async with db.uow() as s:
                    return await fn(s)
            finally:
                await db.dispose()

        # sync Playwright keeps an event loop on this thread; the database is read from another
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):  # polling for readiness, not timing anything
        if proc.poll() is not None:
            raise RuntimeError("jifen run exited early")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("jifen run did not become healthy")


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """``jifen demo`` then ``jifen run`` (migrations, outbox worker, scheduler) on a free port."""
    tmp = tmp_path_factory.mktemp("console")
    port = _free_port()
    db_url = f"sqlite+aiosqlite:///{tmp}/j.db"
    env = {"JIFEN_HTTP_PORT": str(port), "JIFEN_POLICY_FILE": str(ROOT / "config" / "policy.yaml"),
           "JIFEN_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    assert jifen("demo", db_url=db_url, env=env).returncode == 0
    log = (tmp / "run.log").open("wb")
    proc = subprocess.Popen([*_jifen_cmd(), "run"], env={**os.environ, **env,
                                                         "JIFEN_DATABASE_URL": db_url},
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        shots = Path(os.environ.get("JIFEN_SCREENSHOTS", tmp))
        shots.mkdir(parents=True, exist_ok=True)
        yield Live(f"http://127.0.0.1:{port}", db_url, env, shots)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _jifen_cmd() -> list[str]:
    import shutil
    import sys

    exe = shutil.which("jifen")
    return [exe] if exe else [sys.executable, "-m", "bot.cli"]


class _Chromium:
    """The one Chromium, started by the first browser test and stopped after the last one.

    Sync Playwright keeps an event loop on the main thread while it runs, so async tests cannot
    start their own loop in the same process until it stops. Browser tests are collected last, so
    each pytest process (each pytest-xdist worker) runs its share of them as one stretch at its
    end and launches at most one Chromium; it is stopped after the stretch all the same
    (``pytest_runtest_teardown`` in tests/web/conftest.py), so nothing depends on that order."""

    def __init__(self) -> None:
        self._pw: Any = None
        self._browser: Any = None

    def get(self) -> Any:
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._pw = sync_playwright().start()
            self._browser = self._pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        return self._browser

    def stop(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._pw.stop()
        self._pw = self._browser = None


CHROMIUM_SESSION = _Chromium()


def is_browser_test(item: pytest.Item | None) -> bool:
    return item is not None and item.nodeid.split("::")[0].endswith("_browser.py")


@pytest.fixture(scope="session")
def chromium_session() -> Iterator[_Chromium]:
    """Stops the browser before the session fixtures set up earlier (e.g. the PostgreSQL test
    database, dropped with ``asyncio.run``) are torn down, if the last test was a browser test."""
    yield CHROMIUM_SESSION
    CHROMIUM_SESSION.stop()


@pytest.fixture
def browser(chromium_session: _Chromium) -> Any:
    return chromium_session.get()
