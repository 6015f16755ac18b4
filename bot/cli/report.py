"""``jifen report``: the month summary in labelled sections on the terminal, optionally as CSV.

The sections and figures are those of chat 报表 and of the CSV (``core.reports.service``):
points (issued, redeemed, expired, deducted, refunded), awards, coming up (expiring points, open
orders), top items (the orders handed over in the month, the same ones "redeemed" counts) and
departments.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.cli.errors import UserError
from core.db import Database
from core.models import utcnow
from core.policy import Policy
from core.reports.service import (
    EXPIRING_DAYS,
    MonthSummary,
    month_summary,
    parse_month,
    summary_csv,
)
from core.timeutil import month_key


def report_lines(s: MonthSummary, policy: Policy) -> list[str]:
    width = len(str(max(s.issued, s.redeemed, s.expired, s.deducted, s.refunded)))
    flows = (("issued", s.issued, "grants, rules, awards, applications"),
             ("redeemed", s.redeemed, "orders handed over"),
             ("expired", s.expired, ""),
             ("deducted", s.deducted, "HR deductions"),
             ("refunded", s.refunded, "cancelled or rejected orders, back to employees"))
    lines = [f"report {s.month} (local month, {policy.timezone})", "", "Points"]
    lines += [f"  {name:<9} {value:>{width}}" + (f"  ({why})" if why else "")
              for name, value, why in flows]
    lines += ["", "Awards", f"  {s.awards_count} awards, {s.awards_points} points"]
    lines += ["", "Coming up (now)",
              f"  expiring in the next {EXPIRING_DAYS} days: {s.expiring_30d} points "
              f"({s.expiring_employees} employees)",
              f"  open orders (waiting for approval or hand-over): {s.open_orders} "
              f"({s.open_points} points)"]
    lines += ["", "Top items (handed over this month)"]
    lines += [f"  {i.sku} {i.name}: {i.qty} × = {i.points} points" for i in s.top_items] or ["  none"]
    lines += ["", "Departments"]
    lines += [f"  {d.department or '-'}: issued {d.issued}, redeemed {d.redeemed}"
              for d in s.by_department] or ["  none"]
    return lines


async def print_report(db: Database, policy: Policy, *, month: str | None, csv_path: str | None) -> None:
    now = utcnow()
    month = parse_month(month) if month else month_key(now, policy)
    async with db.uow() as session:
        s = await month_summary(session, actor_id="cli", month=month, now=now, policy=policy)
    print("\n".join(report_lines(s, policy)))
    if csv_path:
        try:
            await asyncio.to_thread(Path(csv_path).write_text, summary_csv(s), encoding="utf-8")
        except OSError as exc:  # a missing folder, a directory, no permission: one line, exit 1
            raise UserError(f"{csv_path}: cannot write ({exc.strerror or exc})") from None
        print(f"\nwritten {csv_path}")
