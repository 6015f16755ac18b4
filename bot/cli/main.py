"""The ``jifen`` command line (SPEC section 6). Bad input exits 1 with one line, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import threading
from collections.abc import Sequence
from importlib import metadata
from typing import Any, NoReturn
from zoneinfo import ZoneInfoNotFoundError

from asyncpg.exceptions import PostgresError
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, DBAPIError

from bot.cli.commands import COMMANDS
from bot.cli.errors import UserError
from bot.cli.parser import DOCS, add_commands, refuse
from cards.texts import error_text
from config.policy_loader import PolicyError
from config.settings import Settings
from core.errors import CoreError, InvalidInput


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would exit 2 with a usage block
        refuse(self, message)


def _version() -> str:
    try:
        return metadata.version("jifen")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jifen", description="jifen 积分 — points and welfare bot", epilog=DOCS)
    parser.add_argument("--version", action="version", version=f"jifen {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(sub)
    return parser


def _sentence(exc: CoreError) -> str:
    """The refusal as the same English sentence a chat user gets; a file's line leads it."""
    if isinstance(exc, InvalidInput):
        return f"line {exc.line}: {exc.message}" if exc.line is not None else exc.message
    return error_text("en", exc)


def _database_sentence(exc: BaseException) -> str:
    """A database that cannot be opened, as one sentence naming the setting to check."""
    if isinstance(exc, DBAPIError):
        exc = exc.orig or exc
    reason = (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).splitlines()[0]
    reason = reason.removeprefix("(sqlite3.OperationalError) ").rstrip(".")
    return f"cannot use the database ({reason}); check JIFEN_DATABASE_URL."


def _quiet_closed_loop(hook: Any) -> Any:
    """aiosqlite queues the stop of a connection whose open failed without awaiting it, so its
    worker thread may report to the CLI's event loop after ``asyncio.run`` closed it; that
    report ("Event loop is closed") carries nothing, the failure itself was already printed."""
    if getattr(hook, "jifen_quiet", False):  # main() ran before in this process
        return hook

    def quiet(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, RuntimeError) and str(args.exc_value) == "Event loop is closed":
            return
        hook(args)
    quiet.jifen_quiet = True  # type: ignore[attr-defined]
    return quiet


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    threading.excepthook = _quiet_closed_loop(threading.excepthook)
    try:
        settings = Settings()
        fn = COMMANDS[args.handler]
        result: Any = fn(args, settings)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except (UserError, PolicyError) as exc:
        print(f"jifen: {exc}", file=sys.stderr)
        return 1
    except CoreError as exc:
        print(f"jifen: {_sentence(exc)}", file=sys.stderr)
        return 1
    except ValidationError as exc:  # a JIFEN_ variable with a value outside its choices
        err = exc.errors()[0]
        print(f"jifen: configuration: JIFEN_{str(err['loc'][0]).upper()}: {err['msg']}",
              file=sys.stderr)
        return 1
    except (ArgumentError, ZoneInfoNotFoundError) as exc:  # JIFEN_DATABASE_URL, JIFEN_TIMEZONE
        print(f"jifen: configuration: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    except (ConnectionError, TimeoutError, socket.gaierror, DBAPIError, PostgresError) as exc:
        print(f"jifen: {_database_sentence(exc)}", file=sys.stderr)  # unreachable, refused, broken
        return 1
    except OSError as exc:  # a file cannot be written, the HTTP port is taken
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"jifen: {exc.strerror or exc}{where}.".splitlines()[0], file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
