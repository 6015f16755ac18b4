"""The order desk (订单): orders that need HR, with who ordered them (contact masked)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.directory.service import mask_email, mask_mobile
from core.models import CatalogItem, Employee, Order

STATES = ("pending_approval", "placed", "fulfilled", "cancelled", "rejected")


@dataclass(frozen=True)
class DeskRow:
    order_no: str
    sku: str
    item: str
    kind: str
    qty: int
    points: int
    status: str
    note: str
    created_at: datetime
    employee_id: str
    name: str
    department: str
    contact: str


def _contact(emp: Employee) -> str:
    return " / ".join(c for c in (mask_mobile(emp.mobile), mask_email(emp.email)) if c)


async def desk(
    session: AsyncSession, *, state: str | None = None, sku: str | None = None, limit: int = 500,
) -> list[DeskRow]:
    """Orders of any kind but ``code`` (those are handed out by the bot), newest first."""
    stmt = (select(Order, CatalogItem, Employee)
            .join(CatalogItem, CatalogItem.sku == Order.sku)
            .join(Employee, Employee.employee_id == Order.employee_id)
            .where(CatalogItem.kind != "code")
            .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))
    if state:
        stmt = stmt.where(Order.status == state)
    if sku:
        stmt = stmt.where(Order.sku == sku)
    rows = await session.execute(stmt)
    return [DeskRow(o.order_no, o.sku, i.name, i.kind, o.qty, o.points, o.status, o.note or "",
                    o.created_at, e.employee_id, e.name, e.department, _contact(e))
            for o, i, e in rows.tuples()]


CSV_COLUMNS = ("order_no", "created_at", "status", "sku", "item", "qty", "points", "employee_id",
               "name", "department", "contact", "note")


def desk_csv(rows: list[DeskRow]) -> str:
    """The desk as CSV (UTF-8 with a BOM, so spreadsheet programs show Chinese names)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    w.writerows([[r.order_no, r.created_at.isoformat(), r.status, r.sku, r.item, r.qty, r.points,
                  r.employee_id, r.name, r.department, r.contact, r.note] for r in rows])
    return "\ufeff" + out.getvalue()
