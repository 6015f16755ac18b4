"""Plain read types handed to the bot and cards (no ORM objects leave through these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.models import CatalogItem, Confirmation, Order

OPEN_STATES = ("pending_approval", "placed")
DEAD_STATES = ("cancelled", "rejected")


@dataclass(frozen=True)
class ConfirmationView:
    code: str
    sku: str
    name: str
    qty: int
    points: int
    expires_at: datetime
    unit_points: int = 0
    kind: str = "physical"
    requires_approval: bool = False


@dataclass(frozen=True)
class OrderView:
    order_no: str
    employee_id: str
    sku: str
    name: str
    qty: int
    points: int
    status: str
    kind: str
    created_at: datetime
    codes: list[str] = field(default_factory=list)
    note: str | None = None
    approval_id: int | None = None


def confirmation_view(conf: Confirmation, item: CatalogItem) -> ConfirmationView:
    return ConfirmationView(code=conf.code, sku=item.sku, name=item.name, qty=conf.qty,
                            points=conf.points, expires_at=conf.expires_at, unit_points=item.points,
                            kind=item.kind, requires_approval=item.requires_approval)


def codes_of(order: Order) -> list[str]:
    """Codes handed out; set at fulfilment, so codes reserved for a pending order stay hidden."""
    return [c for c in (order.code or "").split("\n") if c]


def order_view(order: Order, item: CatalogItem) -> OrderView:
    return OrderView(order_no=order.order_no, employee_id=order.employee_id, sku=order.sku,
                     name=item.name, qty=order.qty, points=order.points, status=order.status,
                     kind=item.kind, created_at=order.created_at, codes=codes_of(order),
                     note=order.note, approval_id=order.approval_id)


def payload(order: Order, item: CatalogItem, **extra: Any) -> dict[str, Any]:
    """Push payload: plain data only, rendered at send time."""
    data: dict[str, Any] = {"order_no": order.order_no, "sku": order.sku, "name": item.name,
                            "qty": order.qty, "points": order.points, "status": order.status,
                            "kind": item.kind, "employee_id": order.employee_id}
    data.update(extra)
    return data
