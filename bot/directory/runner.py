"""One directory sync run: read the platform's complete roster, then diff and apply in one
transaction. An API error ends the run before the database is touched, so it can never
deactivate anyone."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.directory.sources import ContactsSource, open_contacts
from config.settings import Settings
from core.db import Database
from core.directory.changes import SyncReport
from core.directory.sync import sync_directory
from core.policy import Policy

log = logging.getLogger("jifen.directory")

JOB_NAME = "directory-sync"
SCHEDULE = {"hour": 2, "minute": 0}  # daily, in JIFEN_TIMEZONE (SPEC section 12)


async def run_sync(*, db: Database, policy: Policy, settings: Settings, platform: str,
                   now: datetime, dry_run: bool = False, force: bool = False,
                   source: ContactsSource | None = None) -> SyncReport:
    """Sync the directory from ``platform``; platform errors propagate (nothing changed)."""
    if source is None:
        async with open_contacts(settings, platform) as opened:
            roster = await opened.roster()
    else:
        roster = await source.roster()
    today = now.astimezone(ZoneInfo(policy.timezone)).date()
    return await db.run(lambda s: sync_directory(s, roster=roster, policy=policy, now=now,
                                                 today=today, dry_run=dry_run, force=force))


def report_lines(report: SyncReport) -> list[str]:
    """What the CLI prints: every change by name, then a summary or why nothing changed."""
    lines = [change.describe() for change in report.changes]
    counts = ", ".join(f"{report.count(a)} {word}" for a, word in (
        ("create", "created"), ("update", "updated"), ("reactivate", "reactivated"),
        ("deactivate", "deactivated")))
    if report.refused:
        lines.append(f"refused: {report.refused}")
    elif report.dry_run:
        lines.append(f"dry run ({report.platform}): would have {counts}; nothing changed")
    else:
        lines.append(f"synced from {report.platform}: {counts}")
    return lines


async def scheduled_sync(*, db: Database, policy: Policy, settings: Settings,
                         now: datetime) -> str:
    """The daily job: a one-line summary for the log (never forced)."""
    report = await run_sync(db=db, policy=policy, settings=settings,
                            platform=settings.directory_sync, now=now)
    if report.refused:
        log.warning("directory sync refused: %s", report.refused)
    return report_lines(report)[-1]
