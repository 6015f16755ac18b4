"""Neutral cards: model, typed button payloads, pure builders and one renderer per surface.

Pure on purpose: stdlib only, no ORM, no services, no network (``bot → cards → core`` layering).
"""

from cards.actions import (
    Action,
    ApproveAction,
    CancelRedeem,
    ConfirmRedeem,
    FulfilOrder,
    OpenCatalog,
    RejectAction,
    unpack,
)
from cards.model import Button, Card

__all__ = [
    "Action",
    "ApproveAction",
    "Button",
    "CancelRedeem",
    "Card",
    "ConfirmRedeem",
    "FulfilOrder",
    "OpenCatalog",
    "RejectAction",
    "unpack",
]
