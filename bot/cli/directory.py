"""``jifen directory sync [--platform wecom|dingtalk] [--dry-run] [--force]`` (SPEC section 12)."""

from __future__ import annotations

from bot.cli.errors import UserError
from bot.directory.runner import report_lines, run_sync
from bot.directory.sources import NotConfigured
from bot.platforms.dingtalk.errors import DingTalkError
from bot.platforms.wecom.client import WeComError
from config.settings import Settings
from core.db import Database
from core.models import utcnow
from core.policy import Policy


async def sync_and_report(db: Database, policy: Policy, settings: Settings, *,
                          platform: str | None, dry_run: bool, force: bool) -> int:
    """Run one sync, print every change, and return the exit code (1 when the guard refused)."""
    platform = platform or settings.directory_sync
    if platform not in ("wecom", "dingtalk"):
        raise UserError("no platform: pass --platform wecom|dingtalk or set JIFEN_DIRECTORY_SYNC")
    try:
        report = await run_sync(db=db, policy=policy, settings=settings, platform=platform,
                                now=utcnow(), dry_run=dry_run, force=force)
    except NotConfigured as exc:
        raise UserError(str(exc)) from None
    except (WeComError, DingTalkError) as exc:
        raise UserError(f"{platform} contact API failed ({exc}); nothing changed") from None
    for line in report_lines(report):
        print(line)
    return 1 if report.refused else 0
