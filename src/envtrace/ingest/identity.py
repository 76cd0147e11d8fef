"""The logger behind each MN: HJ 212-2025 CN 1001 identity reports become bindings.

A 2025 data logger reports its logger ID, CPU ID and two MACs (CN 1001, ``i23005-Info`` ..
``i23008-Info``) on connecting. After the report's frame commits (it is stored and sealed like any
frame), ``IdentityTracker.reported`` compares it with the station's current binding
(``store.station_identity``): a first identity or a different one is recorded and sealed at once
(a change is also picked up by the alarm intake as a ``logger_swap`` finding: the live job raises
it, ingest only records it); the same identity moves ``last_seen`` at most once per
``identity_refresh_s``, so a reconnecting logger does not write on every connection.

Errors: a failed write is logged and forgotten; the station reports its identity again on its next
connection (the raw 1001 frames stay stored and sealed in any case).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from envtrace.store import station_identity as db
from envtrace.store import write_transaction

log = logging.getLogger("envtrace.ingest.identity")

FIELDS = {"i23005-Info": "logger_id", "i23006-Info": "cpu_id", "i23007-Info": "mac1", "i23008-Info": "mac2"}


class IdentityTracker:
    """Current logger identity per station, and the writes that keep the bindings."""

    def __init__(self, engine: Engine, *, refresh_s: float) -> None:
        self.engine = engine
        self.refresh_s = refresh_s
        self._current: dict[int, tuple[str, int]] = {}  # station -> (identity, last_seen_us written)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.changes = 0

    def load(self) -> int:
        """The current bindings (blocking: a worker thread)."""
        with self.engine.connect() as conn:
            found = db.current_bindings(conn)
        self._current = {sid: (b.identity, b.last_seen_us) for sid, b in found.items()}
        return len(found)

    def reported(self, station_id: int, mn: str, cp: Mapping[str, str], received_us: int, peer: str) -> None:
        """A committed CN 1001 report of ``station_id``."""
        values = {name: cp.get(key) for key, name in FIELDS.items()}
        if not any(values.values()):
            return
        identity = db.identity_of(values)
        known = self._current.get(station_id)
        if known is not None and known[0] == identity and received_us - known[1] < self.refresh_s * 1_000_000:
            return
        if known is not None and known[0] != identity:
            self.changes += 1
            log.warning(
                "station %s: a different data logger reports behind its MN (logger id %s, CPU id %s)",
                mn, values["logger_id"], values["cpu_id"],
            )  # fmt: skip
        self._current[station_id] = (identity, received_us)
        task = asyncio.ensure_future(self._record(station_id, mn, values, received_us, peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(
        self, station_id: int, mn: str, values: Mapping[str, str | None], seen_us: int, peer: str
    ) -> None:
        def work() -> None:
            with write_transaction(self.engine) as conn:
                db.record_identity(
                    conn, station_id=station_id, mn=mn, values=values, seen_us=seen_us, peer=peer
                )

        async with self._lock:
            try:
                await asyncio.to_thread(work)
            except Exception:
                log.exception("recording the logger identity of station %s failed", mn)
                self._current.pop(station_id, None)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
