"""The real application (demo loaded into an empty SQLite file) for the playground tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import build
from config.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def playground_settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/j.db", _env_file=None,  # type: ignore[call-arg]
                    policy_file=str(ROOT / "config" / "policy.yaml"), playground=True)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[web.Application]:
    """Built without the background worker: tests deliver pushes with ``run_once()``."""
    yield await build(playground_settings(tmp_path), background=False)
