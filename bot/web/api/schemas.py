"""Request and response models of the directory and grants (the rest: ``schemas_shop.py``);
the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_POINTS = 999_999_999


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class Page(BaseModel):
    limit: int = Field(default=50, ge=1, le=500, description="at most 500")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")


# --- employees ---------------------------------------------------------------------------------

class EmployeesQuery(Page):
    q: str | None = Field(default=None, description="part of an id, name or department")
    department: str | None = None
    active: bool | None = None


class EmployeeOut(BaseModel):
    employee_id: str
    name: str
    department: str
    manager_id: str | None
    roles: list[str]
    wecom_userid: str | None
    dingtalk_userid: str | None
    hire_date: date | None
    birthday: str | None
    locale: str
    mobile: str = Field(description="masked")
    email: str = Field(description="masked")
    active: bool


class EmployeePage(BaseModel):
    items: list[EmployeeOut]
    next_cursor: str | None


class LotOut(BaseModel):
    id: int
    amount: int
    remaining: int
    expires_at: datetime


class AllowanceOut(BaseModel):
    limit: int
    used: int
    left: int


class EmployeeDetailOut(EmployeeOut):
    balance: int
    allowance: AllowanceOut
    lots: list[LotOut]


class EmployeeIn(Strict):
    """Fields left out are kept as they are on an existing employee (as with a CSV column)."""

    name: str = Field(min_length=1, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    manager_id: str | None = Field(default=None, max_length=64)
    roles: list[Literal["employee", "manager", "hr", "admin"]] | None = None
    wecom_userid: str | None = Field(default=None, max_length=64)
    dingtalk_userid: str | None = Field(default=None, max_length=64)
    hire_date: date | None = None
    birthday: str | None = Field(default=None, description="MM-DD or YYYY-MM-DD")
    locale: Literal["zh", "en"] | None = None
    mobile: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)


class ImportQuery(BaseModel):
    dry_run: bool = False
    deactivate_missing: bool = False


class ImportOut(BaseModel):
    dry_run: bool
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    deactivated: list[str]


class HistoryOut(BaseModel):
    transaction_id: int
    at: datetime
    amount: int
    kind: str
    reason: str
    ref: str | None
    actor: str


class HistoryPage(BaseModel):
    items: list[HistoryOut]
    next_cursor: str | None


# --- grants and deductions ---------------------------------------------------------------------

class GrantIn(Strict):
    employee_id: str = Field(min_length=1, max_length=64)
    points: int = Field(gt=0, le=MAX_POINTS)
    reason: str = Field(min_length=1, max_length=500)
    key: str | None = Field(default=None, min_length=1, max_length=150)
    expires_at: date | AwareDatetime | None = Field(
        default=None, description="a date: usable through that local day")


class GrantsIn(Strict):
    grants: list[GrantIn] = Field(min_length=1, max_length=5000)


class GrantOut(BaseModel):
    employee_id: str
    amount: int
    balance: int
    transaction_id: int
    duplicate: bool


class GrantsOut(BaseModel):
    items: list[GrantOut]
    granted: int = Field(description="points granted by this request (duplicates excluded)")


class PreviewRowOut(BaseModel):
    line: int
    employee_id: str
    name: str | None
    points: int
    balance: int | None
    new_balance: int | None
    duplicate: bool
    problems: list[str]


class PreviewOut(BaseModel):
    ok: bool
    items: list[PreviewRowOut]


class DeductionIn(Strict):
    employee_id: str = Field(min_length=1, max_length=64)
    points: int = Field(gt=0, le=MAX_POINTS)
    reason: str = Field(min_length=1, max_length=500)
    key: str | None = Field(default=None, min_length=1, max_length=150)
