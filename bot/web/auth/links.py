"""Sign-in links ``<public>/admin/login?token=…`` and ``<public>/m/login?token=…``, issued for
chat (后台 / admin), the CLI (``jifen login-link``) and cards that open the mall."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from core.signin.service import issue_link, secret_key

PATHS = {"admin": "/admin/login", "mall": "/m/login"}


def public_base(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.http_host}:{settings.http_port}").rstrip("/")


async def login_link(
    session: AsyncSession, settings: Settings, *, employee_id: str, purpose: str, now: datetime,
) -> str:
    """A fresh one-time link (10 minutes) for ``employee_id``; core refuses non-HR for admin."""
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    key = await secret_key(session, configured)
    token = await issue_link(session, employee_id=employee_id, purpose=purpose, key=key, now=now)
    return f"{public_base(settings)}{PATHS[purpose]}?token={quote(token)}"
