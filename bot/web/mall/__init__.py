"""The employee mall ``/m`` (any active employee): points, catalog, redeem → confirm, orders,
giving, leaderboard; signed in by a one-time card link, WeCom OAuth or DingTalk 免登.

Every action calls the same core service as its chat command, so rules, refusals and
notifications are the chat's own."""

from __future__ import annotations

from aiohttp import web

from bot.web.mall import give, pages, shop, signin


def setup_routes(app: web.Application) -> None:
    for module in (signin, pages, shop, give):
        module.setup_routes(app)
