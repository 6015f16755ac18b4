"""Peer awards, allowance use, points applications and approval chains."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, UTCDateTime, utcnow


class Award(Base):
    """One award from a giver to one recipient; a multi-recipient award is several rows sharing ``batch``."""

    __tablename__ = "awards"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_pos"),
        # the pair limit's (giver, day); its first column serves every query by giver (0013)
        Index("ix_awards_giver_day", "giver_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch: Mapped[str] = mapped_column(String(200), index=True)
    giver_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    recipient_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    hashtags: Mapped[str] = mapped_column(String(200), default="")
    # pending | approved | rejected | undone (撤回 by the giver) | revoked (撤销 by HR)
    status: Mapped[str] = mapped_column(String(16))
    day: Mapped[str] = mapped_column(String(10))  # local YYYY-MM-DD, for the pair limit
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # +1 (我也赞): the award this one joined; always the first award, never another +1
    joined_from: Mapped[int | None] = mapped_column(ForeignKey("awards.id"), index=True)


class AllowanceUse(Base):
    """Monthly giving allowance consumed by an award: ``held`` while pending, ``released`` on reject."""

    __tablename__ = "allowance_uses"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_pos"),
        # the allowance used: one giver's month (every award and every balance reads it); its
        # first column serves every query by giver (0014)
        Index("ix_allowance_uses_giver_month", "giver_id", "month"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    giver_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    month: Mapped[str] = mapped_column(String(7), index=True)  # local YYYY-MM (the dashboard's)
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # held | spent | released
    award_id: Mapped[int] = mapped_column(ForeignKey("awards.id"), unique=True)


class Application(Base):
    """积分申请: an employee asks for points with evidence; the manager decides."""

    __tablename__ = "applications"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_pos"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Appeal(Base):
    """申诉: an employee contests a deduction (``deduction``, a ledger transaction id), or a
    rejected ``award`` or ``application``; HR decides it as an approval of kind ``appeal``.
    One appeal per subject, ever: a decided appeal is final."""

    __tablename__ = "appeals"
    __table_args__ = (UniqueConstraint("subject_kind", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    appellant_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"), index=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # deduction | award | application
    subject_id: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApprovalRequest(Base):
    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # award | application | redemption | appeal
    subject_id: Mapped[str] = mapped_column(String(64))  # award/application/appeal id, order no
    requester_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"), index=True)
    summary: Mapped[str] = mapped_column(String(500), default="")
    amount: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | approved | rejected
    current_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    steps: Mapped[list[ApprovalStep]] = relationship(
        order_by="ApprovalStep.seq", lazy="selectin", back_populates="request"
    )

    @property
    def public_id(self) -> str:
        return f"A{self.id}"


class ApprovalStep(Base):
    """One ordered step; ``approver_id`` is a person, or NULL with ``approver_role`` (any HR)."""

    __tablename__ = "approval_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))  # manager | hr | admin (from the chain)
    approver_id: Mapped[str | None] = mapped_column(ForeignKey("employees.employee_id"))
    approver_role: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # waiting | pending | approved | rejected
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_from: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str | None] = mapped_column(String(500))

    request: Mapped[ApprovalRequest] = relationship(back_populates="steps")
