"""``jifen directory sync [--platform wecom|dingtalk] [--dry-run] [--force]`` (SPEC section 12)."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli import UserError, command
from config.settings import Settings


def add_directory_commands(sub: Any, cmd: Any, group: Any) -> None:
    """Called from the CLI parser with its sub-parser helpers."""
    sync = cmd(group(sub, "directory", "directory sync from WeCom / DingTalk", "dir_command"),
               "sync", "directory_sync", "read every department and member and update the directory")
    sync.add_argument("--platform", choices=("wecom", "dingtalk"),
                      help="default: JIFEN_DIRECTORY_SYNC")
    sync.add_argument("--dry-run", action="store_true", help="list every change, change nothing")
    sync.add_argument("--force", action="store_true",
                      help="apply even beyond directory.max_deactivate_percent")


@command("directory_sync")
async def cmd_directory_sync(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli_commands import _database, _policy
    from bot.directory.runner import report_lines, run_sync
    from bot.directory.sources import NotConfigured
    from bot.platforms.dingtalk.errors import DingTalkError
    from bot.platforms.wecom.client import WeComError
    from core.models import utcnow

    platform = args.platform or settings.directory_sync
    if platform not in ("wecom", "dingtalk"):
        raise UserError("no platform: pass --platform wecom|dingtalk or set JIFEN_DIRECTORY_SYNC")
    policy = _policy(settings)
    async with _database(settings) as db:
        try:
            report = await run_sync(db=db, policy=policy, settings=settings, platform=platform,
                                    now=utcnow(), dry_run=args.dry_run, force=args.force)
        except NotConfigured as exc:
            raise UserError(str(exc)) from None
        except (WeComError, DingTalkError) as exc:
            raise UserError(f"{platform} contact API failed ({exc}); nothing changed") from None
    for line in report_lines(report):
        print(line)
    return 1 if report.refused else 0
