"""Employee directory."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow

# Declared roles (HR, admin, …) are held by few; most rows have none. An index of only the rows
# with a role serves every "who holds role X" (a new order's HR, an approval step's role) without
# reading the directory (0015). A query uses it when its WHERE holds this very predicate, written
# as a literal: ``WITH_ROLES``.
WITH_ROLES = "roles <> ''"


class Employee(Base):
    __tablename__ = "employees"
    __table_args__ = (
        Index("ix_employees_with_roles", "employee_id", sqlite_where=text(WITH_ROLES),
              postgresql_where=text(WITH_ROLES)),
    )

    employee_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    department: Mapped[str] = mapped_column(String(100), default="")
    manager_id: Mapped[str | None] = mapped_column(String(64), index=True)
    roles: Mapped[str] = mapped_column(String(200), default="")  # "|"-separated, as in the CSV
    wecom_userid: Mapped[str | None] = mapped_column(String(64), unique=True)
    dingtalk_userid: Mapped[str | None] = mapped_column(String(64), unique=True)
    hire_date: Mapped[date | None] = mapped_column(Date)
    birthday: Mapped[str | None] = mapped_column(String(5))  # MM-DD; the year is not needed
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def role_set(self) -> set[str]:
        return declared_roles(self.roles)


def declared_roles(roles: str) -> set[str]:
    """The roles of an ``Employee.roles`` value ("|"-separated) plus ``employee``, everyone's."""
    return {r for r in roles.split("|") if r} | {"employee"}
