"""The HR console ``/admin`` (roles hr / admin): one module per page, routes listed here."""

from __future__ import annotations

from aiohttp import web

from bot.web.admin import (
    approvals,
    audit,
    broadcasts,
    catalog,
    dashboard,
    employees,
    grants,
    orders,
    reports,
)


def setup_routes(app: web.Application) -> None:
    for page in (dashboard, employees, orders, grants, catalog, approvals, broadcasts, reports,
                 audit):
        page.setup_routes(app)
