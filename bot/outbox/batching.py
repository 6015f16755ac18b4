"""DingTalk ``batchSend`` for the same message to many employees: up to 20 users per call.

Pushes are sent by concurrent per-recipient streams; a push whose rendered message equals one
already waiting joins it, and the group goes out when it holds 20 users or after a few
milliseconds. Each caller then gets the shared answer and checks its own user in it (a user can
be flow-controlled or invalid while the call as a whole succeeds, platforms.md §2.2).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from bot.platforms.dingtalk.client import BATCH_LIMIT, BatchSendResult, DingTalkClient

WINDOW = 0.005  # seconds a group waits for company before it is sent


@dataclass
class _Group:
    msg_key: str
    msg_param: dict[str, Any]
    users: list[str] = field(default_factory=list)
    done: asyncio.Future[BatchSendResult] | None = None


class BatchSender:
    def __init__(self, client: DingTalkClient, *, window: float = WINDOW,
                 limit: int = BATCH_LIMIT) -> None:
        self.client, self.window, self.limit = client, window, limit
        self._open: dict[str, _Group] = {}
        self.calls = 0

    async def send(self, user_id: str, msg_key: str, msg_param: dict[str, Any]) -> BatchSendResult:
        key = msg_key + "\n" + json.dumps(msg_param, ensure_ascii=False, sort_keys=True)
        group = self._open.get(key)
        if group is None:
            group = _Group(msg_key, msg_param, done=asyncio.get_running_loop().create_future())
            self._open[key] = group
            asyncio.get_running_loop().call_later(self.window, self._flush, key, group)
        group.users.append(user_id)
        assert group.done is not None
        done = group.done
        if len(group.users) >= self.limit:
            self._flush(key, group)
        return await asyncio.shield(done)

    def _flush(self, key: str, group: _Group) -> None:
        if self._open.get(key) is not group:
            return  # already sent (full before its window ended)
        del self._open[key]
        self.calls += 1
        task = asyncio.ensure_future(self.client.batch_send(group.users, group.msg_key,
                                                            group.msg_param))
        task.add_done_callback(lambda t: _settle(group, t))


def _settle(group: _Group, task: asyncio.Task[BatchSendResult]) -> None:
    assert group.done is not None
    if task.cancelled():
        group.done.cancel()
    elif task.exception() is not None:
        group.done.set_exception(task.exception())  # type: ignore[arg-type]
    else:
        group.done.set_result(task.result())
