"""The storage process: group commit on its own core, talking to the network process over a socket.

The gateway runs as two processes (``docs/gateway.md``, Performance): the **network process**
(accept, framing, decoding, authentication, readings, answers) and this **storage process**
(frame ids, duplicates, enrolment, sealing, the transaction). They share no memory; they speak over
one ``socketpair`` in length-prefixed ``marshal`` messages (plain tuples, lists, strings, bytes and
numbers, written and read only by these two processes)::

    network -> storage   (BATCH, [Work.record(), ...], [state_event(...), ...])   in arrival order
                         (STOP,)          commit what was sent, answer BYE, exit
    storage -> network   (READY,)         the database is open: the gateway may listen
                         (COMMITTED, n, changes, gaps, enrolled, seconds)   the next n frames sent
                                          are durable; only now are their answers sent
                         (FAILED, text)   the storage process stops on an error it cannot handle
                         (BYE,)           stopped after STOP

The storage process reads every message already waiting, commits all of it in one transaction
(group commit: one frame per transaction when idle, thousands under load), reports, and repeats.

Crash semantics. ``kill -9`` of the process group loses nothing acknowledged: an answer is sent
only after the storage process reported the commit of its frame. If the storage process dies
alone, the network process sees the socket close without BYE, answers nothing more and stops the
gateway (``WriterStopped``; stations resend what was not answered). If the network process dies
alone, this process commits what it had received, sees end of file and exits. The storage process
ignores SIGINT and SIGTERM: the network process, which receives them, drives the graceful stop.

SQLite: the writer's connection does not checkpoint the WAL itself (``wal_autocheckpoint=0``); a
thread of this process runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``CHECKPOINT_INTERVAL_S`` on
its own connection, so copying pages into the database file never delays a commit.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import marshal
import os
import signal
import socket
import sqlite3
import struct
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, event

from envtrace.ingest.writer import Change, Event, GapTuple, Item, Writer
from envtrace.store import connect
from envtrace.store.engine import SQLITE_BUSY_TIMEOUT_MS

log = logging.getLogger("envtrace.ingest.storage")

# network -> storage
BATCH, STOP = 1, 2
# storage -> network
READY, COMMITTED, FAILED, BYE = 1, 2, 3, 4

HEADER = struct.Struct("<I")
RECV_SIZE = 1 << 20
CHECKPOINT_INTERVAL_S = 1.0
WAL_SIZE_LIMIT = 64 << 20  # bytes the WAL file is cut back to when it restarts


def pack(message: tuple[Any, ...]) -> bytes:
    body = marshal.dumps(message)
    return HEADER.pack(len(body)) + body


class Inbox:
    """Length-prefixed messages from a blocking stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def read(self, *, block: bool) -> list[tuple[Any, ...]]:
        """The complete messages received so far; waits for one when ``block``. Sets ``eof``."""
        out = self._parse()
        while not out and not self.eof:
            try:
                chunk = self.sock.recv(RECV_SIZE, 0 if block else socket.MSG_DONTWAIT)
            except BlockingIOError:
                return out
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                break
            self.buf += chunk
            out = self._parse()
            if not block:
                break
        return out

    def _parse(self) -> list[tuple[Any, ...]]:
        buf = self.buf
        out: list[tuple[Any, ...]] = []
        pos = 0
        n = len(buf)
        view = memoryview(buf)
        try:
            while n - pos >= 4:
                (size,) = HEADER.unpack_from(buf, pos)
                if n - pos - 4 < size:
                    break
                out.append(marshal.loads(view[pos + 4 : pos + 4 + size]))
                pos += 4 + size
        finally:
            view.release()
        if pos:
            del buf[:pos]
        return out


class GcTuning:
    """Fewer, cheaper garbage collections while the gateway runs: the objects alive at start-up
    (modules, tables, the station directory) move to the permanent generation, and the young
    generation is collected every ``GEN0`` allocations instead of 700 (frames make short-lived,
    acyclic objects: reference counting frees them; the collector only looks for cycles)."""

    GEN0 = 50_000

    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None

    def apply(self) -> None:
        if self._saved is None:
            self._saved = gc.get_threshold()
            gc.collect()
            gc.freeze()
            gc.set_threshold(self.GEN0, 20, 50)

    def restore(self) -> None:
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            gc.unfreeze()
            self._saved = None


class Checkpointer(threading.Thread):
    """Copies the SQLite WAL into the database file in the background (PASSIVE checkpoints)."""

    def __init__(self, path: str, interval: float = CHECKPOINT_INTERVAL_S) -> None:
        super().__init__(name="envtrace-checkpoint", daemon=True)
        self.path = path
        self.interval = interval
        self.done = threading.Event()

    def run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error:
            log.exception("cannot open %s for checkpoints", self.path)
            return
        try:
            while not self.done.wait(self.interval):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:
                    log.warning("WAL checkpoint failed: %s", error)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as error:
            log.warning("final WAL checkpoint failed: %s", error)
        finally:
            db.close()

    def stop(self) -> None:
        self.done.set()
        self.join(30)


def _writer_pragmas(engine: Engine) -> str | None:
    """SQLite: no automatic checkpoints on the writer's connection; returns the database file path."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None

    @event.listens_for(engine, "connect")
    def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cur.close()

    engine.dispose()  # connections opened before the hook get it too
    return path


def serve(sock: socket.socket, engine: Engine, *, seal: bool, batch_max: int, tune_gc: bool = False) -> None:
    """The storage loop: read what the network process sent, commit it, report; until STOP or EOF.
    ``tune_gc``: this process is the storage process (not a thread of the gateway's)."""
    path = _writer_pragmas(engine)
    gc_tuning = GcTuning() if tune_gc else None
    checkpointer = Checkpointer(path) if path is not None else None
    if checkpointer is not None:
        checkpointer.start()
    writer = Writer(engine, seal=seal)
    inbox = Inbox(sock)

    def committed(
        count: int, changes: list[Change], gaps: list[GapTuple], enrolled: list[tuple[Any, ...]], s: float
    ) -> None:
        sock.sendall(pack((COMMITTED, count, changes, gaps, enrolled, s)))

    try:
        if gc_tuning is not None:
            gc_tuning.apply()
        sock.sendall(pack((READY, os.getpid())))
        stop = False
        while not stop and not inbox.eof:
            batch: list[Item | Event] = []
            frames = 0
            messages = inbox.read(block=True)
            while messages:
                for message in messages:
                    kind = message[0]
                    if kind == BATCH:
                        records: Sequence[Any] = message[1]
                        batch.extend([Item(r) for r in records])
                        batch.extend(message[2])
                        frames += len(records)
                    elif kind == STOP:
                        stop = True
                    else:  # pragma: no cover - a bug in the network process
                        raise ValueError(f"unknown message from the network process: {message!r}")
                if frames >= batch_max or stop:
                    break
                messages = inbox.read(block=False)
            if batch:
                writer.commit(batch, committed)
        if stop:
            sock.sendall(pack((BYE, writer.batches, writer.frames, writer.commit_s)))
    finally:
        if gc_tuning is not None:
            gc_tuning.restore()
        if checkpointer is not None:
            checkpointer.stop()


def run_storage(
    sock: socket.socket,
    url: str,
    sqlite_synchronous: str,
    seal: bool,  # noqa: FBT001 - positional: a multiprocessing target's arguments
    batch_max: int,
    log_level: int,
) -> None:
    """Entry of the storage process (``multiprocessing`` spawn target)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s[storage]: %(message)s")
    engine = None
    try:
        engine = connect(url, sqlite_synchronous=sqlite_synchronous, pool_size=2)
        serve(sock, engine, seal=seal, batch_max=batch_max, tune_gc=True)
    except BaseException as failure:
        log.exception("the storage process stops")
        with contextlib.suppress(OSError):
            sock.sendall(pack((FAILED, f"{type(failure).__name__}: {failure}")))
        raise SystemExit(1) from failure
    finally:
        sock.close()
        if engine is not None:
            engine.dispose()


def run_storage_thread(sock: socket.socket, engine: Engine, seal: bool, batch_max: int) -> None:  # noqa: FBT001
    """The same loop in a thread of the network process (``GatewayConfig.storage = "thread"``)."""
    try:
        serve(sock, engine, seal=seal, batch_max=batch_max)
    except BaseException as failure:
        log.exception("the storage thread stops")
        with contextlib.suppress(OSError):
            sock.sendall(pack((FAILED, f"{type(failure).__name__}: {failure}")))
    finally:
        sock.close()
