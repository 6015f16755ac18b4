"""``jifen jobs run digest [--now] [--dry-run]``: the weekly 公示 from the shell, once per week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.bot.test_cli import Cli
from tests.bot.test_cli import cli as cli  # noqa: F401 - the fixture
from tests.conftest import ROOT


def _policy_with_digest(cli: Cli) -> str:
    text = (ROOT / "config" / "policy.yaml").read_text(encoding="utf-8")
    text = text.replace("broadcast:\n  targets: []", "broadcast:\n  targets:\n"
                        "    - {name: 全员群, platform: wecom, kind: appchat, chatid: CHAT1}")
    text = text.replace("  # targets: [全员群] ", "  targets: [全员群] ")
    return cli.write("policy.yaml", text)


def test_digest_dry_run_then_once_per_week(cli: Cli) -> None:
    cli.ok("demo")  # awards given over the last days
    env = {"JIFEN_POLICY_FILE": _policy_with_digest(cli)}
    next_week = (datetime.now(UTC) + timedelta(days=7)).isoformat()

    def run(*extra: str) -> str:
        res = cli.run("jobs", "run", "digest", "--now", next_week, *extra, env=env)
        assert res.returncode == 0, res.stderr
        return res.stdout

    dry = run("--dry-run")
    assert "would post to 全员群" in dry and "receivers" in dry, dry
    assert "weekly_digest" not in cli.ok("outbox")
    assert "queued for 全员群" in run()
    assert "already posted to 全员群" in run()  # another replica, a retried job
    assert sum("weekly_digest" in line for line in cli.ok("outbox").splitlines()) == 1
    assert "no digest.targets configured" in cli.ok("jobs", "run", "digest", "--dry-run")
    expire = cli.ok("jobs", "run", "expire", "--dry-run")  # every job has a dry run now
    assert expire.startswith("dry run, nothing changed; a real run would have: expired "), expire
