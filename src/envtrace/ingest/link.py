"""The network process's end of the storage process (``storage.py`` describes the protocol).

``StorageLink.submit`` queues a frame; the frames and state events queued during one turn of the
event loop go out as one message at the end of that turn. Frames are committed in the order they
were submitted, so the network process keeps them in a FIFO (``inflight``) and pops the first ``n``
when the storage process reports ``(COMMITTED, n, ...)``; only then are their answers sent.

Resources
    One child process (``multiprocessing`` spawn; or a thread with ``storage="thread"``) and one
    socketpair. The child shares the gateway's process group, so ``kill -9`` of the group takes
    both; it ignores SIGINT / SIGTERM (the gateway stops it with STOP after draining).

Errors
    The storage side closing the socket without BYE, or reporting FAILED, is ``failure`` (an
    ``WriterStopped`` cause): the gateway stops; nothing uncommitted is ever answered.
"""

from __future__ import annotations

import asyncio
import logging
import marshal
import multiprocessing
import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from envtrace.ingest.config import GatewayConfig
from envtrace.ingest.storage import BATCH, BYE, COMMITTED, FAILED, HEADER, READY, STOP, pack
from envtrace.ingest.work import Work

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

log = logging.getLogger("envtrace.ingest.link")

LINK_BUFFER = 4 << 20  # bytes (capped by net.core.wmem_max)

# the next n works committed: (works, changes, gaps, enrolled station tuples)
OnCommitted = Callable[[list[Work], list[Any], list[Any], list[Any]], None]


class StorageStopped(Exception):
    """The storage process (or thread) ended without being asked to."""


def _sqlite_synchronous(engine: Engine) -> str:
    """The ``synchronous`` level the gateway's engine runs SQLite with (the child uses the same)."""
    with engine.connect() as conn:
        level = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(int(level or 2), "FULL")


def _in_memory(engine: Engine) -> bool:
    """An in-memory SQLite database exists in this process only."""
    if engine.dialect.name != "sqlite":
        return False
    database = engine.url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


class _Protocol(asyncio.Protocol):
    def __init__(self, link: StorageLink) -> None:
        self.link = link
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos, n = 0, len(buf)
        while n - pos >= 4:
            (size,) = HEADER.unpack_from(buf, pos)
            if n - pos - 4 < size:
                break
            message = marshal.loads(bytes(buf[pos + 4 : pos + 4 + size]))
            pos += 4 + size
            self.link.on_message(message)
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.on_lost(exc)


class StorageLink:
    """Starts the storage process, sends it frames, receives its commit reports."""

    def __init__(self, engine: Engine, config: GatewayConfig, on_committed: OnCommitted) -> None:
        self.engine = engine
        self.config = config
        self.on_committed = on_committed
        self._seal = config.seal
        self.inflight: deque[Work] = deque()
        self.failure: BaseException | None = None
        self.batches = 0
        self.frames = 0
        self.commit_s = 0.0
        self.pid: int | None = None
        self._out: list[tuple[Any, ...]] = []
        self._events: list[tuple[int, bool, str, int]] = []
        self._scheduled = False
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Future[None] | None = None
        self._bye: asyncio.Future[None] | None = None
        self._failed = asyncio.Event()
        self._process: BaseProcess | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    # ------------------------------------------------------------------ life cycle

    async def start(self, within_s: float = 120.0) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._ready = loop.create_future()
        self._bye = loop.create_future()
        mine, theirs = socket.socketpair()
        for sock in (mine, theirs):  # room for a few batches while the storage process commits
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, LINK_BUFFER)
        config = self.config
        if config.storage == "thread" or _in_memory(self.engine):  # a child would see another database
            from envtrace.ingest.storage import run_storage_thread

            self._thread = threading.Thread(
                target=run_storage_thread,
                args=(theirs, self.engine, config.seal, config.batch_max),
                name="envtrace-storage",
                daemon=True,
            )
            self._thread.start()
        else:
            from envtrace.ingest.storage import run_storage

            url = self.engine.url.render_as_string(hide_password=False)
            sync = await asyncio.to_thread(_sqlite_synchronous, self.engine) if self._sqlite else "FULL"
            ctx = multiprocessing.get_context("spawn")
            self._process = ctx.Process(
                target=run_storage,
                args=(theirs, url, sync, config.seal, config.batch_max, logging.getLogger().level),
                name="envtrace-storage",
                daemon=False,
            )
            await asyncio.to_thread(self._process.start)
            theirs.close()
        transport, _ = await loop.create_connection(lambda: _Protocol(self), sock=mine)
        self._transport = transport
        failed: asyncio.Future[Any] = asyncio.ensure_future(self._failed.wait())
        waiters: list[asyncio.Future[Any]] = [self._ready, failed]
        try:
            await asyncio.wait(waiters, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            failed.cancel()
        if self.failure is not None or not self._ready.done():
            self._stopping = True
            transport.close()  # the child, if it lives, sees end of file and exits
            await self._reap()
            raise StorageStopped(
                f"the storage process did not start within {within_s:.0f} s: {self.failure!r}"
            )

    @property
    def _sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def stop(self, within_s: float = 30.0) -> bool:
        """Commit everything sent, then end the storage process; True when it said BYE. Again: no-op."""
        if self._stopping:
            return self._bye is not None and self._bye.done() and self._bye.exception() is None
        self._stopping = True
        ok = False
        if self.failure is None and self._transport is not None and self._bye is not None:
            self._flush()
            self._transport.write(pack((STOP,)))
            try:
                async with asyncio.timeout(within_s):
                    await self._bye
                ok = True
            except (TimeoutError, StorageStopped):
                ok = False
        if self._transport is not None:
            self._transport.close()
        await self._reap()
        return ok

    async def _reap(self) -> None:
        if self._process is not None:
            proc = self._process
            await asyncio.to_thread(proc.join, 30)
            if proc.is_alive():  # pragma: no cover - it exits at end of file
                log.error("the storage process %s did not exit; killing it", proc.pid)
                proc.kill()
                await asyncio.to_thread(proc.join, 5)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)

    # ------------------------------------------------------------------ sending

    def submit(self, w: Work) -> None:
        self.inflight.append(w)
        self._out.append(w.record(seal=self._seal))
        if not self._scheduled:
            self._scheduled = True
            assert self._loop is not None
            self._loop.call_soon(self._flush)

    def event(self, ev: tuple[int, bool, str, int]) -> None:
        self._events.append(ev)
        if not self._scheduled:
            self._scheduled = True
            assert self._loop is not None
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._out and not self._events:
            return
        out, events = self._out, self._events
        self._out, self._events = [], []
        if self._transport is not None and self.failure is None:
            self._transport.write(pack((BATCH, out, events)))

    # ------------------------------------------------------------------ receiving

    def on_message(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == COMMITTED:
            _, count, changes, gaps, enrolled, seconds = message
            inflight = self.inflight
            works = [inflight.popleft() for _ in range(count)]
            self.batches += 1
            self.frames += count
            self.commit_s += seconds
            self.on_committed(works, changes, gaps, enrolled)
        elif kind == READY:
            self.pid = int(message[1])
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
        elif kind == BYE:
            _, self.batches, self.frames, self.commit_s = message
            if self._bye is not None and not self._bye.done():
                self._bye.set_result(None)
        elif kind == FAILED:
            self._fail(StorageStopped(f"the storage process failed: {message[1]}"))
        else:  # pragma: no cover
            self._fail(StorageStopped(f"unknown message from the storage process: {message!r}"))

    def on_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._bye is not None and self._bye.done():
            return
        code = self._process.exitcode if self._process is not None else None
        self._fail(
            StorageStopped(
                f"the storage process ended without being asked to (exit code {code}, {exc!r}); "
                f"{len(self.inflight)} frames received and not committed stay unanswered"
            )
        )

    def _fail(self, failure: BaseException) -> None:
        if self.failure is None:
            self.failure = failure
            log.error("%s", failure)
        self._failed.set()
        if self._bye is not None and not self._bye.done():
            self._bye.set_exception(failure)
            self._bye.exception()  # retrieved: nobody may be waiting

    async def wait_failed(self) -> None:
        await self._failed.wait()
