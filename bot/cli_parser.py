"""Argument definitions for every ``jifen`` sub-command."""

from __future__ import annotations

import argparse
from typing import Any


def _one_line_error(self: argparse.ArgumentParser, message: str) -> None:
    self.exit(1, f"jifen: {message} (see '{self.prog} --help')\n")


def _cmd(sub: Any, name: str, handler: str, help_text: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.error = _one_line_error.__get__(p)  # type: ignore[method-assign]
    p.set_defaults(handler=handler)
    return p


def add_commands(sub: Any) -> None:
    _cmd(sub, "run", "run", "migrate, then serve HTTP, platform connections, scheduler and outbox")

    db = _cmd(sub, "db", "db", "database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    _cmd(dbsub, "upgrade", "db_upgrade", "apply migrations")

    ledger = _cmd(sub, "ledger", "ledger", "ledger checks")
    lsub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    _cmd(lsub, "verify", "ledger_verify", "check every invariant; non-zero exit on a violation")
