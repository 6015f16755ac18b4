from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.platforms.dingtalk.client import DingTalkClient
from bot.platforms.dingtalk.errors import RetryPolicy
from tests.fakes.dingtalk_server import CLIENT_ID, CLIENT_SECRET, FakeDingTalk


class Sleeps:
    """Records backoff delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def dt() -> Iterator[FakeDingTalk]:
    with FakeDingTalk() as fake:
        yield fake


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(dt: FakeDingTalk, sleeps: Sleeps) -> AsyncIterator[DingTalkClient]:
    policy = RetryPolicy(attempts=3, base_delay=0.5, max_delay=8, timeout=2)
    async with DingTalkClient(app_key=CLIENT_ID, app_secret=CLIENT_SECRET, robot_code="robot-1",
                              api_base=dt.base_url + "/", retry=policy, sleep=sleeps) as c:
        yield c
