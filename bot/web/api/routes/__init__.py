"""Every route of the admin API, registered on one table in the order of SPEC section 11."""

from bot.web.api.framework import RouteTable

TABLE = RouteTable()

from bot.web.api.routes import people, shop, reports  # noqa: E402,F401,I001  (they fill TABLE)
