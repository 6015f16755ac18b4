"""``jifen grant``: one grant from the arguments, or a file of grants in one transaction."""

from __future__ import annotations

import argparse
import hashlib
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.errors import UserError
from core.db import Database
from core.hr.repeats import same_grant_today
from core.hr.service import GrantResult, grant, grant_rows, parse_grants_csv
from core.models import utcnow
from core.policy import Policy
from core.timeutil import day_key, start_of_local_day, tz

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


def _repeat_refusal(args: argparse.Namespace, at: datetime, policy: Policy) -> UserError:
    when = at.astimezone(tz(policy)).strftime("%H:%M")
    return UserError(
        f"{args.employee_id} was already granted {args.points} points for {args.reason!r} today "
        f"at {when}; nothing changed. Add --again to grant the same once more, or give --key to "
        f"make a grant that can be re-run safely.")


async def grant_one(db: Database, policy: Policy, args: argparse.Namespace) -> int:
    if not args.employee_id or args.points is None:
        raise UserError("usage: jifen grant EMPLOYEE_ID POINTS --reason TEXT [--key K] [--again]")
    if not args.reason:
        raise UserError("--reason is required")
    if args.points > MAX_POINTS:  # as in a grants file; larger overflows the ledger's columns
        raise UserError(f"{args.points} points: at most {MAX_POINTS} in one grant")
    if args.key and args.again:
        raise UserError("--again applies to grants without --key (a key never grants twice)")
    now = utcnow()
    # Without --key the same command on the same local day maps to one key, so it pays once
    # even when two runs race; --again makes a key of its own.
    when = now.isoformat() if args.again else day_key(now, policy)
    digest = hashlib.sha256(f"{args.points}\n{args.reason}\n{when}".encode()).hexdigest()[:24]
    key = args.key or f"cli:{args.employee_id}:{digest}"  # short: a long reason fits the key
    expires_at = _expiry(args.expires_at, policy)

    async def _grant(s: AsyncSession) -> GrantResult:
        if not args.key and not args.again:
            earlier = await same_grant_today(s, employee_id=args.employee_id, amount=args.points,
                                             reason=args.reason, now=now, policy=policy)
            if earlier is not None:
                raise _repeat_refusal(args, earlier, policy)
        return await grant(s, actor_id="cli", employee_id=args.employee_id, amount=args.points,
                           reason=args.reason, key=key, now=now, policy=policy,
                           expires_at=expires_at)

    res = await db.run(_grant)
    if res.duplicate and not args.key:  # a second run raced the first one and lost
        raise _repeat_refusal(args, now, policy)
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
