"""One router per feature, composed here in one visible order (first registration wins)."""

from __future__ import annotations

from bot.handlers import account, approvals, awards, console, hr, recognition, shop
from bot.runtime.router import Router


def build_router() -> Router:
    root = Router()
    for feature in (account, awards, recognition, approvals, shop, hr, console):
        root.include(feature.router)
    return root
