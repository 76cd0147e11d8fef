"""The TCP side of one data logger: a persistent connection to the platform, as field loggers keep.

Sending (one writer per connection, the *pump*):

- Uploads ask for an answer (Flag bit 0). An upload not answered within ``ack_timeout`` is written
  again with the same QN, up to ``retries`` times (HJ 212-2017 table 1: 10 s, 3 retries); then it
  goes to the **backlog**. Everything collected while disconnected goes there too, and what was in
  flight when a connection drops.
- The backlog (:class:`~envtrace.sim.outbox.Outbox`) is resent after (re)connecting, each upload
  with a new QN and, for HJ 212-2025 stations, ``RF=1`` (补传), interleaved with new data, which
  has priority. Data is never given up while the station has room for it (``backlog_limit``),
  only when the centre refuses it outright (QnRtn other than 1 or 9).
- Answers to the centre's requests are written before anything else.
- HJ 212-2025 stations report their identity (1001) on connecting, send a 9015 heartbeat every
  ``heartbeat`` seconds (an unanswered heartbeat ends the connection), and ask for a new SM4 key
  (1014) ``key_renew_days`` before theirs expires.

Receiving (the *reader*): the codec's ``Framer`` cuts frames, ``decode`` reads them (with the
station's key, and the previous key during the overlap after a key change). 9014 / 9013 answers and
9011 ``QnRtn=1`` acknowledge by QN; ``QnRtn=9`` (CRC error) makes the station resend at once; other
refusals give the upload up. Requests are answered 9011 then 9012 (notices: 9013), with history
answered from the logger's own records.

Resources and errors: a connection is one stream pair and two tasks in a ``TaskGroup``; connection
errors end the connection (reconnect with exponential backoff and jitter), anything else propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

from envtrace.hj212 import (
    Decoded,
    Frame,
    Framer,
    Packet,
    QnRtn,
    data_upload,
    decode,
    format_qn,
    heartbeat,
    logger_identity,
    parse_time,
    request_key,
)
from envtrace.sim.corruption import corrupt
from envtrace.sim.logger import DataLogger, Upload
from envtrace.sim.outbox import Outbox
from envtrace.sim.requests import answer_request
from envtrace.sim.runtime import Runtime

__all__ = ["Backoff", "Link", "Notice"]

_CONNECTION_ERRORS = (ConnectionError, OSError, asyncio.IncompleteReadError, EOFError)
_ANSWERS = frozenset({9011, 9012, 9013, 9014})
_CRC_ERROR = str(int(QnRtn.CRC_ERROR))


class Backoff:
    """Reconnect delays: ``initial``, doubling up to ``cap``, each times a jitter factor U(0.5, 1.5).

    The jitter keeps thousands of stations that lost the platform together from coming back together.
    """

    __slots__ = ("_current", "cap", "initial", "rng")

    def __init__(self, initial: float, cap: float, rng: random.Random) -> None:
        if not 0 < initial <= cap:
            raise ValueError(f"backoff needs 0 < initial <= cap, got {initial}, {cap}")
        self.initial, self.cap, self.rng = initial, cap, rng
        self._current = initial

    def next(self) -> float:
        delay = self._current * self.rng.uniform(0.5, 1.5)
        self._current = min(self.cap, self._current * 2.0)
        return delay

    def reset(self) -> None:
        self._current = self.initial


@dataclass(slots=True, eq=False)
class Notice:
    """A control message awaiting a 9013 answer: 9015 heartbeat, 1014 key request, 1001 identity."""

    cn: int
    qn: str
    frame: bytes
    attempts: int = 0
    deadline: float = math.inf
    pending: set[str] = field(default_factory=set)


class Link:
    """Moves one logger's uploads to the platform and answers the platform's requests."""

    def __init__(self, logger: DataLogger, rt: Runtime) -> None:
        self.logger = logger
        self.rt = rt
        self.cfg = cfg = rt.config
        self.outbox = Outbox(
            rt.counters, limit=cfg.backlog_limit, rate=cfg.backlog_rate, retry_max=cfg.backlog_retry_max
        )
        self.urgent: deque[bytes] = deque()
        self.notices: dict[str, Notice] = {}
        self.wake = asyncio.Event()
        self.connected = False
        self.ack_timeout = cfg.ack_timeout
        self.retries = cfg.retries
        self.rng = random.Random(f"link:{cfg.seed}:{logger.mn}")
        self._held = b""
        self._dead = False
        self._answered = False
        self._key_asked_at = -math.inf
        self._key_pending = False
        self._attempted = False

    def enqueue(self, uploads: list[Upload]) -> None:
        """New data from the logger: sent live when connected, else kept in the backlog."""
        for u in uploads:
            if self.connected or not self._attempted:  # before the first attempt: not late yet
                self.outbox.add_live(u)
            else:
                self.outbox.add_backlog(u)
        if uploads:
            self.wake.set()

    def outstanding_frames(self) -> int:
        return self.outbox.outstanding_frames()

    # ------------------------------------------------------------------------------ connection

    async def run(self, first_delay: float = 0.0) -> None:
        """Connect, keep the connection up, reconnect with backoff, until the run has drained."""
        loop = asyncio.get_running_loop()
        cfg, c = self.cfg, self.rt.counters
        await self.rt.pause(first_delay)
        backoff = Backoff(cfg.backoff_initial, cfg.backoff_max, self.rng)
        ever = False
        while not self._finished(loop.time()):
            try:
                async with asyncio.timeout(cfg.connect_timeout):
                    reader, writer = await asyncio.open_connection(cfg.host, cfg.port, limit=1 << 16)
            except (OSError, TimeoutError):
                c.connect_failures += 1
                if not self._attempted:
                    self._attempted = True
                    self.outbox.spill()  # what was collected while booting is now late
                await self.rt.pause(backoff.next())
                continue
            self._attempted = True
            c.connections += 1
            c.reconnects += ever
            ever = True
            began = loop.time()
            self._answered = False
            try:
                await self._session(reader, writer)
            finally:
                self._disconnected()
                writer.close()
                with contextlib.suppress(*_CONNECTION_ERRORS):
                    await writer.wait_closed()
            if self._answered or loop.time() - began > 10.0:
                backoff.reset()  # the platform took data: the link was healthy
            if not self._finished(loop.time()):
                c.disconnects += 1
                await self.rt.pause(backoff.next())

    def _finished(self, now: float) -> bool:
        if not self.rt.stopping:
            return False
        return (self.outbox.idle() and not self.urgent) or now >= self.rt.drain_until

    def _disconnected(self) -> None:
        self.connected = False
        self._dead = False
        self._held = b""
        self.notices.clear()
        self.urgent.clear()
        self._key_pending = False
        self.outbox.spill()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connected = True
        try:
            async with asyncio.TaskGroup() as tg:
                reading = tg.create_task(self._read(reader))
                tg.create_task(self._pump(writer, reading))
        except* _CONNECTION_ERRORS:
            pass

    # ------------------------------------------------------------------------------ pump

    async def _pump(self, writer: asyncio.StreamWriter, reading: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        cfg, lg, box = self.cfg, self.logger, self.outbox
        hb = cfg.heartbeat if lg.edition == "2025" and cfg.heartbeat > 0 else 0.0
        next_hb = loop.time() + hb if hb else math.inf
        box.reset_tokens(loop.time())
        if lg.edition == "2025":
            qn = lg.next_qn(self.rt.now())
            cf = lg.config
            frame = logger_identity(
                lg.station, qn=qn, logger_id=cf.logger_id, cpu_id=cf.cpu_id, mac1=cf.macs[0], mac2=cf.macs[1]
            )
            self._notice(writer, Notice(1001, qn, frame), loop.time())
        try:
            while not reading.done() and not self._dead:
                self.wake.clear()
                now = loop.time()
                await self._expire(writer, now)
                while self.urgent:
                    self._write(writer, self.urgent.popleft(), None)
                while (u := box.next_upload(now, cfg.window)) is not None:
                    await self._transmit(writer, u, now, resend=False)
                if self._key_due(now):
                    self._ask_key(writer, now)
                if now >= next_hb:
                    self._heartbeat(writer, now)
                    next_hb = now + hb
                if self._held:
                    self._write(writer, b"", None, hook=False)
                await writer.drain()
                if self._finished(loop.time()):
                    break
                delay = self._next_event(now, next_hb) - loop.time()
                if delay > 0 and not self.wake.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self.wake.wait()
        finally:
            reading.cancel()

    def _next_event(self, now: float, next_hb: float) -> float:
        t = min(next_hb, now + 1.0, self.outbox.next_event(now, self.cfg.window))
        for n in self.notices.values():
            t = min(t, n.deadline)
        if self.rt.stopping:
            t = min(t, self.rt.drain_until)
        return t

    async def _expire(self, writer: asyncio.StreamWriter, now: float) -> None:
        for u in self.outbox.due(now):
            if u.attempts < 1 + self.retries:
                await self._transmit(writer, u, now, resend=True)
            else:
                self.outbox.give_back(u, now, self.ack_timeout)
        for n in [n for n in self.notices.values() if n.deadline <= now]:
            if n.attempts < 1 + self.retries:
                self._notice(writer, n, now)
                continue
            del self.notices[n.qn]
            self.rt.counters.notices_unanswered += 1
            if n.cn == 9015:
                self._dead = True  # HJ 212-2025 table 12: the heartbeat tells whether the link is up
            elif n.cn == 1014:
                self._key_pending = False

    def _encode(self, u: Upload, qn: str, key: bytes | None) -> list[bytes]:
        lg = self.logger
        return data_upload(
            lg.station,
            qn=qn,
            cn=u.cn,
            data_time=lg.local_text(u.data_time),
            items=u.items,
            ack=True,
            resent=u.rounds > 0 and lg.edition == "2025",
            key=key,
            cipher_form=self.cfg.cipher_form,
        )

    async def _transmit(self, writer: asyncio.StreamWriter, u: Upload, now: float, *, resend: bool) -> None:
        """Write ``u``: again with its QNs (``resend``) or with a new QN (first time, or backlog)."""
        lg, c = self.logger, self.rt.counters
        if resend:
            frames = self._encode(u, u.qns[0], lg.key)
            wanted = [(q, f) for q, f in zip(u.qns, frames, strict=True) if q in u.pending]
            c.resent += len(wanted)
        else:
            qn = lg.next_qn(self.rt.now())
            frames = self._encode(u, qn, lg.key)
            if len(frames) > 1:
                lg.next_qn(self.rt.now(), len(frames) - 1)  # sub-packets take the next milliseconds
            u.qns = tuple(_qn_plus(qn, i) for i in range(len(frames)))
            u.frames, u.pending, u.attempts = len(frames), set(u.qns), 0
            wanted = list(zip(u.qns, frames, strict=True))
            if u.rounds:
                c.resent += len(frames)
        self.outbox.sent(u, [q for q, _ in wanted], now, self.ack_timeout)
        for qn, frame in wanted:
            c.sent += 1
            if self.cfg.faults > 0 and self.rng.random() < self.cfg.faults:
                await self._write_faulty(writer, u, qn, frame, self.rng.choice(self.cfg.fault_kinds))
            else:
                self._write(writer, frame, None)

    async def _write_faulty(
        self, writer: asyncio.StreamWriter, u: Upload, qn: str, frame: bytes, kind: str
    ) -> None:
        """Write ``frame`` with protocol fault ``kind`` (:mod:`envtrace.sim.corruption`)."""
        self.rt.counters.faults += 1
        plain = None
        if self.logger.key is not None:  # the CRC covers the plaintext: the fault needs it
            plain = self._encode(u, u.qns[0], None)[u.qns.index(qn)][6:-6]
        bad = corrupt(frame, kind, self.rng, plain_segment=plain)
        if kind == "concat":
            if self._held:
                self._write(writer, b"", None, hook=False)
            self._hook(frame, kind)
            self._held = frame  # written in front of the next write
        elif kind == "split":
            self._hook(frame, kind)
            for j, piece in enumerate(bad.pieces):
                if j:
                    await writer.drain()
                    await asyncio.sleep(self.rng.uniform(0.005, 0.03))
                self._write(writer, piece, kind, hook=False)
        else:
            self._write(writer, bad.pieces[0], kind)

    def _write(
        self, writer: asyncio.StreamWriter, data: bytes, kind: str | None, *, hook: bool = True
    ) -> None:
        """Write ``data``, behind a frame held back by a ``concat`` fault if there is one."""
        if hook and data:
            self._hook(data, kind)
        if self._held:
            data, self._held = self._held + data, b""
        if data:
            writer.write(data)

    def _hook(self, data: bytes, kind: str | None) -> None:
        if self.cfg.on_write is not None:
            self.cfg.on_write(self.logger.mn, data, kind)

    def _notice(self, writer: asyncio.StreamWriter, n: Notice, now: float) -> None:
        n.attempts += 1
        n.deadline = now + self.ack_timeout
        self.notices[n.qn] = n
        self._write(writer, n.frame, None)

    def _heartbeat(self, writer: asyncio.StreamWriter, now: float) -> None:
        lg = self.logger
        qn = lg.next_qn(self.rt.now())
        self.rt.counters.heartbeats += 1
        self._notice(writer, Notice(9015, qn, heartbeat(lg.station, qn=qn)), now)

    def _key_due(self, now: float) -> bool:
        lg, cfg = self.logger, self.cfg
        if lg.key is None or lg.edition != "2025" or self._key_pending or self.rt.stopping:
            return False
        renew_at = lg.key_created + (cfg.key_lifetime_days - cfg.key_renew_days) * 86400.0
        return self.rt.now() >= renew_at and now - self._key_asked_at >= cfg.key_retry

    def _ask_key(self, writer: asyncio.StreamWriter, now: float) -> None:
        lg = self.logger
        qn = lg.next_qn(self.rt.now())
        frame = request_key(
            lg.station,
            qn=qn,
            sk_create_time=lg.sk_create_time(),
            key=lg.key,
            cipher_form=self.cfg.cipher_form,
        )
        self._key_pending = True
        self._key_asked_at = now
        self.rt.counters.key_requests += 1
        self._notice(writer, Notice(1014, qn, frame), now)

    # ------------------------------------------------------------------------------ reader

    async def _read(self, reader: asyncio.StreamReader) -> None:
        framer = Framer()
        try:
            while True:
                try:
                    async with asyncio.timeout(1.0 if framer.buffered else None):
                        chunk = await reader.read(1 << 16)
                except TimeoutError:
                    events = framer.flush()  # a frame whose CR LF never came
                else:
                    if not chunk:
                        break
                    events = framer.feed(chunk)
                for ev in events:
                    if isinstance(ev, Frame):
                        self._on_frame(ev.raw)
                    else:
                        self.rt.counters.bad_replies += 1
        finally:
            self.wake.set()

    def _decode(self, raw: bytes) -> Decoded:
        loop = asyncio.get_running_loop()
        first: Decoded | None = None
        for key in self.logger.keys(loop.time()):
            d = decode(raw, key=key, strict=False)
            if d.ok or d.error is None or d.error.kind != "crypto":
                return d
            first = first or d
        return first if first is not None else decode(raw, strict=False)

    def _on_frame(self, raw: bytes) -> None:
        d = self._decode(raw)
        pkt = d.packet
        if not d.ok or pkt is None:
            self.rt.counters.bad_replies += 1
            return
        cn = pkt.cn_code
        if cn in _ANSWERS:
            self._on_answer(pkt, cn)
        else:
            self.rt.counters.requests += 1
            self._on_request(pkt)
        self.wake.set()

    def _on_answer(self, pkt: Packet, cn: int) -> None:
        if cn == 9012:
            return  # execution results answer requests the station never makes
        c, box = self.rt.counters, self.outbox
        qn = pkt.qn or ""
        if qn in box.inflight:
            rtn = pkt.cp_map.get("QnRtn", "1") if cn == 9011 else "1"
            if rtn == _CRC_ERROR:
                box.retry_now(qn, asyncio.get_running_loop().time(), self.retries)
            elif rtn != "1":
                c.refused += 1
                box.refused(qn)
            else:
                box.answered(qn)
                c.acked += 1
                self._answered = True
            return
        if self.notices.pop(qn, None) is not None:
            self._answered = True
            return
        c.late_answers += 1

    def _on_request(self, pkt: Packet) -> None:
        """Answer a request of the centre (9011, what it asks for, 9012; notices 9013)."""
        loop = asyncio.get_running_loop()
        out = answer_request(
            self.logger,
            pkt,
            now=self.rt.now(),
            wall=loop.time(),
            cipher_form=self.cfg.cipher_form,
            key_overlap=self.cfg.key_overlap,
        )
        self.urgent.extend(out.frames)
        self.rt.counters.answers += 1
        if out.timeout is not None:
            self.ack_timeout, self.retries = out.timeout
        if out.key_adopted:
            self._key_pending = False
            self.rt.counters.keys_adopted += 1


def _qn_plus(qn: str, ms: int) -> str:
    """The QN ``ms`` milliseconds after ``qn`` (sub-packets of a split upload, as the codec numbers them)."""
    if ms == 0:
        return qn
    moment = parse_time(qn)
    if moment is None:
        return qn
    return format_qn(moment + timedelta(milliseconds=ms))
