"""Argument definitions for every ``jifen`` sub-command (README "Operator CLI")."""

from __future__ import annotations

import argparse
import re
from typing import Any, NoReturn

from core.orders.desk import STATES as ORDER_STATES

DOCS = 'Documentation: the README, section "Operator CLI".'
JOBS = ("expire", "expiry-reminders", "approval-reminders", "auto-grants", "retention", "digest",
        "report-rollup")


_ARGUMENT = re.compile(r"argument (?P<name>[^:]+): (?P<problem>.*)", re.S)
_INVALID = re.compile(r"invalid (?P<type>\w+) value: (?P<value>.*)")
_CHOICE = re.compile(r"invalid choice: (?P<value>'[^']*') \(choose from (?P<choices>.*)\)")
_TYPES = {"int": "a whole number"}


def sentence(message: str) -> str:
    """argparse's complaint as a sentence: what is wrong, with which argument, and the choices."""
    if message.startswith("the following arguments are required: "):
        missing = message.removeprefix("the following arguments are required: ")
        return f"missing {_lower(missing)}."
    m = _ARGUMENT.fullmatch(message)
    if m is None:
        return message.rstrip(".") + "."
    name, problem = _lower(m["name"].split("/")[0]), m["problem"]
    if (c := _CHOICE.fullmatch(problem)) is not None:
        choices = ", ".join(choice.strip("'") for choice in c["choices"].split(", "))
        return f"{c['value']} is not a known {name}; choose one of: {choices}."
    if (v := _INVALID.fullmatch(problem)) is not None:
        return f"{name}: {v['value']} is not {_TYPES.get(v['type'], 'valid')}."
    return f"{name}: {problem.rstrip('.')}."


def _lower(name: str) -> str:
    return name.lower() if name.isupper() else name  # metavars (COMMAND) read as words


def refuse(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.exit(1, f"jifen: {sentence(message)} See '{parser.prog} --help'.\n")


def _one_line_error(self: argparse.ArgumentParser, message: str) -> NoReturn:
    refuse(self, message)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _cmd(sub: Any, name: str, handler: str, help_text: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text,
                                                    epilog=DOCS)
    p.error = _one_line_error.__get__(p)  # type: ignore[method-assign]
    p.set_defaults(handler=handler)
    return p


def _group(sub: Any, name: str, help_text: str, dest: str) -> Any:
    p = _cmd(sub, name, name, help_text)
    return p.add_subparsers(dest=dest, required=True, metavar="ACTION")


def add_commands(sub: Any) -> None:
    run = _cmd(sub, "run", "run", "migrate, then serve HTTP, platform connections, scheduler and outbox")
    run.add_argument("--workers", type=_positive, metavar="N",
                     help="serving processes on the port (default JIFEN_WORKERS, else 1)")
    _cmd(_group(sub, "db", "database maintenance", "db_command"), "upgrade", "db_upgrade",
         "apply migrations")
    _cmd(sub, "demo", "demo", "load a demo organisation, catalog and some history into an empty database")

    emp = _cmd(_group(sub, "employees", "employee directory", "emp_command"), "import",
               "employees_import", "upsert the directory from a CSV file")
    emp.add_argument("file", help="directory CSV: employee_id,name and optional columns (README \"Operator CLI\")")
    emp.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    emp.add_argument("--deactivate-missing", action="store_true",
                     help="deactivate employees that are not in the file")

    cat = _cmd(_group(sub, "catalog", "catalog items", "cat_command"), "import", "catalog_import",
               "upsert catalog items (and code pools) from YAML or CSV")
    cat.add_argument("file", help="FILE.yaml or FILE.csv")

    grant = _cmd(sub, "grant", "grant", "HR grant of points; idempotent by --key, a same-day repeat needs --again")
    grant.add_argument("employee_id", nargs="?")
    grant.add_argument("points", nargs="?", type=int)
    grant.add_argument("--reason", help="why (shown to the employee)")
    grant.add_argument("--expires-at", help="YYYY-MM-DD; default from the policy")
    grant.add_argument("--key", help="idempotency key; the same key never grants twice")
    grant.add_argument("--again", action="store_true",
                       help="grant even if the same points for the same reason went to this "
                            "employee today (without it, such a repeat is refused)")
    grant.add_argument("--file", help="grants CSV: employee_id,points,reason[,key][,expires_at]")

    jobs = _cmd(_group(sub, "jobs", "scheduled jobs", "jobs_command"), "run", "jobs_run",
                "run one scheduled job now")
    jobs.add_argument("job", choices=JOBS)
    jobs.add_argument("--now", help="ISO-8601 time to pretend it is (default: the real clock); a "
                      "real run at a future time does that day's work now: the reminders, grants "
                      "and digests it sends count as done and are not sent again on the day")
    jobs.add_argument("--dry-run", action="store_true",
                      help="show what the job would do, change nothing (nothing is sent)")

    _cmd(_group(sub, "ledger", "ledger checks", "ledger_command"), "verify", "ledger_verify",
         "check every invariant; non-zero exit on any violation")

    report = _cmd(sub, "report", "report", "the month in sections: points issued, redeemed, expired, deducted, refunded; awards; "
                 "coming up; top items; departments")
    report.add_argument("--month", help="YYYY-MM (default: this month)")
    report.add_argument("--csv", help="also write the report to this CSV file")

    orders = _cmd(sub, "orders", "orders",
                  "orders that need a person (not codes): who, what, when; newest first")
    orders.add_argument("--state", choices=ORDER_STATES, default="placed",
                        help="default: placed (waiting to be handed over)")
    orders.add_argument("--csv", help="also write the list to this CSV file")

    link = _cmd(sub, "login-link", "login_link", "print a one-time sign-in link (10 minutes)")
    link.add_argument("employee_id")
    link.add_argument("--admin", action="store_true", help="the HR console (hr / admin only)")

    outbox = _cmd(sub, "outbox", "outbox", "inspect and retry outgoing messages")
    outbox.add_argument("--failed", action="store_true", help="show only failed messages")
    outbox.add_argument("--retry", action="store_true", help="re-queue failed messages")
    outbox.add_argument("--limit", type=_positive, default=50, help="show at most N messages")

    chat = _cmd(sub, "chat", "chat", "terminal chat through the real dispatcher")
    chat.add_argument("--as", dest="as_employee", required=True, metavar="EMPLOYEE_ID")

    sync = _cmd(_group(sub, "directory", "directory sync from WeCom / DingTalk", "dir_command"),
                "sync", "directory_sync", "read every department and member and update the directory")
    sync.add_argument("--platform", choices=("wecom", "dingtalk"),
                      help="default: JIFEN_DIRECTORY_SYNC")
    sync.add_argument("--dry-run", action="store_true", help="list every change, change nothing")
    sync.add_argument("--force", action="store_true",
                      help="apply even beyond directory.max_deactivate_percent")
