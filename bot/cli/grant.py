"""``jifen grant``: one grant from the arguments, or a file of grants in one transaction."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta

from bot.cli.errors import UserError
from core.db import Database
from core.hr.service import grant, grant_rows, parse_grants_csv
from core.models import utcnow
from core.policy import Policy
from core.timeutil import start_of_local_day

MAX_POINTS = 999_999_999  # nine digits, the bound of a grants CSV row


def parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{what} {text!r}: expected YYYY-MM-DD") from None


def _expiry(text: str | None, policy: Policy) -> datetime | None:
    if not text:
        return None
    # an expiry date means "usable through that local day"
    return start_of_local_day(parse_date(text, "--expires-at") + timedelta(days=1), policy)


async def grant_one(db: Database, policy: Policy, args: argparse.Namespace) -> int:
    if not args.employee_id or args.points is None:
        raise UserError("usage: jifen grant EMPLOYEE_ID POINTS --reason TEXT [--key K]")
    if not args.reason:
        raise UserError("--reason is required")
    if args.points > MAX_POINTS:  # as in a grants file; larger overflows the ledger's columns
        raise UserError(f"{args.points} points: at most {MAX_POINTS} in one grant")
    now = utcnow()
    key = args.key or f"cli:{args.employee_id}:{args.points}:{args.reason}:{now.isoformat()}"
    expires_at = _expiry(args.expires_at, policy)
    res = await db.run(lambda s: grant(
        s, actor_id="cli", employee_id=args.employee_id, amount=args.points, reason=args.reason,
        key=key, now=now, policy=policy, expires_at=expires_at))
    if res.duplicate:
        print(f"already granted with key {args.key!r}: nothing changed (balance {res.balance})")
    else:
        print(f"granted {res.amount} to {res.employee_id}; balance {res.balance}")
    return 0


async def grant_file(db: Database, policy: Policy, text: str) -> int:
    rows = parse_grants_csv(text)
    now = utcnow()
    results = await db.run(lambda s: grant_rows(s, actor_id="cli", rows=rows, now=now, policy=policy))
    fresh = [r for r in results if not r.duplicate]
    print(f"granted {sum(r.amount for r in fresh)} points in {len(fresh)} grants "
          f"({len(results) - len(fresh)} already done)")
    return 0
