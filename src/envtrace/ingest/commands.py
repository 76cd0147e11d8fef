"""Requests the platform sends stations on their connections, and the answers they give.

Staff queue commands in the store (``store.station_commands``: CLI ``envtrace stations assign-mn``,
``retain-sample``, ``standard-check``, ``envtrace keys rotate``). ``CommandDesk.run`` looks for
queued commands every ``command_poll_s`` and sends each on its station's connection once the
station is connected: CN 1002 (set MN), 3022 (retain a sample), 3024 (start a standard-sample check),
or a key delivery (CN 1014, through ``keys.KeyService``). The command is marked ``sent`` in the
store before its frame leaves. The station's 9011 (``QnRtn``) and 9012 (``ExeRtn``) are matched by QN
(``answer``, called by the gateway for every 9011 / 9012 it receives) and recorded; a command
unanswered after ``command_timeout_s`` expires.

Set MN (HJ 212-2025 CN 1002): from the moment the request is sent, frames with the new MN count as
the station's (an alias in the station directory), so the station's next frames are neither refused
nor enrolled as a new station; when its 9012 reports success the registry takes the new MN and the
change is sealed (``station_mn``); a refusal drops the alias.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from envtrace.hj212 import Station as Peer
from envtrace.hj212 import retain_sample, set_mn, start_standard_check
from envtrace.store import Station, write_transaction
from envtrace.store import station_commands as db
from envtrace.store.station_commands import Command

if TYPE_CHECKING:
    from envtrace.ingest.directory import StationDirectory
    from envtrace.ingest.keys import KeyService
    from envtrace.ingest.session import StationConnection

log = logging.getLogger("envtrace.ingest.commands")

Connected = Callable[[int], "tuple[StationConnection, Station] | None"]


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class Outgoing:
    """A request in flight, by QN."""

    qn: str
    station_id: int
    kind: str
    command_id: int | None
    detail: str | None
    sent_at: float
    qn_rtn: str | None = None
    exe_rtn: str | None = None


class CommandDesk:
    """Sends queued commands and follows their answers (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        directory: StationDirectory,
        *,
        connected: Connected,
        new_qn: Callable[[], str],
        poll_s: float,
        timeout_s: float,
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.connected = connected
        self.new_qn = new_qn
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.keys: KeyService | None = None
        self.outgoing: dict[str, Outgoing] = {}
        self._busy: set[int] = set()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sent = 0
        self.answered = 0

    def expect(self, qn: str, station_id: int, kind: str, command_id: int | None, detail: str | None) -> None:
        """Follow the answers to a request sent with ``qn``."""
        self.outgoing[qn] = Outgoing(qn, station_id, kind, command_id, detail, time.monotonic())

    # ------------------------------------------------------------------ answers

    def answer(self, qn: str | None, cn: str, code: str | None) -> bool:
        """A 9011 / 9012 from a station: True when it answers one of our requests."""
        out = self.outgoing.get(qn or "")
        if out is None:
            return False
        self.answered += 1
        if cn == "9011":
            out.qn_rtn = code
            if code == "1":
                self._record(out, "acknowledged", None)
            else:
                self._finish(out, ok=False, why=f"the station refused the request (QnRtn={code})")
        elif cn == "9012":
            out.exe_rtn = code
            self._finish(out, ok=code == "1", why=None if code == "1" else f"ExeRtn={code}")
        return True

    def _finish(self, out: Outgoing, *, ok: bool, why: str | None) -> None:
        self.outgoing.pop(out.qn, None)
        log.info(
            "station #%d answered %s (QN %s): QnRtn=%s ExeRtn=%s",
            out.station_id, out.kind, out.qn, out.qn_rtn, out.exe_rtn,
        )  # fmt: skip
        if out.kind == "set_mn":
            if ok and out.detail:
                self._spawn(self._adopt_mn(out))
                return
            if out.detail:
                self.directory.unalias(out.detail)
        self._record(out, "done" if ok else "failed", why)

    def _record(self, out: Outgoing, state: str, why: str | None) -> None:
        if out.command_id is None:
            return
        cid = out.command_id
        now = _now_us()

        def work() -> None:
            with write_transaction(self.engine) as conn:
                db.set_command_state(
                    conn,
                    cid,
                    state=state,
                    qn_rtn=out.qn_rtn,
                    exe_rtn=out.exe_rtn,
                    answered_us=now,
                    detail=why,
                )

        self._spawn(self._db(work))

    async def _adopt_mn(self, out: Outgoing) -> None:
        new_mn = out.detail or ""

        def work() -> None:
            with write_transaction(self.engine) as conn:
                actor = "gateway"
                if out.command_id is not None:
                    command = db.get_command(conn, out.command_id)
                    actor = command.actor
                old = db.change_mn(
                    conn, station_id=out.station_id, new_mn=new_mn, actor=actor, now_us=_now_us(),
                    command_id=out.command_id,
                )  # fmt: skip
                if out.command_id is not None:
                    db.set_command_state(
                        conn, out.command_id, state="done", qn_rtn=out.qn_rtn, exe_rtn=out.exe_rtn,
                        answered_us=_now_us(), detail=f"MN {old} -> {new_mn}",
                    )  # fmt: skip
            self.directory.load()

        await self._db(work)
        self.directory.unalias(new_mn)
        log.info("station #%d now has MN %s", out.station_id, new_mn)

    async def _db(self, work: Callable[[], None]) -> None:
        async with self._lock:
            try:
                await asyncio.to_thread(work)
            except Exception:
                log.exception("recording a command's outcome failed")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ sending

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.poll()
            except Exception:
                log.exception("looking for queued station commands failed; trying again")

    async def poll(self) -> int:
        """Send the queued commands of connected stations; expire unanswered ones. Returns sent."""
        now = time.monotonic()
        for out in [o for o in self.outgoing.values() if now - o.sent_at > self.timeout_s]:
            self.outgoing.pop(out.qn, None)
            if out.kind == "set_mn" and out.detail:
                self.directory.unalias(out.detail)
            self._record(out, "expired", f"no answer within {self.timeout_s:g} s")

        def queued() -> list[Command]:
            with write_transaction(self.engine) as conn:
                return db.queued_commands(conn, now_us=_now_us())

        async with self._lock:
            waiting = await asyncio.to_thread(queued)
        sent = 0
        for command in waiting:
            found = self.connected(command.station_id)
            if found is None or command.id in self._busy:
                continue
            self._busy.add(command.id)
            try:
                sent += await self._send(command, *found)
            finally:
                self._busy.discard(command.id)
        return sent

    async def _send(self, command: Command, conn: StationConnection, station: Station) -> int:
        if command.kind == "rotate_key":
            if self.keys is None or not station.encrypted:
                await self._fail(command, "the station is not registered as encrypted")
                return 0
            got = await self.keys.deliver(
                conn, station, actor=command.actor, reason=f"command #{command.id}", command_id=command.id
            )
            return int(got is not None)
        if station.edition != "2025":
            await self._fail(
                command, f"CN {command.cn} is an HJ 212-2025 command; the station speaks {station.edition}"
            )
            return 0
        qn = self.new_qn()
        peer = Peer(station.mn, conn.pw, station.st or "32", "2025")
        detail: str | None = None
        if command.kind == "set_mn":
            detail = command.params["mn"]
            frame = set_mn(peer, qn=qn, new_mn=detail)
        elif command.kind == "retain_sample":
            frame = retain_sample(peer, qn=qn, pol_id=command.params["pol_id"])
        else:
            frame = start_standard_check(peer, qn=qn, pol_id=command.params["pol_id"])
        cid = command.id

        def mark() -> None:
            with write_transaction(self.engine) as db_conn:
                db.set_command_state(db_conn, cid, state="sent", qn=qn, sent_us=_now_us())

        async with self._lock:
            await asyncio.to_thread(mark)
        if conn.closed:
            return 0
        if detail is not None:
            self.directory.alias(detail, station)
        self.expect(qn, station.id, command.kind, cid, detail)
        conn.send(frame)
        self.sent += 1
        log.info("sent %s (CN %s, QN %s) to station %s", command.kind, command.cn, qn, station.mn)
        return 1

    async def _fail(self, command: Command, why: str) -> None:
        cid = command.id

        def work() -> None:
            with write_transaction(self.engine) as conn:
                db.set_command_state(conn, cid, state="failed", detail=why)

        await self._db(work)
        log.warning("command #%d (%s) for station %s failed: %s", cid, command.kind, command.mn, why)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
