"""Implementations of the ``jifen`` sub-commands; each opens the database and runs units of work."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import load_effective_policy, run
from bot.app.demo import DemoRefused, load_demo
from bot.cli.chat import run_chat
from bot.cli.directory import sync_and_report
from bot.cli.errors import UserError
from bot.cli.grant import grant_file, grant_one
from bot.cli.login import print_login_link
from bot.cli.orders import print_orders
from bot.cli.rehearsal import rehearse
from bot.cli.report import print_report
from bot.jobs import run_job
from bot.jobs.runner import run_digest
from config.catalog_file import parse_catalog
from config.settings import Settings
from core import outbox
from core.catalog.importer import import_items
from core.db import Database
from core.directory.importer import (
    BadRows,
    DirectoryImportReport,
    import_employees,
    read_directory_csv,
)
from core.ledger.verify import verify
from core.models import utcnow
from core.policy import Policy
from migrations.migrate import upgrade

Command = Callable[[argparse.Namespace, Settings], Awaitable[int] | int]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def deco(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return deco


def _policy(settings: Settings) -> Policy:
    return load_effective_policy(settings)


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Database]:
    await upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        yield db
    finally:
        await db.dispose()


def _read(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: no such file")
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None


def _parse_now(text: str | None, policy: Policy) -> datetime:
    """``--now``: a time without an offset is local (JIFEN_TIMEZONE), like every other date."""
    if not text:
        return utcnow()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--now {text!r}: not an ISO-8601 time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(policy.timezone))
    return value.astimezone(UTC)


@command("run")
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    _policy(settings)  # a wrong policy file stops here with one line, before anything starts
    if args.workers is not None:
        settings = settings.model_copy(update={"workers": args.workers})
    return run(settings)


@command("db_upgrade")
async def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    await upgrade(settings.database_url)
    print("database is at the latest migration")
    return 0


@command("ledger_verify")
async def cmd_ledger_verify(args: argparse.Namespace, settings: Settings) -> int:
    async with _database(settings) as db, db.uow() as session:
        problems = await verify(session)
    for line in problems:
        print(f"VIOLATION {line}")
    print("ledger OK" if not problems else f"{len(problems)} violation(s)")
    return 0 if not problems else 2


@command("employees_import")
async def cmd_employees_import(args: argparse.Namespace, settings: Settings) -> int:
    rows, problems = read_directory_csv(_read(args.file))
    async with _database(settings) as db:
        try:
            report = await db.run(lambda s: import_employees(
                s, rows=rows, dry_run=args.dry_run, deactivate_missing=args.deactivate_missing,
                now=utcnow(), problems=problems))
        except BadRows as exc:
            if len(exc.problems) < 2:
                raise
            rows_bad = len({p.line for p in exc.problems})
            raise UserError("\n".join([f"{args.file}: {rows_bad} rows have problems, "
                                        "nothing was imported:",
                                        *(f"  line {p.line}: {p.message}" for p in exc.problems)]),
                            ) from None
    prefix = "dry run: would have " if args.dry_run else ""
    print(f"{prefix}created {len(report.created)}, updated {len(report.updated)}, "
          f"unchanged {len(report.unchanged)}, deactivated {len(report.deactivated)}")
    if args.dry_run:
        for line in import_plan(report):
            print(line)
    return 0


def import_plan(report: DirectoryImportReport) -> list[str]:
    """Who a dry run would add, change (and which columns) and deactivate, one per line."""
    def who(employee_id: str) -> str:
        return f"{employee_id} {report.names.get(employee_id, '')}".rstrip()

    return [*(f"  add        {who(i)}" for i in report.created),
            *(f"  change     {who(i)}: {', '.join(report.changes.get(i, []))}"
              for i in report.updated),
            *(f"  deactivate {who(i)}" for i in report.deactivated)]


@command("catalog_import")
async def cmd_catalog_import(args: argparse.Namespace, settings: Settings) -> int:
    suffix = Path(args.file).suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise UserError(f"{args.file}: expected a .yaml, .yml or .csv file")
    policy = _policy(settings)
    items = parse_catalog(_read(args.file), fmt="csv" if suffix == ".csv" else "yaml")
    async with _database(settings) as db:
        report = await db.run(lambda s: import_items(s, items=items, now=utcnow(), policy=policy))
    print(f"created {report.created}, updated {report.updated}, codes added {report.codes_added}")
    return 0


@command("grant")
async def cmd_grant(args: argparse.Namespace, settings: Settings) -> int:
    policy = _policy(settings)
    async with _database(settings) as db:
        if args.file:
            if args.employee_id or args.points is not None:
                raise UserError("give either --file or EMPLOYEE_ID POINTS, not both")
            return await grant_file(db, policy, _read(args.file))
        return await grant_one(db, policy, args)


# jobs whose real run marks work as done for good: a future --now does that day's work today
USES_UP = {"expire": "lots expire before their date",
           "expiry-reminders": "those reminders count as sent and are not sent again on the day",
           "approval-reminders": "those reminders and escalations count as done",
           "auto-grants": "those grants count as given and are not given again on the day",
           "digest": "that week's digest counts as posted"}


@command("jobs_run")
async def cmd_jobs_run(args: argparse.Namespace, settings: Settings) -> int:
    policy = _policy(settings)
    now = _parse_now(args.now, policy)
    async with _database(settings) as db:
        if args.job == "digest":  # its dry run lists the targets it would post to
            print(await run_digest(db, policy, now, dry_run=args.dry_run))
        elif args.dry_run:
            summary = await rehearse(db, lambda r: run_job(args.job, db=r, policy=policy, now=now))
            print(f"dry run, nothing changed; a real run would have: {summary}")
        else:
            print(await run_job(args.job, db=db, policy=policy, now=now))
    if not args.dry_run and args.job in USES_UP and now > utcnow() + timedelta(minutes=1):
        print(f"note: --now is in the future, so {USES_UP[args.job]} "
              "(use --dry-run to look without changing anything)")
    return 0


@command("report")
async def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    policy = _policy(settings)
    async with _database(settings) as db:
        await print_report(db, policy, month=args.month, csv_path=args.csv)
    return 0


@command("orders")
async def cmd_orders(args: argparse.Namespace, settings: Settings) -> int:
    policy = _policy(settings)
    async with _database(settings) as db:
        await print_orders(db, policy, state=args.state, csv_path=args.csv)
    return 0


@command("login_link")
async def cmd_login_link(args: argparse.Namespace, settings: Settings) -> int:
    async with _database(settings) as db:
        await print_login_link(db, settings, employee_id=args.employee_id, admin=args.admin)
    return 0


@command("outbox")
async def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    async with _database(settings) as db:
        if args.retry:
            n = await db.run(lambda s: outbox.requeue_failed(s, now=utcnow()))
            print(f"re-queued {n} failed message(s)")
        async with db.uow() as s:
            rows = await outbox.list_messages(s, failed_only=args.failed, limit=args.limit)
            totals = await outbox.counts(s)
    for m in rows:
        err = f"  error: {m.last_error}" if m.last_error else ""
        print(f"#{m.id} {m.status:<8} {m.kind:<20} {m.recipient:<24} attempts={m.attempts}{err}")
    print(", ".join(f"{k} {v}" for k, v in sorted(totals.items())) or "outbox is empty")
    return 0


@command("demo")
async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    policy = _policy(settings)
    async with _database(settings) as db:
        try:
            print(await load_demo(db, policy, now=utcnow()))
        except DemoRefused as exc:
            raise UserError(str(exc)) from None
    return 0


@command("chat")
async def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    return await run_chat(settings, args.as_employee)


@command("directory_sync")
async def cmd_directory_sync(args: argparse.Namespace, settings: Settings) -> int:
    policy = _policy(settings)
    async with _database(settings) as db:
        return await sync_and_report(db, policy, settings, platform=args.platform,
                                     dry_run=args.dry_run, force=args.force)
