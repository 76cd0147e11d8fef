"""The HJ 212 gateway: listener, connections, authentication, group commit, answers after commit.

``Gateway.run`` starts the storage process (``link.StorageLink``; group commit on the other core),
then holds every task of the gateway in one ``asyncio.TaskGroup`` (auth workers, idle sweep,
registry refresh, storage watch) and returns after a graceful stop (``stop``): the listener closes,
reading stops, the storage process commits everything received, the answers of the last batches go
out, then the connections close.

Per frame, on the event loop of this (network) process: decode (codec), authenticate (MN and PW
against the registry; the first check of a pair runs scrypt in a worker while that connection's
later frames wait, in order), classify (quarantine reason, status, answer, readings and their
digest), queue for the storage process. After it reports the commit, the batch's answers are
written to their connections.

Resources
    Thousands of connections (``asyncio.Protocol`` objects; RLIMIT_NOFILE is raised by the CLI).
    Reading pauses on every connection while more than ``queue_high`` frames await commit and
    resumes below ``queue_low``. Connections idle for ``idle_timeout_s`` are closed.

Errors
    Nothing a station sends raises: every fault becomes a quarantine record. A storage process that
    dies (``WriterStopped``) brings the gateway down; nothing unacknowledged is lost, as stations
    resend what was not answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from envtrace.hj212.decode import Decoded, decode
from envtrace.ingest import wire
from envtrace.ingest.config import GatewayConfig
from envtrace.ingest.directory import StationDirectory, Verdict
from envtrace.ingest.errors import WriterStopped
from envtrace.ingest.history import HistoryRequests
from envtrace.ingest.link import StorageLink
from envtrace.ingest.parts import SubPackets
from envtrace.ingest.session import StationConnection
from envtrace.ingest.work import DATA, Gap, Work, state_event
from envtrace.ingest.writer import ANSWER_DROP, ANSWER_PW_ERROR
from envtrace.store import Station, hash_password, partitions

log = logging.getLogger("envtrace.ingest")

NOTICE_CNS = frozenset({"1013", "1001", "1014", "9015"})
ANSWER_CNS = frozenset({"9011", "9012", "9013", "9014"})
_PENDING = object()
_WRONG_ENROLLING = object()


@dataclass(slots=True)
class Counters:
    frames: int = 0
    garbage: int = 0
    quarantined: int = 0
    refused: int = 0
    answers: int = 0
    connections: int = 0
    opened: int = 0


class Gateway:
    """Accepts stations on ``config.host:config.port`` and stores what they send."""

    def __init__(self, engine: Engine, config: GatewayConfig) -> None:
        self.engine = engine
        self.config = config
        self.directory = StationDirectory(engine)
        self.storage = StorageLink(engine, config, self._committed)
        self.history = HistoryRequests(config.history_timeout_s)
        self.counters = Counters()
        self.connections: set[StationConnection] = set()
        self.by_station: dict[int, StationConnection] = {}
        self.port: int | None = None
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = 0
        self._paused = False
        self._auth_queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._waiting: dict[tuple[str, str], list[StationConnection]] = {}
        self._enrolling: dict[str, tuple[str, str]] = {}
        self._unknown_until: dict[str, float] = {}
        self._drained = asyncio.Event()
        self._parts = SubPackets()

    # ---------------------------------------------------------------- life cycle

    def loop_time(self) -> float:
        return self._loop.time() if self._loop is not None else 0.0

    def stop(self) -> None:
        """Begin the graceful stop (safe to call from a signal handler on the loop)."""
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        await asyncio.to_thread(self.directory.load)
        await self.storage.start()
        server = await loop.create_server(
            lambda: StationConnection(self),
            self.config.host,
            self.config.port,
            backlog=4096,
            reuse_address=True,
        )
        self.port = int(server.sockets[0].getsockname()[1])
        log.info(
            "gateway listening on %s:%d, %d stations known", self.config.host, self.port, len(self.directory)
        )
        self.ready.set()
        async with asyncio.TaskGroup() as tg:
            helpers = [
                tg.create_task(self._sweep()),
                tg.create_task(self._refresh()),
                tg.create_task(self._partitions()),
                *(tg.create_task(self._auth_worker()) for _ in range(self.config.auth_workers)),
            ]
            watch = tg.create_task(self._watch_storage())
            await self._stop.wait()
            await self._shutdown(server)
            for task in (*helpers, watch):
                task.cancel()
        if self.storage.failure is not None:
            raise WriterStopped(self.storage.failure)

    async def _shutdown(self, server: asyncio.Server) -> None:
        server.close()
        for conn in list(self.connections):
            conn.pause()
        # frames held for a password check still go through (their check is queued)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(15):
                while any(c.held for c in self.connections) and self.storage.failure is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)  # password checks run in threads; poll their outcome
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                while self._pending and self.storage.failure is None:
                    self._drained.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.2):
                            await self._drained.wait()
        now_us = time.time_ns() // 1000
        for sid, conn in list(self.by_station.items()):
            self.storage.event(state_event(sid, online=False, peer=conn.peer, at_us=now_us))
        self.by_station.clear()
        await self.storage.stop()
        for conn in list(self.connections):
            conn.close()
        await asyncio.sleep(0.05)  # let the transports flush the last answers
        server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await server.wait_closed()
        log.info(
            "gateway stopped: %d frames, %d quarantined, %d refused, %d answers",
            self.counters.frames, self.counters.quarantined, self.counters.refused, self.counters.answers,
        )  # fmt: skip

    async def _watch_storage(self) -> None:
        await self.storage.wait_failed()
        log.error("the storage process failed: %r; stopping the gateway", self.storage.failure)
        self._stop.set()

    async def _sweep(self) -> None:
        """Close idle connections; expire history requests; log the counters now and then."""
        last_log = 0.0
        while True:
            await asyncio.sleep(1.0)
            now = self.loop_time()
            limit = self.config.idle_timeout_s
            for conn in list(self.connections):
                idle = now - conn.last_rx
                if idle > limit:
                    log.info("closing %s: idle for %.0f s", conn.peer, idle)
                    conn.close()
                elif idle > 2.0 and conn.framer.buffered and not conn.paused:
                    conn.flush()  # a last frame without CR LF is held by the framer until now
            self.history.expire(now)
            if now - last_log >= 60:
                last_log = now
                c = self.counters
                log.info(
                    "connections=%d frames=%d quarantined=%d refused=%d answers=%d pending=%d",
                    c.connections, c.frames, c.quarantined, c.refused, c.answers, self._pending,
                )  # fmt: skip

    async def _partitions(self) -> None:
        """PostgreSQL: create the coming months' reading partitions once a day."""
        while True:
            await asyncio.sleep(86_400)
            try:
                await asyncio.to_thread(partitions.ensure, self.engine)
            except Exception:
                log.exception("creating reading partitions failed; the default partition holds the rows")

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.config.refresh_interval_s)
            await asyncio.to_thread(self.directory.load)

    # ---------------------------------------------------------------- connections

    def opened(self, conn: StationConnection) -> None:
        self.connections.add(conn)
        self.counters.connections = len(self.connections)
        self.counters.opened += 1
        if self._paused or self._stop.is_set():
            conn.pause()

    def closed(self, conn: StationConnection) -> None:
        self.connections.discard(conn)
        self.counters.connections = len(self.connections)
        sid = conn.station_id
        if sid is not None and self.by_station.get(sid) is conn:
            del self.by_station[sid]
            self.storage.event(state_event(sid, online=False, peer=conn.peer, at_us=time.time_ns() // 1000))

    # ---------------------------------------------------------------- frames

    def on_piece(self, conn: StationConnection, raw: bytes, received_us: int, garbage: str | None) -> None:
        if conn.held:
            conn.held.append((raw, received_us, garbage))
            return
        self._classify(conn, raw, received_us, garbage)

    def _submit(self, w: Work) -> None:
        c = self.counters
        c.frames += 1
        if w.status == "quarantined":
            c.quarantined += 1
        elif w.status == "refused":
            c.refused += 1
        self._pending += 1
        self.storage.submit(w)
        if not self._paused and self._pending > self.config.queue_high:
            self._paused = True
            log.warning("backpressure: %d frames await commit; pausing reading", self._pending)
            for conn in self.connections:
                conn.pause()

    def _decode(self, raw: bytes) -> Decoded:
        """Decode with the station's own settings (SM4 key, tolerance) when its MN is known."""
        tolerant = self.config.tolerant
        decoded = decode(raw, key=None, strict=not tolerant)
        header = decoded.header
        mn = header.get("MN") if header is not None else None
        station = self.directory.get(mn) if mn else None
        if station is not None and (station.encrypted or (station.tolerant and not tolerant)):
            key = wire.station_key(station) if station.encrypted else None
            decoded = decode(raw, key=key, strict=not (tolerant or station.tolerant))
        return decoded

    def _classify(self, conn: StationConnection, raw: bytes, received_us: int, garbage: str | None) -> bool:
        """Decide what can be decided before the database and queue it; False when the frame waits
        for a password check (it is then held on the connection)."""
        w = Work(conn, raw, received_us, conn.peer)
        if garbage is not None:
            self.counters.garbage += 1
            self._submit(w.quarantine("framing", garbage))
            return True
        decoded = self._decode(raw)
        wire.fill(w, decoded)
        if not decoded.ok:
            error = decoded.error
            w.quarantine(
                str(error.kind) if error is not None else "syntax", str(error or "undecodable frame")
            )
            if w.q_kind == "crc" and wire.answer_due(decoded) and w.header is not None:
                w.answer = wire.request_answer(w.header, w.edition, 9)
            self._submit(w)
            return True
        if w.q_kind is not None:  # a header value too long for its column (wire.fill)
            self._submit(w)
            return True
        mn, pw = w.mn or "", w.pw or ""
        verdict = self._verdict(mn, pw)
        if verdict is _PENDING:
            conn.held = deque([(raw, received_us, None)])
            self._await_check(conn, mn, pw)
            return False
        header = w.header or {}
        due = wire.answer_due(decoded)
        if verdict is _WRONG_ENROLLING:
            w.refuse(f"wrong PW for MN {mn!r} (being enrolled on first use with another PW)")
            if due:
                w.answer = wire.request_answer(header, w.edition, 3)
        elif isinstance(verdict, str):  # enrolling: the pending station's password hash
            w.enrol_hash = verdict
            self._accept(w, decoded, None, due=due)
        elif not isinstance(verdict, Verdict):  # pragma: no cover - every verdict is handled above
            raise TypeError(verdict)
        elif verdict.station is None:
            w.refuse(f"unknown MN {mn!r}: not registered and unknown_stations=refuse")
            if due:
                w.answer = wire.request_answer(header, w.edition, 4)
        elif not verdict.pw_ok:
            w.refuse(f"wrong PW for MN {mn!r}")
            w.station_id = verdict.station.id
            if due:
                w.answer = wire.request_answer(header, w.edition, 3)
        elif not verdict.station.enabled:
            w.refuse(f"station MN {mn!r} is disabled")
            w.station_id = verdict.station.id
            if due:
                w.answer = wire.request_answer(header, w.edition, 2)
        else:
            w.station_id = verdict.station.id
            self._accept(w, decoded, verdict.station, due=due)
        self._submit(w)
        return True

    def _accept(self, w: Work, decoded: Decoded, station: Station | None, *, due: bool) -> None:
        cn = w.cn or ""
        if cn in ANSWER_CNS:
            w.status = "command"
            self.history.answer(w.qn, cn, wire.answer_code(decoded))
            return
        if w.qn and w.qn in self.history.pending:
            w.request_qn = w.qn
            self.history.answer(w.qn, cn, None)
        if due:
            header = w.header or {}
            w.answer = (
                wire.notice_answer(header, w.edition)
                if cn in NOTICE_CNS
                else wire.data_answer(header, w.edition)
            )
        if cn[:1] in ("1", "9"):
            w.status = "command"
            return
        w.status = DATA
        offset = station.utc_offset_min if station is not None else 480
        if w.pnum is not None and w.pno is not None and w.pnum > 1:
            fields = self._parts.add(w, wire.cp_value(decoded, "DataTime"), wire.items(decoded))
            w.final_part = fields is not None
            wire.make_readings(w, decoded, offset, fields or {}, digest=self.config.seal)
        else:
            wire.make_readings(w, decoded, offset, None, digest=self.config.seal)

    def _verdict(self, mn: str, pw: str) -> Verdict | str | object:
        enrolling = self._enrolling.get(mn)
        if enrolling is not None:
            return enrolling[1] if enrolling[0] == pw else _WRONG_ENROLLING
        quick = self.directory.quick(mn, pw)
        if quick is not None:
            return quick
        if self.directory.get(mn) is None and self._unknown_until.get(mn, 0.0) > self.loop_time():
            return Verdict(None, pw_ok=False)
        return _PENDING

    def _await_check(self, conn: StationConnection, mn: str, pw: str) -> None:
        key = (mn, pw)
        waiting = self._waiting.get(key)
        if waiting is None:
            self._waiting[key] = [conn]
            self._auth_queue.put_nowait(key)
        else:
            waiting.append(conn)

    async def _auth_worker(self) -> None:
        while True:
            mn, pw = await self._auth_queue.get()
            try:
                verdict = await asyncio.to_thread(self.directory.slow, mn, pw)
                if verdict.station is None:
                    if self.config.unknown_stations == "enrol":
                        if mn not in self._enrolling:
                            pw_hash = await asyncio.to_thread(hash_password, pw)
                            self._enrolling.setdefault(mn, (pw, pw_hash))
                    else:
                        self._unknown_until[mn] = self.loop_time() + 10.0
            except Exception:
                log.exception("password check for MN %r failed; retrying", mn)
                await asyncio.sleep(1.0)
                self._auth_queue.put_nowait((mn, pw))
                continue
            for conn in self._waiting.pop((mn, pw), []):
                self._release(conn)

    def _release(self, conn: StationConnection) -> None:
        held = conn.held
        conn.held = None
        while held:
            raw, received_us, garbage = held.popleft()
            if not self._classify(conn, raw, received_us, garbage):
                conn.held.extend(held)  # type: ignore[attr-defined]  # _classify held the frame
                return

    # ---------------------------------------------------------------- after commit

    def _committed(self, works: list[Work], changes: list[Any], gaps: list[Any], enrolled: list[Any]) -> None:
        """The storage process committed ``works`` (the oldest in flight): answer them."""
        for fields in enrolled:
            self.directory.put(Station(*fields))
        for offset, sid, status, answer in changes:
            w = works[offset]
            w.station_id = sid
            w.status = status
            if answer == ANSWER_DROP:
                w.answer = None
            elif answer == ANSWER_PW_ERROR and w.answer is not None:
                w.answer = wire.request_answer(w.header or {}, w.edition, 3)
        out: dict[StationConnection, list[bytes]] = {}
        for w in works:
            conn = w.conn
            sid = w.station_id
            if w.enrol_hash is not None and sid is not None and w.mn is not None:
                enrolled_as = self.directory.by_id(sid)
                if enrolled_as is not None and w.pw is not None:
                    self.directory.passwords.remember(
                        w.pw, enrolled_as.pw_hash, ok=enrolled_as.pw_hash == w.enrol_hash
                    )
                self._enrolling.pop(w.mn, None)
            if conn is None:
                continue
            if (
                sid is not None
                and conn.station_id != sid
                and w.status not in ("refused", "quarantined")
                and not conn.closed
            ):
                conn.station_id = sid
                conn.pw = w.pw or ""
                self.by_station[sid] = conn
                self.storage.event(state_event(sid, online=True, peer=conn.peer, at_us=conn.opened_us))
            if w.answer is not None and not conn.closed:
                answers = out.get(conn)
                if answers is None:
                    out[conn] = [w.answer]
                else:
                    answers.append(w.answer)
        for conn, answers in out.items():
            conn.send(answers[0] if len(answers) == 1 else b"".join(answers))
            self.counters.answers += len(answers)
        self._pending -= len(works)
        if self._paused and self._pending < self.config.queue_low:
            self._paused = False
            log.info("backpressure released: %d frames await commit", self._pending)
            for conn in self.connections:
                conn.resume()
        if self._pending == 0:
            self._drained.set()
        if self.config.history_requests and not self._stop.is_set():
            for sid, cn, begin_ts, end_ts in gaps:
                self._request_history(Gap(sid, cn, begin_ts, end_ts))

    def _request_history(self, gap: Gap) -> None:
        conn = self.by_station.get(gap.station_id)
        station = self.directory.by_id(gap.station_id)
        if conn is None or station is None or conn.closed:
            return
        req = self.history.open(self.history.clip(gap), self.loop_time())
        if req is None:
            return
        conn.send(wire.history_request(station, conn.pw, req.cn, req.begin_ts, req.end_ts, req.qn))
        log.info(
            "requested %s history %d..%d from %s (QN %s)",
            req.cn,
            req.begin_ts,
            req.end_ts,
            station.mn,
            req.qn,
        )

    # ---------------------------------------------------------------- introspection

    @property
    def pending(self) -> int:
        return self._pending
