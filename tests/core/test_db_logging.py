"""Database errors never carry bound parameters (outbox payloads, message texts, mobiles)."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from sqlalchemy.exc import IntegrityError

from core.db import Database
from core.models import IdempotencyKey

SECRET = "payload: 13800138000 发放 @E004 7"


async def test_a_failed_statement_hides_its_parameters(db: Database, now: datetime,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with db.uow() as s:
        s.add(IdempotencyKey(key="k", result=SECRET, created_at=now))
    with pytest.raises(IntegrityError) as failed:
        async with db.uow() as s:
            s.add(IdempotencyKey(key="k", result=SECRET, created_at=now))
    logging.getLogger("jifen.test").exception("as the dispatcher logs it", exc_info=failed.value)
    assert "hide_parameters" in str(failed.value)  # SQLAlchemy's "[SQL parameters hidden …]"
    assert "13800138000" not in str(failed.value)
    assert "13800138000" not in caplog.text and "E004" not in caplog.text
