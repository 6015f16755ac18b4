"""All ORM models, imported here so ``Base.metadata`` is complete for alembic."""

from core.models.audit import AuditEntry
from core.models.awards import (
    AllowanceUse,
    Appeal,
    Application,
    ApprovalRequest,
    ApprovalStep,
    Award,
)
from core.models.base import Base, UTCDateTime, utcnow
from core.models.catalog import CatalogItem, CodeEntry, Confirmation, Order, OrderEvent
from core.models.directory import Employee
from core.models.inbox import InboxEvent
from core.models.ledger import Account, Entry, IdempotencyKey, LedgerTransaction, Lot, ReminderMark
from core.models.outbox import CardRef, OutboxMessage
from core.models.reliability import SeenRequest
from core.models.reports import ReportFigure, ReportRollup
from core.models.web import LoginToken, WebSecret, WebSession

__all__ = [
    "Account", "AllowanceUse", "Appeal", "AuditEntry", "CardRef", "Application", "ApprovalRequest", "ApprovalStep", "Award", "Base",
    "CatalogItem", "CodeEntry", "Confirmation", "Employee", "Entry", "IdempotencyKey", "InboxEvent",
    "LedgerTransaction", "Lot", "Order", "OrderEvent", "OutboxMessage", "ReminderMark", "ReportFigure", "ReportRollup",
    "SeenRequest", "UTCDateTime", "utcnow", "LoginToken", "WebSecret", "WebSession",
]
