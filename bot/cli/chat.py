"""``jifen chat --as <employee_id>``: the playground in a terminal.

It builds the same application as ``jifen run`` (migrations, dispatcher, outbox worker; the
playground inbox is forced on) without serving HTTP, then reads commands line by line. Cards are
printed as plain text (``cards.render_text.render_plain``), which already ends with the text
commands of their buttons (``或回复：确认 AB12 / 取消 AB12``), so every button works by typing it.
After each reply the outbox worker runs once and pushes for this employee are printed as 通知.

Reading stdin happens in a daemon thread, so the event loop never blocks and Ctrl-C is not held
up by a pending ``input()``. Pushes for other employees that the worker delivers meanwhile land in
the in-memory playground inbox and are gone when the chat ends (it is a local demo tool).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.app import DB_KEY, DISPATCHER_KEY, INBOX_KEY, WORKER_KEY, build
from bot.cli.errors import UserError
from bot.runtime.events import playground_event
from cards.model import Card
from cards.render_text import render_plain
from cards.serialize import card_from_dict
from config.settings import Settings
from core.models import Employee

Reader = Callable[[str], Awaitable[str | None]]
Writer = Callable[[str], None]
EXIT_WORDS = {"exit", "quit", "退出"}
RULE = "─" * 40


async def read_line(prompt: str) -> str | None:
    """``input(prompt)`` in a daemon thread; ``None`` at end of input."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[str | None] = loop.create_future()

    def _settle(value: str | None, error: BaseException | None) -> None:
        if result.done():
            return
        if error is not None:
            result.set_exception(error)
        else:
            result.set_result(value)

    def _work() -> None:
        try:
            line: str | None = input(prompt)
        except EOFError:
            line = None
        except Exception as exc:  # noqa: BLE001 - handed to the loop, raised there
            loop.call_soon_threadsafe(_settle, None, exc)
            return
        loop.call_soon_threadsafe(_settle, line, None)

    threading.Thread(target=_work, name="jifen-chat-stdin", daemon=True).start()
    return await result


def _write(text: str) -> None:
    print(text, flush=True)


def format_card(card: Card, *, push: bool = False) -> str:
    body = render_plain(card)
    return f"[通知 Notification]\n{body}" if push else body


class TerminalChat:
    def __init__(self, app: web.Application, employee_id: str, write: Writer) -> None:
        self.app, self.employee_id, self.write = app, employee_id, write

    async def employee(self) -> Employee:
        async with self.app[DB_KEY].uow() as s:
            emp = await s.get(Employee, self.employee_id)
        if emp is None or not emp.active:
            raise UserError(f"unknown employee: {self.employee_id} (see 'jifen employees import')")
        return emp

    async def say(self, text: str) -> None:
        event = playground_event(self.employee_id, text, message_id=uuid.uuid4().hex)
        for card in await self.app[DISPATCHER_KEY].feed(event):
            self.write(format_card(card))
            self.write(RULE)

    async def pushes(self) -> None:
        await self.app[WORKER_KEY].run_once()
        for data in self.app[INBOX_KEY].take(self.employee_id):
            self.write(format_card(card_from_dict(data), push=True))
            self.write(RULE)

    async def loop(self, read: Reader, prompt: str) -> None:
        while True:
            line = await read(prompt)
            if line is None or line.strip().lower() in EXIT_WORDS:
                return
            if not line.strip():
                continue
            await self.say(line)
            await self.pushes()


async def run_chat(settings: Settings, employee_id: str, *, read: Reader = read_line,
                   write: Writer = _write) -> int:
    """Chat as ``employee_id`` until end of input, ``exit`` or ``quit``; 0 on a normal end."""
    app = await build(settings.model_copy(update={"playground": True}), background=False)
    try:
        chat = TerminalChat(app, employee_id, write)
        emp = await chat.employee()
        write(f"jifen chat — {emp.name}（{emp.employee_id}，{emp.department or '—'}）")
        write("输入指令，如：积分 / 帮助；exit 或 quit 退出 (type a command; exit or quit to leave)")
        write(RULE)
        await chat.pushes()
        prompt = f"{emp.employee_id}> " if sys.stdin.isatty() else ""
        await chat.loop(read, prompt)
        return 0
    finally:
        app.freeze()
        await app.cleanup()
