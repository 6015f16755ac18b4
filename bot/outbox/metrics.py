"""``GET /metrics`` in Prometheus text format: read from the database, so every replica agrees."""

from __future__ import annotations

from aiohttp import web

from core import inbox
from core.db import Database
from core.models import utcnow
from core.orders.desk import STATES as ORDER_STATES
from core.outbox.gauges import gauges
from core.outbox.queries import STATES as OUTBOX_STATES


async def collect(db: Database) -> list[str]:
    async with db.uow() as s:
        g = await gauges(s, now=utcnow())
        events = await inbox.counts(s)
    # every state is exported, zeros included, so a dashboard's series never vanish
    outbox = {st: g.outbox.get(st, 0) for st in OUTBOX_STATES} | g.outbox
    orders = {st: g.orders.get(st, 0) for st in ORDER_STATES} | g.orders
    lines = ["# HELP jifen_outbox_messages Outgoing messages by state (failed = gave up after retries).",
             "# TYPE jifen_outbox_messages gauge"]
    lines += [f'jifen_outbox_messages{{status="{st}"}} {n}' for st, n in outbox.items()]
    lines += ["# HELP jifen_outbox_depth Messages waiting to be sent, per lane (reply before push).",
              "# TYPE jifen_outbox_depth gauge"]
    lines += [f'jifen_outbox_depth{{lane="{b.lane.name.lower()}"}} {b.depth}' for b in g.lanes]
    lines += ["# HELP jifen_outbox_oldest_age_seconds Age of the oldest waiting message, per lane.",
              "# TYPE jifen_outbox_oldest_age_seconds gauge"]
    lines += [f'jifen_outbox_oldest_age_seconds{{lane="{b.lane.name.lower()}"}} '
              f'{b.oldest_age_seconds:.3f}' for b in g.lanes]
    lines += ["# HELP jifen_inbox_events Incoming events by state (pending = stored, not yet "
              "processed; failed = given up after retries, the user got an apology).",
              "# TYPE jifen_inbox_events gauge"]
    lines += [f'jifen_inbox_events{{state="{st}"}} {n}' for st, n in events.items()]
    lines += ["# HELP jifen_orders Orders by state.", "# TYPE jifen_orders gauge"]
    lines += [f'jifen_orders{{status="{st}"}} {n}' for st, n in orders.items()]
    lines += ["# HELP jifen_active_employees Active employees in the directory.",
              "# TYPE jifen_active_employees gauge", f"jifen_active_employees {g.active_employees}",
              "# HELP jifen_ledger_transactions_total Ledger transactions posted.",
              "# TYPE jifen_ledger_transactions_total counter",
              f"jifen_ledger_transactions_total {g.ledger_transactions}"]
    return lines


def handler(db: Database):  # type: ignore[no-untyped-def]
    async def metrics(_request: web.Request) -> web.Response:
        body = "\n".join(await collect(db)) + "\n"
        return web.Response(text=body, content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    return metrics
