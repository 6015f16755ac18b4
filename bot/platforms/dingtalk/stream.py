"""DingTalk Stream mode with the official ``dingtalk-stream`` SDK, run safely.

Design (platforms.md §1.11, §1.12, §4 items 1–3, 7): we do **not** call the SDK's ``start()``.
In 0.24.3 it swallows ``CancelledError`` (shutdown hangs), does a blocking ``requests.post``
without timeout on the caller's loop, reconnects in a tight loop after ``disconnect`` and writes
ACKs to whatever socket is current. Running all of it in a second thread with its own loop
would isolate the blocking call but not fix cancellation, backoff or the ACK target, and would
need a cross-thread hand-off for every event. Instead the SDK supplies what it is good for —
``open_connection()`` (the exact ``connections/open`` body with our subscriptions and its UA),
the frame classes, and the handlers' ``raw_process`` that build each ACK with the frame's
``messageId`` — and this module owns the loop:

* ``open_connection()`` runs in a **daemon thread** (it has no timeout; a daemon thread cannot
  hold up shutdown the way ``asyncio.to_thread``'s executor would) and is awaited with a timeout.
* The websocket lives on jifen's loop; each frame is ACKed on the socket it came from before
  the next frame is read, and the work (``feed``) runs after the ACK in a tracked task. Bot
  messages may be redelivered anyway (§1.10); the dispatcher dedupes them by ``msgId``.
* Reconnects follow a jittered exponential backoff (``Backoff``) after a ``disconnect`` frame,
  a closed or dead socket (websockets' own keepalive pings detect the latter) or a failed open.
* ``stop()`` cancels the connection loop, which is cancellable here, and gives in-flight work a
  short grace period: it returns within a few seconds.

The SDK reads its endpoint from module globals copied at import time (§1.11), so
:func:`point_sdk_at` rewrites every one of them to ``JIFEN_DINGTALK_API_BASE``. They are
process-wide: one API base per process (which is what the settings allow anyway).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import dingtalk_stream
import websockets
from dingtalk_stream import AckMessage, CallbackMessage, EventMessage, SystemMessage
from dingtalk_stream import card_replier as sdk_card_replier
from dingtalk_stream import chatbot as sdk_chatbot
from dingtalk_stream import stream as sdk_stream
from dingtalk_stream import utils as sdk_utils

from bot.platforms.base import TaskSet
from bot.platforms.dingtalk.contact_events import parse_contact_event
from bot.platforms.dingtalk.parse import TOPIC_BOT_MESSAGE, TOPIC_CARD_CALLBACK, parse_payload
from bot.runtime.events import ContactChange, Event

log = logging.getLogger("jifen.dingtalk")
sdk_log = logging.getLogger("jifen.dingtalk.sdk")  # instead of the SDK's forced INFO handler

Feed = Callable[[Event], Awaitable[object]]
ContactFeed = Callable[[ContactChange], Awaitable[object]]
EVENT_ACK_BUDGET_S = 3.0  # contact events are ACKed after they are applied, or after this
DEFAULT_API_BASE = "https://api.dingtalk.com"
OPEN_PATH = "/v1.0/gateway/connections/open"


def point_sdk_at(api_base: str) -> None:
    """Make every endpoint the SDK may use start with ``api_base`` (§1.11 table)."""
    base = api_base.rstrip("/")
    for module in (sdk_utils, sdk_stream, sdk_chatbot, sdk_card_replier):
        module.DINGTALK_OPENAPI_ENDPOINT = base  # type: ignore[attr-defined]
    dingtalk_stream.DingTalkStreamClient.OPEN_CONNECTION_API = base + OPEN_PATH


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0  # seconds before reconnecting after a disconnect or a short session
    maximum: float = 60.0
    healthy_after: float = 30.0  # a session this long resets the failure count

    def delay(self, failures: int) -> float:
        return min(self.maximum, self.first * 2 ** min(failures, 16)) * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class StreamTimeouts:
    open: float = 15.0  # connections/open (blocking requests call, in its thread)
    handshake: float = 10.0  # websocket opening handshake
    ping_interval: float = 20.0  # websockets keepalive: a dead socket fails within ~40 s
    ping_timeout: float = 20.0
    close: float = 2.0
    stop_grace: float = 3.0  # how long stop() lets in-flight feeds finish


class _Handler(dingtalk_stream.CallbackHandler):
    """Answers every frame of its topic with 200 at once; the SDK's ``raw_process`` turns that
    into the ACK with the frame's ``messageId``. The work starts after the ACK is sent."""

    def __init__(self, response: object) -> None:
        # no super().__init__(): it installs the SDK's own log handler at INFO
        self.dingtalk_client = None  # type: ignore[assignment]
        self.logger = sdk_log
        self._response = response

    async def process(self, message: CallbackMessage) -> tuple[int, object]:
        return AckMessage.STATUS_OK, self._response


class _EventAck(dingtalk_stream.EventHandler):
    """ACKs an EVENT frame (the SDK echoes the event as the ACK data, platforms.md §1.5)."""

    def __init__(self) -> None:
        super().__init__()
        self.logger = sdk_log

    async def process(self, event: EventMessage) -> tuple[int, str]:
        return AckMessage.STATUS_OK, "OK"


class DingTalkStream:
    """One Stream connection (AppKey/AppSecret) feeding neutral events to ``feed``."""

    def __init__(self, *, feed: Feed, client_id: str, client_secret: str,
                 api_base: str = DEFAULT_API_BASE, backoff: Backoff | None = None,
                 timeouts: StreamTimeouts | None = None,
                 robot_names: tuple[str, ...] = (), contacts: ContactFeed | None = None) -> None:
        point_sdk_at(api_base)
        self._feed, self._robot_names, self._contacts = feed, robot_names, contacts
        self._backoff, self._t = backoff or Backoff(), timeouts or StreamTimeouts()
        credential = dingtalk_stream.Credential(client_id, client_secret)
        self._sdk = dingtalk_stream.DingTalkStreamClient(credential, logger=sdk_log)
        # Both topics end up in the subscriptions of the connections/open body.
        self._sdk.register_callback_handler(TOPIC_BOT_MESSAGE, _Handler("OK"))
        # A card callback's ACK data is a card update instruction; {} asks for none (§1.9).
        self._sdk.register_callback_handler(TOPIC_CARD_CALLBACK, _Handler({}))
        if contacts is not None:  # adds {"type": "EVENT", "topic": "*"} to the subscriptions
            self._sdk.register_all_event_handler(_EventAck())
        self._tasks = TaskSet(log, "dingtalk")  # frames ACKed and still being processed
        self._runner: asyncio.Task[None] | None = None
        self.connected = False
        self.sessions = 0  # websocket sessions opened so far (for health and tests)

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="dingtalk-stream")

    async def stop(self) -> None:
        """Close the connection and finish (or, after the grace period, cancel) pending work."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.wait({runner}, timeout=self._t.close + 1.0)
        await self._tasks.drain(self._t.stop_grace)
        self.connected = False

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                lived = await self._session()
            except Exception:  # noqa: BLE001 - a bug must not end reconnecting for good
                log.exception("dingtalk: stream session crashed")
                lived = 0.0
            if lived >= self._backoff.healthy_after:
                attempt = 0
            delay = self._backoff.delay(attempt)
            attempt += 1
            log.info("dingtalk: stream reconnecting in %.2fs", delay)
            await asyncio.sleep(delay)

    async def _session(self) -> float:
        """One connection, until it ends; returns how long it was up (0 if it never was)."""
        connection = await self._open()
        if connection is None:
            return 0.0
        uri = f"{connection['endpoint']}?ticket={quote_plus(str(connection['ticket']))}"
        loop = asyncio.get_running_loop()
        started: float | None = None
        try:
            async with websockets.connect(
                    uri, open_timeout=self._t.handshake, ping_interval=self._t.ping_interval,
                    ping_timeout=self._t.ping_timeout, close_timeout=self._t.close) as ws:
                self.connected, self.sessions = True, self.sessions + 1
                started = loop.time()
                log.info("dingtalk: stream connected")
                async for raw in ws:
                    if not await self._on_frame(ws, raw):
                        break  # disconnect frame: leaving the block closes the socket
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
            log.warning("dingtalk: stream connection lost: %s", type(exc).__name__)
        finally:
            self.connected = False
        return 0.0 if started is None else loop.time() - started

    async def _open(self) -> dict[str, Any] | None:
        """``open_connection()`` in a daemon thread; ``None`` on failure or timeout."""
        loop = asyncio.get_running_loop()
        result: asyncio.Future[object] = loop.create_future()

        def deliver(value: object) -> None:
            if not result.done():
                result.set_result(value)

        def work() -> None:
            try:
                value: object = self._sdk.open_connection()
            except Exception:  # noqa: BLE001 - reported as a failed open below
                value = None
            try:
                loop.call_soon_threadsafe(deliver, value)
            except RuntimeError:  # the loop is gone: we were stopped meanwhile
                pass

        threading.Thread(target=work, name="dingtalk-open", daemon=True).start()
        try:
            value = await asyncio.wait_for(result, self._t.open)
        except TimeoutError:
            value = None
        if not (isinstance(value, dict) and value.get("endpoint") and value.get("ticket")):
            log.warning("dingtalk: stream connections/open failed")
            return None
        return value

    async def _on_frame(self, ws: Any, raw: str | bytes) -> bool:
        """ACK one frame on its own socket; False when the server asked us to reconnect."""
        try:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == SystemMessage.TYPE:
                message = SystemMessage.from_dict(frame)
                # ping: echo its data; disconnect: no answer needed, the SDK ACKs it too (§1.6)
                ack = await self._sdk.system_handler.raw_process(message)
                await ws.send(json.dumps(ack.to_dict()))
                return bool(message.headers.topic != SystemMessage.TOPIC_DISCONNECT)
            if kind == CallbackMessage.TYPE:
                await self._on_callback(ws, CallbackMessage.from_dict(frame))
            elif kind == EventMessage.TYPE:
                await self._on_event(ws, EventMessage.from_dict(frame))
            else:
                log.info("dingtalk: ignoring %s frame", kind)
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            # already ACKed (or not ours): a frame we cannot read is dropped, never retried —
            # MalformedPayload (ids that are not ids, atUsers: 5, …) or nesting past the stack
            log.warning("dingtalk: bad stream frame dropped (%s)", type(exc).__name__)
        return True

    async def _on_callback(self, ws: Any, message: CallbackMessage) -> None:
        handler = self._sdk.callback_handler_map.get(message.headers.topic)
        if handler is None:
            log.info("dingtalk: no handler for topic %s", message.headers.topic)
            return
        try:
            ack = await handler.raw_process(message)
            await ws.send(json.dumps(ack.to_dict()))
        finally:
            # even if the ACK could not be sent: a lost message is worse than a redelivered one
            self._spawn(parse_payload(message.data, frame_id=message.headers.message_id,
                                      robot_names=self._robot_names))

    def _spawn(self, event: Event | None) -> None:
        if event is not None:
            self._tasks.spawn(self._feed(event))

    async def _on_event(self, ws: Any, message: EventMessage) -> None:
        """Apply a contact event, then ACK. A failed apply sends no ACK, so DingTalk
        redelivers it (the directory sync dedupes by event id); a slow one is ACKed after
        ``EVENT_ACK_BUDGET_S`` and finishes in the background."""
        headers = message.headers
        change = parse_contact_event(headers.event_type, headers.event_id, message.data)
        if change is not None and self._contacts is not None:
            task = self._tasks.spawn(self._contacts(change))
            try:
                await asyncio.wait_for(asyncio.shield(task), EVENT_ACK_BUDGET_S)
            except TimeoutError:
                pass
            except Exception:  # noqa: BLE001 - logged by the task set; no ACK => redelivery
                return
        elif change is None:
            log.info("dingtalk: ignoring event %s", headers.event_type)
        ack = await _EventAck().raw_process(message)
        await ws.send(json.dumps(ack.to_dict()))
