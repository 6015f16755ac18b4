"""``jifen login-link <employee_id> [--admin]``: the same one-time link chat 后台 answers with."""

from __future__ import annotations

from bot.web.auth.links import login_link
from config.settings import Settings
from core.db import Database
from core.models import utcnow


async def print_login_link(db: Database, settings: Settings, *, employee_id: str, admin: bool) -> None:
    purpose = "admin" if admin else "mall"
    url = await db.run(lambda s: login_link(s, settings, employee_id=employee_id, purpose=purpose,
                                            now=utcnow()))
    print(url)
