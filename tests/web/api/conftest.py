"""The admin API served by the real app on a loopback aiohttp test server, on SQLite and
PostgreSQL (the ``db`` fixture), with a small organisation, catalog and two orders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from bot.app import create_app
from config.catalog_file import parse_catalog
from config.settings import Settings
from core.catalog.importer import import_items
from core.db import Database
from core.hr.service import grant
from core.models import utcnow
from core.orders import service as orders
from core.policy import BroadcastTarget, Policy
from tests.factories import add_employee

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CATALOG = """
items:
  - {sku: MUG, name: 马克杯, points: 100, category: 周边, stock: 5}
  - {sku: CARD, name: 咖啡券, points: 50, category: 券, kind: code, codes: [C-1, C-2]}
"""


@dataclass
class Api:
    client: TestClient
    db: Database
    policy: Policy

    async def call(self, method: str, path: str, *, json: Any = None, data: Any = None,
                   headers: dict[str, str] | None = None, auth: bool = True,
                   status: int | None = None) -> Any:
        hdrs = {**(AUTH if auth else {}), **(headers or {})}
        resp = await self.client.request(method, f"/api/v1{path}", json=json, data=data,
                                         headers=hdrs)
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        if status is not None:
            assert resp.status == status, (resp.status, body)
        return body


async def seed(db: Database, policy: Policy) -> None:
    now = utcnow()
    async with db.uow() as s:
        await add_employee(s, "HR1", "林芳", roles="hr", department="人事部")
        await add_employee(s, "E1", "张三", department="研发部")
        await add_employee(s, "E2", "李四", department="研发部")
        await add_employee(s, "E3", "王五", department="市场部")
        await add_employee(s, "GONE", "离职", active=False)
    async with db.uow() as s:
        await import_items(s, items=parse_catalog(CATALOG, fmt="yaml"), now=now, policy=policy,
                           actor_id="seed")
        await grant(s, actor_id="cli", employee_id="E1", amount=500, reason="seed", key="s1",
                    now=now, policy=policy)
    for _ in range(2):
        async with db.uow() as s:
            conf = await orders.start_redemption(s, employee_id="E1", sku="MUG", now=now,
                                                 policy=policy)
            await orders.confirm(s, employee_id="E1", code=conf.code, now=now, policy=policy)


@pytest.fixture
def api_policy(policy: Policy) -> Policy:
    targets = [BroadcastTarget(name="全员群", platform="wecom", kind="webhook",
                               url="https://example.invalid/hook")]
    return policy.model_copy(update={"broadcast": policy.broadcast.model_copy(
        update={"targets": targets})})


@pytest.fixture
async def api(db: Database, api_policy: Policy, aiohttp_client: Any) -> AsyncIterator[Api]:
    settings = Settings(database_url=db.url, admin_token=SecretStr(TOKEN), playground=False,  # type: ignore[call-arg]
                        _env_file=None)
    await seed(db, api_policy)
    client = await aiohttp_client(create_app(settings, db, api_policy))
    yield Api(client, db, api_policy)
