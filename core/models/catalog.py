"""Catalog items, code pools, redemption confirmations, orders and their events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow


class CatalogItem(Base):
    """``stock`` NULL means unlimited. Invariant: ``stock + sold == stock_added`` for stocked items."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_pos"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_nonneg"),
        CheckConstraint("sold >= 0", name="sold_nonneg"),
    )

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64), default="")
    points: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)
    stock_added: Mapped[int] = mapped_column(Integer, default=0)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    limit_per_employee: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default="physical")
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(String(1000), default="")
    image_url: Mapped[str | None] = mapped_column(String(500))
    available_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    available_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CodeEntry(Base):
    """One redeemable code of a ``code`` item; ``order_no`` set once reserved for an order.

    An order of qty N holds N codes, so ``order_no`` is not unique; a code is reserved when the
    order is placed (even while it waits for approval) and released again on cancel / reject.
    """

    __tablename__ = "code_pool"
    __table_args__ = (UniqueConstraint("sku", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(ForeignKey("catalog_items.sku"), index=True)
    code: Mapped[str] = mapped_column(String(200))
    order_no: Mapped[str | None] = mapped_column(String(32), index=True)


class Confirmation(Base):
    """A pending redemption waiting for 确认 (expires after ``redemption.confirm_minutes``)."""

    __tablename__ = "confirmations"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    sku: Mapped[str] = mapped_column(ForeignKey("catalog_items.sku"))
    qty: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | used | cancelled
    order_no: Mapped[str | None] = mapped_column(String(32))


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_pos"),
        CheckConstraint("points > 0", name="points_pos"),
        Index("ix_orders_status_id", "status", "id"),  # migration 0005: the order desk
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"), index=True)
    sku: Mapped[str] = mapped_column(ForeignKey("catalog_items.sku"), index=True)
    qty: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)  # total escrowed
    status: Mapped[str] = mapped_column(String(24), index=True)
    month: Mapped[str] = mapped_column(String(7), index=True)  # local YYYY-MM, for monthly limits
    code: Mapped[str | None] = mapped_column(Text)  # handed-out codes, one per line
    note: Mapped[str | None] = mapped_column(String(500))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OrderEvent(Base):
    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_no: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
