"""``jifen orders [--state placed] [--csv FILE]``: the order desk for operators.

The same query as chat ``订单 待发货`` and the console's 订单 page (``core.orders.desk``): orders
that need a person (every kind but ``code``), newest first, with who ordered them and a masked
contact.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.cli.errors import UserError
from core.db import Database
from core.orders.desk import DeskRow, desk, desk_csv
from core.policy import Policy
from core.timeutil import tz

SHOWN = 100_000  # an operator asked for the list: all of it (the chat shows a screenful)


def desk_line(row: DeskRow, policy: Policy) -> str:
    when = row.created_at.astimezone(tz(policy)).strftime("%Y-%m-%d %H:%M")
    who = f"{row.name} ({row.employee_id}, {row.department or '-'})"
    contact = f"  {row.contact}" if row.contact else ""
    note = f"  note: {row.note}" if row.note else ""
    return (f"{row.order_no}  {when}  {row.status:<16} {row.item} ×{row.qty}  {row.points} points"
            f"  {who}{contact}{note}")


async def print_orders(db: Database, policy: Policy, *, state: str, csv_path: str | None) -> None:
    async with db.uow() as session:
        rows = await desk(session, state=state, limit=SHOWN)
    for row in rows:
        print(desk_line(row, policy))
    print(f"{len(rows)} order(s) {state}" if rows else f"no orders {state}")
    if csv_path:
        try:
            await asyncio.to_thread(Path(csv_path).write_text, desk_csv(rows), encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{csv_path}: cannot write ({exc.strerror or exc})") from None
        print(f"written {csv_path}")
