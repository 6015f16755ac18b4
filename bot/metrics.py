"""``GET /metrics`` in Prometheus text format: read from the database, so every replica agrees."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from core.db import Database
from core.models import Employee, LedgerTransaction, Order, OutboxMessage

OUTBOX_STATES = ("pending", "sent", "failed")


async def collect(db: Database) -> list[str]:
    async with db.uow() as s:
        outbox = {st: int(n) for st, n in await s.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))}
        orders = {st: int(n) for st, n in await s.execute(
            select(Order.status, func.count()).group_by(Order.status))}
        employees = await s.scalar(select(func.count()).where(Employee.active.is_(True)))
        transactions = await s.scalar(select(func.count()).select_from(LedgerTransaction))
    lines = ["# HELP jifen_outbox_messages Outgoing messages by state (failed = gave up after retries).",
             "# TYPE jifen_outbox_messages gauge"]
    lines += [f'jifen_outbox_messages{{status="{st}"}} {int(outbox.get(st, 0))}' for st in OUTBOX_STATES]
    lines += ["# HELP jifen_orders Orders by state.", "# TYPE jifen_orders gauge"]
    lines += [f'jifen_orders{{status="{st}"}} {int(n)}' for st, n in sorted(orders.items())]
    lines += ["# HELP jifen_active_employees Active employees in the directory.",
              "# TYPE jifen_active_employees gauge", f"jifen_active_employees {int(employees or 0)}",
              "# HELP jifen_ledger_transactions_total Ledger transactions posted.",
              "# TYPE jifen_ledger_transactions_total counter",
              f"jifen_ledger_transactions_total {int(transactions or 0)}"]
    return lines


def handler(db: Database):  # type: ignore[no-untyped-def]
    async def metrics(_request: web.Request) -> web.Response:
        body = "\n".join(await collect(db)) + "\n"
        return web.Response(text=body, content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    return metrics
