"""``jifen report``: the month summary on the terminal and optionally as CSV."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.cli.errors import UserError
from core.db import Database
from core.models import utcnow
from core.policy import Policy
from core.reports.service import month_summary, parse_month, summary_csv
from core.timeutil import month_key


async def print_report(db: Database, policy: Policy, *, month: str | None, csv_path: str | None) -> None:
    now = utcnow()
    month = parse_month(month) if month else month_key(now, policy)
    async with db.uow() as session:
        s = await month_summary(session, actor_id="cli", month=month, now=now, policy=policy)
    print(f"report {month}")
    print(f"  issued {s.issued}  redeemed {s.redeemed}  expired {s.expired}  refunded {s.refunded}")
    print(f"  awards {s.awards_count} ({s.awards_points} points)")
    print(f"  expiring in the next 30 days: {s.expiring_30d}")
    for item in s.top_items:
        print(f"  top item {item.sku} {item.name}: {item.qty} × = {item.points} points")
    for dept in s.by_department:
        print(f"  department {dept.department or '-'}: issued {dept.issued}, redeemed {dept.redeemed}")
    if csv_path:
        try:
            await asyncio.to_thread(Path(csv_path).write_text, summary_csv(s), encoding="utf-8")
        except OSError as exc:  # a missing folder, a directory, no permission: one line, exit 1
            raise UserError(f"{csv_path}: cannot write ({exc.strerror or exc})") from None
        print(f"written {csv_path}")
