"""Group commit of raw frames, leaves, readings, quarantine and state (the storage process's work).

``Writer.commit`` takes every frame the network process sent since the last commit (``Item``, one
per ``Work.record()``) and the state events, and writes them in **one transaction**: frame ids,
enrolments, duplicate tests, the ledger leaves and nodes and head, raw frames, quarantine, readings,
station state. Only after the commit does it report the batch (``Committed``) to the network
process, which then sends that batch's answers. An answer therefore never leaves before its frame
is durable.

The network process has decoded the frame and passes its factor items (``Work.source``); the
writer makes the readings of the frames it accepts, with their digest (``values``: rows grouped by
shape, the digest assembled from canonical JSON pieces). The raw-frame leaf comes pre-rendered
around its five holes (``leaf``); the writer fills them (canonical JSON, byte for byte what
``store.encode_leaf`` gives).

Resources
    Duplicate detection keeps, per (station, CN), the newest DataTime and the recent keys in
    memory, and asks the database only for data older than that.

Errors
    A failed transaction is rolled back and the in-memory duplicate state dropped. A batch that
    fails for a reason other than a lost connection is split in halves down to single frames; a
    single frame the database still refuses after ``DEGRADE_AFTER`` tries is stored as raw bytes
    only, quarantined with the database's reason and not answered (no byte is lost). When the
    database itself is unreachable the batch is retried with backoff, and nothing is acknowledged
    meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import astuple
from typing import Any

from sqlalchemy import Connection, Engine, exc

from envtrace.ingest.leaf import LeafParts, assemble, static_parts
from envtrace.ingest.payloads import PAYLOAD_CNS, payload_rows
from envtrace.ingest.values import frame_readings, items_of, planned_readings
from envtrace.ingest.work import DATA, RECORD_FIELDS, ReadingRow, Source
from envtrace.store import append_encoded, encode_leaf, read_head, write_transaction
from envtrace.store.payloads import add_resends, insert_payloads
from envtrace.store.raw import allocate_frame_ids, insert_frames, insert_quarantine, latest_data_ts, seen_keys
from envtrace.store.series import insert_reading_shapes
from envtrace.store.state import StateUpdate, apply_state
from envtrace.store.stations import Station, get_station, register_station, verify_password

log = logging.getLogger("envtrace.ingest.writer")

KIND_BY_ST = {
    "31": "flue_gas",
    "51": "flue_gas",
    "32": "water",
    "52": "water",
    "21": "surface_water",
    "22": "ambient",
    "23": "noise",
    "36": "noise",
    "27": "vocs",
    "39": "dust",
}
DEFAULT_INTERVAL_S = {"2051": 600, "2061": 3600}
RECENT_LIMIT = 8192
DEGRADE_AFTER = 8  # failures of a frame committed alone before only its raw bytes are kept

# What happens to a frame's answer, as the network process is told after the commit.
ANSWER_KEEP, ANSWER_DROP, ANSWER_PW_ERROR = 0, 1, 2

Event = tuple[int, bool, str, int]  # station_id, online, peer, at_us (work.state_event)
Change = tuple[int, int | None, str, int]  # offset in the batch, station_id, status, ANSWER_*
GapTuple = tuple[int, str, int, int]  # station_id, cn, begin_ts, end_ts
# count of frames committed, their changes, gaps, enrolled stations (astuple), commit seconds
Committed = Callable[[int, list[Change], list[GapTuple], list[tuple[Any, ...]], float], None]


class Item:
    """One frame in the storage process (``Work.record()`` unpacked), completed by the writer."""

    __slots__ = (*RECORD_FIELDS, "answer", "changed", "frame_id", "leaf_index")

    received_us: int
    peer: str
    raw: bytes
    mn: str | None
    pw: str | None
    st: str | None
    cn: str | None
    qn: str | None
    flag: int | None
    pnum: int | None
    pno: int | None
    rf: bool
    data_ts: int | None
    edition: str | None
    wire: str
    deviations: Sequence[str]
    station_id: int | None
    enrol_hash: str | None
    status: str
    q_kind: str | None
    q_reason: str | None
    final_part: bool
    gap_ok: bool
    source: Source
    utc_offset_min: int
    leaf_parts: LeafParts | None

    def __init__(self, record: Sequence[Any]) -> None:
        (
            self.received_us, self.peer, self.raw, self.mn, self.pw, self.st, self.cn, self.qn,
            self.flag, self.pnum, self.pno, self.rf, self.data_ts, self.edition, self.wire,
            self.deviations, self.station_id, self.enrol_hash, self.status, self.q_kind,
            self.q_reason, self.final_part, self.gap_ok, self.source, self.utc_offset_min,
            self.leaf_parts,
        ) = record  # fmt: skip
        self.frame_id: int | None = None
        self.leaf_index: int | None = None
        self.changed = False
        self.answer = ANSWER_KEEP

    def quarantine(self, kind: str, reason: str) -> None:
        self.status = "quarantined"
        self.q_kind = kind
        self.q_reason = reason
        self.source = None

    def refuse(self, reason: str) -> None:
        self.status = "refused"
        self.q_kind = "auth"
        self.q_reason = reason
        self.source = None

    def readings(self, *, digest: bool) -> tuple[str | None, list[ReadingRow], str | None]:
        """(granularity, rows, readings_sha256) of this frame (``values``; none without a source)."""
        source, cn, ts = self.source, self.cn or "", self.data_ts
        if source is None or ts is None:
            return None, [], None
        if type(source) is dict:
            return frame_readings(cn, self.st, source, ts, self.utc_offset_min, digest=digest)
        made = planned_readings(cn, self.st, source, ts, self.utc_offset_min, digest=digest)  # type: ignore[arg-type]
        if made is not None:
            return made
        return frame_readings(cn, self.st, items_of(source), ts, self.utc_offset_min, digest=digest)  # type: ignore[arg-type]


class _Series:
    """Duplicate-test state of one (station, CN): newest DataTime, recent keys, learnt interval."""

    __slots__ = ("interval", "newest", "recent")

    def __init__(self, newest: int | None, interval: int) -> None:
        self.newest = newest
        self.recent: set[tuple[int, int | None]] = set()
        self.interval = interval


def raw_frame_leaf(w: Item, readings: int, digest: str | None) -> bytes:
    """The raw-frame leaf (docs/store.md): what ``encode_leaf("raw_frame", raw_frame_payload(...))``
    gives, from the network process's pre-rendered parts unless the writer changed the frame."""
    parts = w.leaf_parts
    if parts is None or w.changed:
        parts = static_parts(
            cn=w.cn, data_ts=w.data_ts, deviations=w.deviations, edition=w.edition, mn=w.mn,
            peer=w.peer, pno=w.pno, pnum=w.pnum, qn=w.qn, q_kind=w.q_kind, q_reason=w.q_reason,
            raw=w.raw, received_us=w.received_us, rf=w.rf, wire=w.wire,
        )  # fmt: skip
    return assemble(parts, w.frame_id, readings, digest, w.station_id, w.status)


def raw_frame_payload(w: Item, readings: int, digest: str | None) -> dict[str, object]:
    """The same leaf as a mapping (what ``encode_leaf`` takes): the reference for the tests."""
    return {
        "frame_id": w.frame_id,
        "received_us": w.received_us,
        "peer": w.peer,
        "station_id": w.station_id,
        "mn": w.mn,
        "cn": w.cn,
        "qn": w.qn,
        "pnum": w.pnum,
        "pno": w.pno,
        "data_ts": w.data_ts,
        "status": w.status,
        "edition": w.edition,
        "wire": w.wire,
        "rf": w.rf,
        "deviations": list(w.deviations),
        "quarantine": None if w.q_kind is None else {"kind": w.q_kind, "reason": w.q_reason},
        "raw_len": len(w.raw),
        "raw_sha256": hashlib.sha256(w.raw).hexdigest(),
        "readings": readings,
        "readings_sha256": digest,
    }


class Writer:
    """The storage process's transaction logic. ``commit`` is called with each group of frames."""

    def __init__(self, engine: Engine, *, seal: bool) -> None:
        self._engine = engine
        self._seal = seal
        self._series: dict[tuple[int, str], _Series] = {}
        self._enrolled: dict[str, Station] = {}
        self.batches = 0
        self.frames = 0
        self.commit_s = 0.0

    def commit(self, batch: list[Item | Event], committed: Committed) -> None:
        """Commit ``batch`` (frames and state events, in arrival order), calling ``committed`` after
        each transaction that commits (several when a failing batch is split)."""
        self._commit_with_retry(batch, committed)

    def _commit_with_retry(self, batch: list[Item | Event], committed: Committed) -> None:
        delay = 0.05
        failures = 0
        while True:
            try:
                t0 = time.perf_counter()
                gaps, enrolled = self._commit(batch)
                spent = time.perf_counter() - t0
            except Exception as error:
                self._series.clear()
                self._enrolled.clear()
                for item in batch:
                    if type(item) is Item:
                        item.frame_id = item.leaf_index = None
                failures += 1
                unreachable = isinstance(error, exc.OperationalError | exc.InterfaceError)
                log.warning("commit of %d items failed (%s): %s", len(batch), type(error).__name__, error)
                if not unreachable and len(batch) > 1:
                    mid = len(batch) // 2
                    self._commit_with_retry(batch[:mid], committed)
                    self._commit_with_retry(batch[mid:], committed)
                    return
                if not unreachable and len(batch) == 1 and failures >= DEGRADE_AFTER:
                    only = batch[0]
                    if type(only) is not Item:
                        log.error("state event %r dropped: the database refuses it (%s)", only, error)
                        return
                    if _degrade(only, error):
                        continue
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            items = [w for w in batch if type(w) is Item]
            changes: list[Change] = [
                (i, w.station_id, w.status, w.answer) for i, w in enumerate(items) if w.changed
            ]
            self.batches += 1
            self.frames += len(items)
            self.commit_s += spent
            committed(len(items), changes, gaps, [astuple(s) for s in enrolled], spent)
            return

    # ------------------------------------------------------------------------------ one transaction

    def _commit(self, batch: list[Item | Event]) -> tuple[list[GapTuple], list[Station]]:
        works = [w for w in batch if type(w) is Item]
        gaps: list[GapTuple] = []
        enrolled: list[Station] = []
        seal = self._seal
        with write_transaction(self._engine) as conn:
            head = read_head(conn, for_update=True) if seal else None
            base = head.size if head is not None else 0
            ids = allocate_frame_ids(conn, len(works))
            leaves: list[tuple[str, bytes]] = []
            frame_rows: list[tuple[Any, ...]] = []
            q_rows: list[tuple[Any, ...]] = []
            shapes: dict[int, list[tuple[Any, ...]]] = {}
            states: dict[int, list[Any]] = {}
            resends: dict[int, list[int]] = {}  # RF=1 frames per station: frames, filled, duplicates, last_us
            measurements: list[tuple[Any, ...]] = []  # 2025 payloads that are not readings (payloads.py)
            checks: list[tuple[Any, ...]] = []
            for w, frame_id in zip(works, ids, strict=True):
                w.frame_id = frame_id
                if w.enrol_hash is not None and w.station_id is None:
                    station = self._enrol(conn, w)
                    if station is not None and station not in enrolled:
                        enrolled.append(station)
                        if seal:
                            leaves.append(("station_enrolment", _enrolment_leaf(station, w)))
                status = w.status
                if status == DATA:
                    self._resolve(conn, w, gaps)
                    status = w.status
                sid = w.station_id
                count = 0
                digest = None
                if status == "accepted" and w.source is not None:
                    granularity, readings, digest = w.readings(digest=seal)
                    count = len(readings)
                    if readings and sid is not None:
                        data_ts = w.data_ts
                        for r in readings:
                            rows = shapes.get(r[0])
                            if rows is None:
                                rows = shapes[r[0]] = []
                            rows.append((sid, granularity, r[1], data_ts, *r[2:], frame_id))
                    else:
                        digest = None
                if seal:
                    w.leaf_index = base + len(leaves)
                    leaves.append(("raw_frame", raw_frame_leaf(w, count, digest)))
                frame_rows.append(
                    (
                        frame_id, w.received_us, w.peer, sid, w.mn, w.st, w.cn, w.qn, w.flag, w.pnum, w.pno,
                        w.data_ts, w.edition, status, w.rf, w.wire, ";".join(w.deviations) or None,
                        w.leaf_index, w.raw,
                    )
                )  # fmt: skip
                if w.q_kind is not None:
                    q_rows.append((frame_id, w.received_us, w.peer, w.mn, w.q_kind, w.q_reason or "", w.raw))
                if sid is not None:
                    s = states.get(sid)
                    if s is None:
                        s = states[sid] = [True, w.peer, None, 0, None, 0, 0, None]
                    if w.received_us > s[3]:
                        s[3] = w.received_us
                    if w.data_ts is not None and status in ("accepted", "partial"):
                        s[4] = w.data_ts if s[4] is None else max(s[4], w.data_ts)
                    s[5] += 1
                    if w.q_kind is not None:
                        s[6] += 1
                    if w.deviations:
                        crc = next((d for d in w.deviations if d.startswith("crc")), None)
                        if crc is not None:
                            s[7] = crc
                    if w.rf:
                        rs = resends.get(sid)
                        if rs is None:
                            rs = resends[sid] = [0, 0, 0, 0]
                        rs[0] += 1
                        rs[1] += status == "accepted" and w.final_part
                        rs[2] += status == "duplicate"
                        rs[3] = max(rs[3], w.received_us)
                    if status == "accepted" and w.cn in PAYLOAD_CNS and w.data_ts is not None:
                        made = payload_rows(w.cn, w.source, sid, w.data_ts, w.utc_offset_min, frame_id)
                        measurements.extend(made[0])
                        checks.extend(made[1])
            for event in batch:
                if type(event) is not Item:
                    station_id, online, peer, at_us = event  # type: ignore[misc]
                    s = states.get(station_id)
                    if s is None:
                        s = states[station_id] = [online, peer, None, 0, None, 0, 0, None]
                    s[0] = online
                    s[1] = peer
                    if online:
                        s[2] = at_us
            if leaves:
                got = append_encoded(conn, leaves, head=head)
                if got[0] != base:  # pragma: no cover - the head row is locked
                    raise RuntimeError(f"ledger moved under the writer: {got[0]} != {base}")
            insert_frames(conn, frame_rows)
            insert_quarantine(conn, q_rows)
            insert_reading_shapes(conn, shapes)
            apply_state(
                conn,
                [
                    StateUpdate(sid, s[0], s[1], s[2], s[3] or None, s[4], s[5], s[6], s[7])
                    for sid, s in states.items()
                ],
            )
            insert_payloads(conn, measurements, checks)
            add_resends(conn, resends)
        return gaps, enrolled

    def _enrol(self, conn: Connection, w: Item) -> Station | None:
        """Register an unknown MN as a pending station (trust on first use); the first PW wins."""
        mn = w.mn or ""
        station = self._enrolled.get(mn) or get_station(conn, mn)
        w.changed = True
        if station is None:
            sid = register_station(
                conn,
                mn=mn,
                pw_hash=w.enrol_hash,
                kind=KIND_BY_ST.get(w.st or "", "other"),
                st=w.st,
                edition=w.edition or "2017",
                approved=False,
                enrolled_us=w.received_us,
                seal=False,  # the station_enrolment leaf of this frame seals it
            )
            station = get_station(conn, mn)
            if station is None or station.id != sid:  # pragma: no cover
                raise RuntimeError(f"enrolled station {mn!r} vanished")
            self._enrolled[mn] = station
            w.station_id = station.id
            return station
        self._enrolled[mn] = station
        if station.pw_hash == w.enrol_hash or verify_password(w.pw or "", station.pw_hash):
            w.station_id = station.id
        else:
            w.refuse(f"wrong PW for MN {mn!r} (enrolled meanwhile with another PW)")
            w.station_id = station.id
            w.answer = ANSWER_PW_ERROR
        return None

    def _resolve(self, conn: Connection, w: Item, gaps: list[GapTuple]) -> None:
        """accepted / duplicate / partial for a data frame, by (station, CN, DataTime, PNO)."""
        sid, cn, ts = w.station_id, w.cn or "", w.data_ts
        w.status = "accepted" if w.final_part else "partial"
        if sid is None or ts is None:
            return
        key = (sid, cn)
        series = self._series.get(key)
        if series is None:
            newest = latest_data_ts(conn, sid, cn)
            series = self._series[key] = _Series(newest, DEFAULT_INTERVAL_S.get(cn, 0))
        item = (ts, w.pno)
        newest = series.newest
        if newest is None or ts > newest:
            if newest is not None and series.interval and w.gap_ok:
                step = ts - newest
                if step > series.interval * 3 // 2:
                    gaps.append((sid, cn, newest + series.interval, ts - series.interval))
                series.interval = min(series.interval, step)
            series.newest = ts
        elif item in series.recent or item in seen_keys(conn, sid, cn, [ts]):
            w.status = "duplicate"
            w.source = None
            return
        series.recent.add(item)
        if len(series.recent) > RECENT_LIMIT:
            floor = (series.newest or 0) - 86_400
            series.recent = {k for k in series.recent if k[0] >= floor}
            if len(series.recent) > RECENT_LIMIT:
                series.recent.clear()


def _enrolment_leaf(station: Station, w: Item) -> bytes:
    return encode_leaf(
        "station_enrolment",
        {
            "station_id": station.id,
            "mn": station.mn,
            "st": station.st,
            "edition": station.edition,
            "pw_hash": station.pw_hash,
            "peer": w.peer,
            "received_us": w.received_us,
        },
    )


def _printable(value: str | None) -> str | None:
    if value is None:
        return None
    return value.encode("ascii", "backslashreplace").decode("ascii").replace("\x00", "\\x00")[:64]


def _degrade(w: Item, error: Exception) -> bool:
    """Keep only the raw bytes of a frame the database refused; False if already degraded."""
    if w.q_kind == "semantic" and w.q_reason and w.q_reason.startswith("the database refused"):
        return False
    w.quarantine(
        "semantic", f"the database refused the decoded frame: {type(error).__name__}: {error}"[:2000]
    )
    w.mn = _printable(w.mn)
    w.st = _printable(w.st)
    w.cn = _printable(w.cn)
    w.qn = _printable(w.qn)
    w.edition = _printable(w.edition)
    w.deviations = ()
    w.enrol_hash = None
    w.changed = True
    w.answer = ANSWER_DROP
    return True
