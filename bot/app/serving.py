"""How ``jifen run`` serves: in this process, or with ``JIFEN_WORKERS`` > 1 in several serving
processes on one port.

One Python process serves chat on one core (its interpreter lock), whatever the host has. With
N workers the kernel spreads incoming connections among N processes listening on the same port
(``SO_REUSEPORT``); each is a whole jifen — callbacks, the inbox, the outbox worker, platform
connections — and they share only the database, as replicas do (SPEC section 7): events are
leased and deduplicated by their rows, outbox rows are claimed in write transactions, and one
worker (``core.leader``) runs the scheduled jobs. On SQLite the workers share the file's write
lock (WAL: readers never wait); on PostgreSQL each has its own pool.

This process only supervises: it migrates once, starts the workers, prints the ready line when
all listen, restarts a worker that dies and stops them all on SIGTERM/SIGINT. A worker whose
supervisor is gone (killed with SIGKILL) stops by itself rather than serve on unsupervised.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from types import FrameType

from aiohttp import web

from bot.app.server import QuietAccessLog, build_served, ready_line, setup_logging
from config.settings import Settings
from core.leader import lock_path
from migrations.migrate import upgrade

log = logging.getLogger("jifen.workers")

RESTART_DELAY_S = 1.0  # before a dead worker is replaced (a crash loop stays slow)
STOP_GRACE_S = 30.0  # a worker's graceful shutdown (in-flight requests, the outbox's batch)
_SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads or loop


def run(settings: Settings) -> int:
    """Serve until stopped; the exit status. ``JIFEN_WORKERS`` > 1: that many processes,
    unless the configuration needs one."""
    setup_logging()
    workers = settings.workers
    if workers > 1 and (reason := single_process_reason(settings)):
        log.warning("serving in one process, not %d: %s", workers, reason)
        workers = 1
    if workers > 1:
        return serve_workers(settings, workers, ready_line(settings))

    def ready(_aiohttp_banner: str) -> None:  # aiohttp calls this once the socket listens
        print(ready_line(settings), flush=True)

    web.run_app(build_served(settings), host=settings.http_host, port=settings.http_port, print=ready,
                access_log_class=QuietAccessLog)
    return 0


def single_process_reason(settings: Settings) -> str | None:
    """Why this configuration must run in one process, if it must."""
    if settings.playground_enabled:
        return "the playground keeps its chat in the memory of one process"
    if settings.database_url.startswith("sqlite") and lock_path(settings.database_url) is None:
        return "an in-memory database belongs to one process"
    return None


def serve_workers(settings: Settings, workers: int, ready: str) -> int:
    """Supervise ``workers`` serving processes until SIGTERM/SIGINT; the exit status."""
    _refuse_a_taken_port(settings.http_host, settings.http_port)
    asyncio.run(upgrade(settings.database_url))  # once, before the workers open the database
    sup = _Supervisor(settings, workers)
    with sup.signals():
        if not sup.start_all():
            sup.stop_all()
            return 1
        print(f"{ready} ({workers} workers)", flush=True)
        sup.watch()
        sup.stop_all()
    return 0


def _refuse_a_taken_port(host: str, port: int) -> None:
    """OSError (as one process would get) if something listens on the port already. Workers
    share it through ``SO_REUSEPORT``, which would as well let a second ``jifen run --workers``
    of the same user serve beside the first, perhaps on another database; a plain bind finds
    either."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family):
        pass


class _Supervisor:
    def __init__(self, settings: Settings, workers: int) -> None:
        self.settings, self.count = settings, workers
        self.procs: dict[int, SpawnProcess] = {}  # worker number -> process
        self.ready: Queue[int] = _SPAWN.Queue()
        self.stopping = threading.Event()

    def signals(self) -> _Signals:
        return _Signals(self.stopping)

    def _spawn(self, number: int) -> None:
        proc = _SPAWN.Process(target=worker_main, name=f"jifen-worker-{number}",
                              args=(self.settings, number, os.getpid(), self.ready))
        proc.start()
        self.procs[number] = proc

    def start_all(self) -> bool:
        """Start every worker and wait until all listen; False if one exits first."""
        for number in range(1, self.count + 1):
            self._spawn(number)
        waiting = set(self.procs)
        while waiting and not self.stopping.is_set():
            dead = [n for n in waiting if not self.procs[n].is_alive()]
            if dead:
                log.error("worker %d exited before it listened (exit code %s)",
                          dead[0], self.procs[dead[0]].exitcode)
                return False
            try:
                waiting.discard(self.ready.get(timeout=0.2))
            except queue.Empty:  # look at the processes again
                continue
        return not self.stopping.is_set()

    def watch(self) -> None:
        """Replace a worker that dies, until asked to stop."""
        while not self.stopping.is_set():
            wait([p.sentinel for p in self.procs.values()], timeout=0.5)
            for number, proc in list(self.procs.items()):
                if proc.is_alive() or self.stopping.is_set():
                    continue
                log.warning("worker %d (pid %s) exited with code %s; starting another",
                            number, proc.pid, proc.exitcode)
                del self.procs[number]
                proc.close()
                if self.stopping.wait(RESTART_DELAY_S):
                    return
                self._spawn(number)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.procs.values():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning("worker pid %s did not stop in %g s; killed", proc.pid, STOP_GRACE_S)
                proc.kill()
                proc.join()


class _Signals:
    """SIGTERM and SIGINT set ``stopping`` (the workers get SIGTERM from ``stop_all``)."""

    def __init__(self, stopping: threading.Event) -> None:
        self.stopping = stopping
        self._saved: dict[int, object] = {}

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()

    def __enter__(self) -> _Signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, previous in self._saved.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]


def worker_main(settings: Settings, number: int, supervisor: int, ready: Queue[int]) -> None:
    """One serving process (run in a fresh interpreter by the supervisor)."""
    setup_logging(worker=number)
    threading.Thread(target=_orphan_watch, args=(supervisor,), daemon=True).start()
    try:
        web.run_app(build_served(settings), host=settings.http_host, port=settings.http_port,
                    reuse_port=True, print=lambda _banner: ready.put(number),
                    access_log_class=QuietAccessLog)
    except OSError as exc:  # the port, a file: one line, as ``jifen run`` in one process says it
        log.error("worker %d stopped: %s", number, exc.strerror or exc)
        raise SystemExit(1) from None


def _orphan_watch(supervisor: int) -> None:
    """Stop (gracefully, as on SIGTERM) once the supervisor is gone: the worker is re-parented."""
    while os.getppid() == supervisor:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
