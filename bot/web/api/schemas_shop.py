"""Request and response models of the catalog, the order desk, approvals, reports, broadcasts
and the audit log (the directory and grants are in ``schemas.py``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from bot.web.api.schemas import Page, Strict
from core.catalog.schemas import ItemSpec

# --- catalog -----------------------------------------------------------------------------------

class CatalogQuery(Page):
    active: bool | None = None


class ItemIn(ItemSpec):
    """An item as in the catalog file; ``sku`` comes from the path (if given here, it must match)."""

    sku: str | None = None  # type: ignore[assignment]


class ItemOut(BaseModel):
    sku: str
    name: str
    points: int
    category: str
    stock: int | None
    available: int | None = Field(description="free codes for a code item, else stock")
    sold: int
    limit_per_employee: int | None
    kind: str
    requires_approval: bool
    description: str
    image_url: str | None
    available_from: datetime | None
    available_until: datetime | None
    active: bool


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None


class CodesIn(Strict):
    codes: list[str] = Field(min_length=1, max_length=100_000)


class CodesOut(BaseModel):
    sku: str
    added: int
    available: int | None


# --- orders and approvals ----------------------------------------------------------------------

class OrdersQuery(Page):
    state: str | None = Field(default=None, description="new, placed, pending_approval, "
                              "fulfilled, cancelled, rejected")
    sku: str | None = None


class OrderOut(BaseModel):
    order_no: str
    employee_id: str
    employee_name: str
    department: str
    contact: str = Field(description="masked mobile or e-mail")
    sku: str
    item_name: str
    qty: int
    points: int
    status: str
    note: str | None
    created_at: datetime


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None


class NoteIn(Strict):
    note: str | None = Field(default=None, max_length=500)


class OrderResultOut(BaseModel):
    order_no: str
    employee_id: str
    sku: str
    qty: int
    points: int
    status: str
    note: str | None
    codes: list[str]


class ApprovalsQuery(Page):
    state: Literal["pending", "approved", "rejected", "cancelled"] = "pending"


class ApprovalOut(BaseModel):
    id: str
    kind: str
    subject_id: str
    requester_id: str
    summary: str
    amount: int
    status: str
    created_at: datetime
    age_hours: float
    approver: str | None = Field(description="employee id, or role:<role> for any of a role")


class ApprovalPage(BaseModel):
    items: list[ApprovalOut]
    next_cursor: str | None


# --- reports, broadcasts, audit, ledger --------------------------------------------------------

class MonthQuery(BaseModel):
    month: str | None = Field(default=None, description="YYYY-MM; this month when left out")


class TopItemOut(BaseModel):
    sku: str
    name: str
    qty: int
    points: int


class DepartmentOut(BaseModel):
    department: str
    issued: int
    redeemed: int


class MonthlyReportOut(BaseModel):
    month: str
    issued: int
    redeemed: int
    expired: int
    refunded: int
    deducted: int
    awards_count: int
    awards_points: int
    expiring_30d: int
    expiring_employees: int
    open_orders: int = Field(description="orders waiting for approval or hand-over, now")
    open_points: int = Field(description="their points, held in escrow")
    top_items: list[TopItemOut] = Field(description="items of the orders handed over in the "
                                        "month: the orders 'redeemed' counts")
    by_department: list[DepartmentOut]


class LeaderboardQuery(Page):
    period: Literal["month", "quarter", "year"] = "month"
    department: str | None = None


class LeaderOut(BaseModel):
    rank: int
    employee_id: str
    name: str
    department: str
    points: int


class LeaderPage(BaseModel):
    items: list[LeaderOut]
    next_cursor: str | None


class BroadcastIn(Strict):
    text: str = Field(min_length=1, max_length=2000)
    target: str | None = Field(default=None, description="one target name; all when left out")
    at: AwareDatetime | None = Field(default=None, description="send at (ISO-8601 with offset)")


class BroadcastOut(BaseModel):
    targets: list[str]
    at: datetime
    duplicate: bool


class AuditQuery(Page):
    since: AwareDatetime | date | None = Field(default=None, description="ISO-8601 time or date")
    actor: str | None = None
    action: str | None = None
    subject: str | None = None


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: Any
    after: Any


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


class VerifyOut(BaseModel):
    ok: bool
    violations: list[str]
