"""The HJ 212 gateway: listener, connections, authentication, group commit, answers after commit.

``Gateway.run`` starts the storage process (``link.StorageLink``; group commit on the other core),
then holds every task of the gateway in one ``asyncio.TaskGroup`` (auth workers, idle sweep,
registry refresh, storage watch) and returns after a graceful stop (``stop``): the listener closes,
reading stops, the storage process commits everything received, the answers of the last batches go
out, then the connections close.

Per frame, on the event loop of this (network) process: decode (codec), authenticate (MN and PW
against the registry; the first check of a pair runs scrypt in a worker while that connection's
later frames wait, in order), classify (quarantine reason, status, answer, data time), queue for the
storage process. After it reports the commit, the batch's answers are
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
from envtrace.ingest.commands import CommandDesk
from envtrace.ingest.config import GatewayConfig
from envtrace.ingest.directory import StationDirectory, Verdict
from envtrace.ingest.errors import WriterStopped
from envtrace.ingest.history import HistoryRequests
from envtrace.ingest.identity import IdentityTracker
from envtrace.ingest.keys import KeyService, open_vault
from envtrace.ingest.link import StorageLink, StorageStopped
from envtrace.ingest.parts import SubPackets
from envtrace.ingest.session import StationConnection
from envtrace.ingest.storage import GcTuning
from envtrace.ingest.work import DATA, Gap, Work, state_event
from envtrace.ingest.writer import ANSWER_DROP, ANSWER_PW_ERROR
from envtrace.store import Station, hash_password, partitions

log = logging.getLogger("envtrace.ingest")

NOTICE_CNS = frozenset({"1013", "1001", "1014", "9015"})
AFTER_CNS = frozenset({"1001", "1014", "9015"})  # 2025 identity, key request, heartbeat
VENDOR_HEARTBEAT = "cn:9015-vendor-heartbeat"
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
        # HJ 212-2025: station commands (1002, 3022, 3024, key rotation), SM4 keys, logger identity
        self.commands = CommandDesk(
            engine, self.directory, connected=self._connected, new_qn=self.history.new_qn,
            poll_s=config.command_poll_s, timeout_s=config.command_timeout_s,
        )  # fmt: skip
        self.keys = KeyService(
            engine, config, open_vault(engine, config), new_qn=self.history.new_qn, desk=self.commands
        )
        self.commands.keys = self.keys
        self.identity = IdentityTracker(engine, refresh_s=config.identity_refresh_s)
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
        self._gc = GcTuning()

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
        await asyncio.to_thread(self.keys.load, adopt=True)
        await asyncio.to_thread(self.identity.load)
        try:
            await self.storage.start()
        except StorageStopped as failure:
            raise WriterStopped(failure) from failure
        try:
            server = await loop.create_server(
                lambda: StationConnection(self),
                self.config.host,
                self.config.port,
                backlog=4096,
                reuse_address=True,
            )
            self.port = int(server.sockets[0].getsockname()[1])
            log.info(
                "gateway listening on %s:%d, %d stations known",
                self.config.host, self.port, len(self.directory),
            )  # fmt: skip
            self._gc.apply()
            self.ready.set()
            async with asyncio.TaskGroup() as tg:
                helpers = [
                    tg.create_task(self._sweep()),
                    tg.create_task(self._refresh()),
                    tg.create_task(self._partitions()),
                    tg.create_task(self._key_upkeep()),
                    tg.create_task(self.commands.run()),
                    *(tg.create_task(self._auth_worker()) for _ in range(self.config.auth_workers)),
                ]
                watch = tg.create_task(self._watch_storage())
                await self._stop.wait()
                await self._shutdown(server)
                for task in (*helpers, watch):
                    task.cancel()
        finally:
            self._gc.restore()
            await self.storage.stop()  # no-op after a graceful stop; else the storage process ends
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
        for service in (self.keys, self.commands, self.identity):
            await service.drain()
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
            try:
                await asyncio.to_thread(self.keys.load)  # keys registered or revoked by staff
            except Exception:
                log.exception("reloading the SM4 keys failed; the ones loaded stay in use")

    async def _key_upkeep(self) -> None:
        """Retire keys past their overlap window; deliver due rotations (``keys.KeyService``)."""
        while True:
            await asyncio.sleep(self.config.key_check_interval_s)
            try:
                await self.keys.upkeep(
                    {
                        sid: found
                        for sid in list(self.by_station)
                        if (found := self._connected(sid)) is not None
                    }
                )
            except Exception:
                log.exception("SM4 key upkeep failed; trying again later")

    def _connected(self, station_id: int) -> tuple[StationConnection, Station] | None:
        """The station's open connection and registry entry, when it is connected."""
        conn = self.by_station.get(station_id)
        station = self.directory.by_id(station_id)
        if conn is None or station is None or conn.closed:
            return None
        return conn, station

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

    def _decode(self, raw: bytes) -> tuple[Decoded, str | None]:
        """Decode with the station's own settings (SM4 keys, tolerance) when its MN is known; the
        second value is the quarantine reason when an encrypted station's keys all fail.

        The MN is read from the clear header first (``wire.peek_mn``), so a frame of an encrypted
        or tolerant station is decoded once (per key tried, ``keys.KeyService.decode``); if the
        decoded MN is not the one peeked (a header too odd for the peek), the frame is decoded again
        the long way: without key, then with the settings of the station its decoded header names."""
        tolerant = self.config.tolerant
        peeked = wire.peek_mn(raw)
        station = self.directory.get(peeked) if peeked else None
        reason = None
        if station is not None and station.encrypted:
            decoded, reason = self.keys.decode(station, raw, strict=not (tolerant or station.tolerant))
        elif station is not None and station.tolerant and not tolerant:
            decoded = decode(raw, key=None, strict=False)
        else:
            decoded = decode(raw, key=None, strict=not tolerant)
        header = decoded.header
        mn = header.get("MN") if header is not None else None
        if mn == peeked:
            return decoded, reason
        decoded, reason = decode(raw, key=None, strict=not tolerant), None
        header = decoded.header
        mn = header.get("MN") if header is not None else None
        station = self.directory.get(mn) if mn else None
        if station is not None and station.encrypted:
            decoded, reason = self.keys.decode(station, raw, strict=not (tolerant or station.tolerant))
        elif station is not None and station.tolerant and not tolerant:
            decoded = decode(raw, key=None, strict=False)
        return decoded, reason

    def _classify(self, conn: StationConnection, raw: bytes, received_us: int, garbage: str | None) -> bool:
        """Decide what can be decided before the database and queue it; False when the frame waits
        for a password check (it is then held on the connection)."""
        w = Work(conn, raw, received_us, conn.peer)
        if garbage is not None:
            self.counters.garbage += 1
            self._submit(w.quarantine("framing", garbage))
            return True
        decoded, crypto_reason = self._decode(raw)
        wire.fill(w, decoded)
        if crypto_reason is not None:  # an encrypted station's keys all failed: no answer (§6.4)
            w.quarantine("crypto", crypto_reason)
            self._submit(w)
            return True
        if not decoded.ok:
            error = decoded.error
            w.quarantine(
                str(error.kind) if error is not None else "syntax", str(error or "undecodable frame")
            )
            if w.q_kind == "crc" and decoded.wire_form == "plain" and wire.answer_due(decoded) and w.header:
                w.answer = wire.request_answer(w.header, w.edition, 9)
            self._submit(w)
            return True
        if (
            self.config.encrypted_plaintext == "quarantine"
            and "crypto:not-encrypted" in decoded.deviations
            and (found := self.directory.get(w.mn or "")) is not None
            and found.encrypted
        ):
            w.quarantine("crypto", f"station {w.mn} is registered as encrypted but sent CN {w.cn} in clear")
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
            code = wire.answer_code(decoded)
            if not self.commands.answer(w.qn, cn, code):
                self.history.answer(w.qn, cn, code)
            return
        if cn in AFTER_CNS and station is not None:
            if cn == "9015" and w.edition != "2025":
                w.deviations = (*w.deviations, VENDOR_HEARTBEAT)  # pre-2025 private heartbeat
            elif cn != "9015":
                w.after = (cn, dict(decoded.cp or {}))
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
            wire.set_data(w, decoded, offset, fields or {})
        else:
            wire.set_data(w, decoded, offset, None)

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
        for w in works:
            if w.after is not None and w.status == "command" and w.station_id is not None:
                self._after_commit(w)
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

    def _after_commit(self, w: Work) -> None:
        """What a committed 2025 control frame sets off: a key delivery, an identity record."""
        if w.after is None or w.station_id is None:
            return
        cn, cp = w.after
        station = self.directory.by_id(w.station_id)
        if station is None:
            return
        if cn == "1001":
            self.identity.reported(station.id, w.mn or station.mn, cp, w.received_us, w.peer)
        elif cn == "1014" and station.encrypted and w.conn is not None and not w.conn.closed:
            self.keys.key_requested(w.conn, station, cp)

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
