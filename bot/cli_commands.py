"""Implementations of the ``jifen`` sub-commands; each opens the database, runs one unit of work."""

from __future__ import annotations

import argparse

from bot.cli import command
from config.settings import Settings
from core.db import Database
from core.ledger.verify import verify
from core.migrate import upgrade


@command("run")
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import run

    run(settings)
    return 0


@command("db_upgrade")
async def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    await upgrade(settings.database_url)
    print("database is at the latest migration")
    return 0


@command("ledger_verify")
async def cmd_ledger_verify(args: argparse.Namespace, settings: Settings) -> int:
    await upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.uow() as session:
            problems = await verify(session)
    finally:
        await db.dispose()
    for line in problems:
        print(f"VIOLATION {line}")
    print("ledger OK" if not problems else f"{len(problems)} violation(s)")
    return 0 if not problems else 2
