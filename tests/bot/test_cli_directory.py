"""``jifen directory sync`` through the console script against a loopback fake WeCom: dry-run
output, the mass-deactivation guard, --force, API errors, and ``jifen ledger verify`` after."""

from __future__ import annotations

import asyncio

from core.db import Database
from core.models import utcnow
from core.policy import Policy
from tests.cli_helpers import jifen
from tests.e2e.test_directory_events import demo_org
from tests.fakes.contacts import FakeWeComDirectory, Person
from tests.fakes.wecom_server import AGENT_ID, CORP_ID, SECRET


async def test_directory_sync_cli(db: Database, db_url: str, policy: Policy) -> None:
    from bot.demo import load_demo

    await load_demo(db, policy, now=utcnow())
    async with FakeWeComDirectory(org=demo_org()) as api:
        env = {"JIFEN_WECOM_CORP_ID": CORP_ID, "JIFEN_WECOM_AGENT_ID": str(AGENT_ID),
               "JIFEN_WECOM_CONTACT_SECRET": SECRET, "JIFEN_WECOM_API_BASE": api.base_url}

        async def cli(*args: str):  # type: ignore[no-untyped-def]
            # in a thread: the fake answers on this test's event loop meanwhile
            return await asyncio.to_thread(jifen, *args, db_url=db_url, env=env)

        api.org.people["newbie"] = Person("新人", 4, leader="wangwei")
        del api.org.people["liuyang"]
        dry = await cli("directory", "sync", "--platform", "wecom", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "create     新人 (wc-newbie)" in dry.stdout
        assert "deactivate 刘洋 (E006)" in dry.stdout
        assert "nothing changed" in dry.stdout

        for gone in ("wangwei", "sunyue"):
            del api.org.people[gone]
        refused = await cli("directory", "sync", "--platform", "wecom")
        assert refused.returncode == 1 and "max_deactivate_percent" in refused.stdout

        forced = await cli("directory", "sync", "--platform", "wecom", "--force")
        assert forced.returncode == 0, forced.stderr
        assert "1 created" in forced.stdout and "3 deactivated" in forced.stdout

        api.fail_next(20, status=500)
        broken = await cli("directory", "sync", "--platform", "wecom")
        assert broken.returncode == 1 and "nothing changed" in broken.stderr
        assert "Traceback" not in broken.stderr
    verified = await asyncio.to_thread(jifen, "ledger", "verify", db_url=db_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_directory_sync_needs_a_platform(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = jifen("directory", "sync", db_url=f"sqlite+aiosqlite:///{tmp_path}/j.db",
                env={"JIFEN_DIRECTORY_SYNC": "off"})
    assert res.returncode == 1 and "JIFEN_DIRECTORY_SYNC" in res.stderr


def test_a_bad_setting_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = jifen("directory", "sync", db_url=f"sqlite+aiosqlite:///{tmp_path}/j.db",
                env={"JIFEN_DIRECTORY_SYNC": "ldap"})
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith("jifen: configuration: JIFEN_DIRECTORY_SYNC:")
