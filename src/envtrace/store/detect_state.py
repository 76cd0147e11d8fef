"""Live detection's bookkeeping: each station's detector state, what waits to be fed, the cursors.

``envtrace.alarms.live`` keeps one serialised ``envtrace.detect.StationDetectorState`` per station
here (``detect_state``), queues the stations whose judged hourly values changed since the last run
(``detect_pending``: the hours to feed), remembers how far it has read the roll-up's tables
(``detect_cursor``: the last ``rollup_value``, ``rollup_exceedance`` and ``rollup_disagreement`` ids
consumed) and which silence it has already reported (``detect_offline``).

``detect_state``
    one row per station: ``phase`` (``warming`` until the baseline is fitted, then ``live``), the
    first and newest judged hour seen, the end of the history the baseline was fitted on, the
    stations whose data the state also reads (its neighbours, JSON list of MNs), the state itself
    (zlib-compressed JSON) and an update counter used as an optimistic lock.
``detect_pending``
    one row per station with data not yet fed: ``[from_ts, to_ts)`` covers every hour with a new
    version (or a neighbour's), ``seq`` grows at each merge so a run deletes only what it fed.

Every query takes the caller's ``Connection``; the caller owns the transaction. Times are Unix
seconds (UTC), hours named by their start. Alembic branch ``detect_state``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)

from envtrace.store.alarms import alarm
from envtrace.store.frames import station_state
from envtrace.store.hourly import rollup_value
from envtrace.store.metadata import metadata
from envtrace.store.registry import monitoring_point, station, station_parameter
from envtrace.store.types import Bytes, Id

PHASES = ("warming", "live")

detect_state = Table(
    "detect_state",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("phase", String(8), nullable=False, comment="warming | live"),
    Column("first_ts", Id, comment="start of the first judged hour seen"),
    Column("last_ts", Id, comment="end of the newest judged hour seen"),
    Column("fitted_ts", Id, comment="the baseline was fitted on the hours before this instant"),
    Column("neighbours", Text, nullable=False, comment="JSON list of the MNs the state also reads"),
    Column("state", Bytes, comment="StationDetectorState.to_bytes(): zlib-compressed JSON"),
    Column("updates", Id, nullable=False, comment="number of saves (optimistic lock)"),
    Column("updated_ts", Id, nullable=False),
    Column("errors", Integer, nullable=False, comment="consecutive failed runs"),
    Column("last_error", Text),
    Column("retry_ts", Id, comment="after a failure: not before this instant"),
)

detect_pending = Table(
    "detect_pending",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("from_ts", Id, nullable=False, comment="earliest hour with new data"),
    Column("to_ts", Id, nullable=False, comment="end of the newest hour with new data"),
    Column("seq", Id, nullable=False, comment="grows at each merge"),
)

detect_cursor = Table(
    "detect_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("position", Id, nullable=False, comment="last id consumed"),
    Column("updated_ts", Id, nullable=False),
)

detect_offline = Table(
    "detect_offline",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("last_seen_us", Id, nullable=False, comment="the silence reported began after this receipt"),
    Column("reported_ts", Id, nullable=False),
)


# ----------------------------------------------------------------------------------------- cursors


def cursor_position(conn: Connection, name: str) -> int:
    """The last id consumed by the reader ``name`` (0 when it has read nothing yet)."""
    found = conn.execute(select(detect_cursor.c.position).where(detect_cursor.c.name == name)).scalar()
    return 0 if found is None else int(found)


def set_cursor(conn: Connection, name: str, position: int, *, now: int) -> None:
    """Move the reader ``name`` to ``position`` (never backwards)."""
    c = detect_cursor.c
    done = conn.execute(
        update(detect_cursor)
        .where(c.name == name, c.position <= position)
        .values(position=position, updated_ts=now)
    )
    if not done.rowcount:
        known = conn.execute(select(c.position).where(c.name == name)).scalar()
        if known is None:
            conn.execute(insert(detect_cursor).values(name=name, position=position, updated_ts=now))


# ---------------------------------------------------------------------------- judged hours: intake


@dataclass(frozen=True, slots=True)
class Touched:
    """Stations whose judged hourly values got new versions: ``spans[station_id] = (from, to)``."""

    last_id: int
    spans: Mapping[int, tuple[int, int]]


def touched_hours(conn: Connection, *, after_id: int, limit: int = 50_000) -> Touched:
    """The hours of ``rollup_value`` versions with ``id > after_id`` (at most ``limit`` rows), per
    station: the earliest hour's start and the newest hour's end.

    Ids are taken in order; on SQLite (one writer) they commit in order. On PostgreSQL two roll-up
    runs at once could commit ids out of order, and a version committed late below the cursor is
    then read only through a neighbouring hour's range (a new version of any later hour of the
    station re-reads it)."""
    v = rollup_value.c
    rows = conn.execute(
        select(v.id, v.station_id, v.period_ts)
        .where(v.id > after_id, v.granularity == "hour")
        .order_by(v.id)
        .limit(limit)
    ).all()
    if not rows:
        return Touched(after_id, {})
    spans: dict[int, tuple[int, int]] = {}
    for _, sid, ts in rows:
        lo, hi = spans.get(int(sid), (int(ts), int(ts) + 3600))
        spans[int(sid)] = (min(lo, int(ts)), max(hi, int(ts) + 3600))
    return Touched(int(rows[-1][0]), spans)


def add_pending(conn: Connection, spans: Mapping[int, tuple[int, int]]) -> None:
    """Queue ``[from, to)`` of each station, merged with what already waits."""
    if not spans:
        return
    p = detect_pending.c
    known = {
        int(r.station_id): (int(r.from_ts), int(r.to_ts))
        for r in conn.execute(select(p.station_id, p.from_ts, p.to_ts).where(p.station_id.in_(list(spans))))
    }
    for sid, (lo, hi) in sorted(spans.items()):
        if sid in known:
            old_lo, old_hi = known[sid]
            conn.execute(
                update(detect_pending)
                .where(p.station_id == sid)
                .values(from_ts=min(lo, old_lo), to_ts=max(hi, old_hi), seq=p.seq + 1)
            )
        else:
            conn.execute(insert(detect_pending).values(station_id=sid, from_ts=lo, to_ts=hi, seq=1))


@dataclass(frozen=True, slots=True)
class Pending:
    station_id: int
    from_ts: int
    to_ts: int
    seq: int


def pending(conn: Connection, *, now: int, limit: int = 1000) -> list[Pending]:
    """Stations waiting to be fed, oldest data first; stations in their retry pause are left out."""
    p, s = detect_pending.c, detect_state.c
    q = (
        select(p.station_id, p.from_ts, p.to_ts, p.seq)
        .select_from(detect_pending.outerjoin(detect_state, s.station_id == p.station_id))
        .where((s.retry_ts.is_(None)) | (s.retry_ts <= now))
        .order_by(p.from_ts, p.station_id)
        .limit(limit)
    )
    return [Pending(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in conn.execute(q)]


def done_pending(conn: Connection, item: Pending) -> bool:
    """Remove a pending row if nothing was merged into it since it was read; False otherwise."""
    p = detect_pending.c
    result = conn.execute(delete(detect_pending).where(p.station_id == item.station_id, p.seq == item.seq))
    return bool(result.rowcount)


def count_pending(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(detect_pending)).scalar_one())


# --------------------------------------------------------------------------------------- the state


@dataclass(frozen=True, slots=True)
class DetectState:
    """A ``detect_state`` row."""

    station_id: int
    phase: str
    first_ts: int | None
    last_ts: int | None
    fitted_ts: int | None
    neighbours: tuple[str, ...]
    state: bytes | None
    updates: int
    updated_ts: int
    errors: int
    last_error: str | None
    retry_ts: int | None


def _state(row: Mapping[str, Any]) -> DetectState:
    def opt(key: str) -> int | None:
        v = row[key]
        return None if v is None else int(str(v))

    blob = row["state"]
    return DetectState(
        station_id=int(str(row["station_id"])),
        phase=str(row["phase"]),
        first_ts=opt("first_ts"),
        last_ts=opt("last_ts"),
        fitted_ts=opt("fitted_ts"),
        neighbours=tuple(str(x) for x in json.loads(str(row["neighbours"]))),
        state=bytes(blob) if isinstance(blob, bytes | bytearray | memoryview) else None,
        updates=int(str(row["updates"])),
        updated_ts=int(str(row["updated_ts"])),
        errors=int(str(row["errors"])),
        last_error=None if row["last_error"] is None else str(row["last_error"]),
        retry_ts=opt("retry_ts"),
    )


def load_state(conn: Connection, station_id: int) -> DetectState | None:
    row = conn.execute(select(detect_state).where(detect_state.c.station_id == station_id)).mappings().first()
    return None if row is None else _state(dict(row))


def states(conn: Connection) -> list[DetectState]:
    """Every station's row, without the state blobs (``state`` is None)."""
    cols = [c for c in detect_state.c if c.name != "state"]
    rows = conn.execute(select(*cols).order_by(detect_state.c.station_id)).mappings()
    return [_state({**r, "state": None}) for r in rows]


def save_state(
    conn: Connection,
    station_id: int,
    *,
    expected_updates: int | None,
    now: int,
    phase: str,
    first_ts: int | None,
    last_ts: int | None,
    fitted_ts: int | None,
    neighbours: Sequence[str],
    state: bytes | None,
) -> bool:
    """Write a station's row. ``expected_updates`` is the counter read with the state (None: the row
    did not exist); False when someone else saved in between (nothing is written then)."""
    if phase not in PHASES:
        raise ValueError(f"detect_state phase {phase!r} is not one of {PHASES}")
    values: dict[str, object] = {
        "phase": phase,
        "first_ts": first_ts,
        "last_ts": last_ts,
        "fitted_ts": fitted_ts,
        "neighbours": json.dumps(sorted(neighbours)),
        "state": state,
        "updated_ts": now,
        "errors": 0,
        "last_error": None,
        "retry_ts": None,
    }
    if expected_updates is None:
        exists = conn.execute(
            select(detect_state.c.station_id).where(detect_state.c.station_id == station_id)
        )
        if exists.first() is not None:
            return False
        conn.execute(insert(detect_state).values(station_id=station_id, updates=1, **values))
        return True
    s = detect_state.c
    result = conn.execute(
        update(detect_state)
        .where(s.station_id == station_id, s.updates == expected_updates)
        .values(updates=expected_updates + 1, **values)
    )
    return bool(result.rowcount)


def record_failure(conn: Connection, station_id: int, *, now: int, error: str, retry_ts: int) -> None:
    """Count a failed run of a station and pause it until ``retry_ts`` (its data stay queued)."""
    s = detect_state.c
    result = conn.execute(
        update(detect_state)
        .where(s.station_id == station_id)
        .values(errors=s.errors + 1, last_error=error[:2000], retry_ts=retry_ts, updated_ts=now)
    )
    if not result.rowcount:
        conn.execute(
            insert(detect_state).values(
                station_id=station_id,
                phase="warming",
                neighbours="[]",
                updates=0,
                updated_ts=now,
                errors=1,
                last_error=error[:2000],
                retry_ts=retry_ts,
            )
        )


# ------------------------------------------------------------------------------ registry facts read


@dataclass(frozen=True, slots=True)
class StationFacts:
    """What live detection needs to know about a station."""

    id: int
    mn: str
    kind: str
    enabled: bool
    utc_offset_min: int
    city: str | None
    lat: float | None
    lon: float | None


def station_facts(conn: Connection) -> dict[int, StationFacts]:
    s, p = station.c, monitoring_point.c
    q = select(s.id, s.mn, s.kind, s.enabled, s.utc_offset_min, p.city, p.lat, p.lon).select_from(
        station.outerjoin(monitoring_point, p.id == s.point_id)
    )
    return {
        int(r.id): StationFacts(
            int(r.id),
            str(r.mn),
            str(r.kind),
            bool(r.enabled),
            int(r.utc_offset_min),
            r.city,
            None if r.lat is None else float(r.lat),
            None if r.lon is None else float(r.lon),
        )
        for r in conn.execute(q)
    }


@dataclass(frozen=True, slots=True)
class ParameterFacts:
    """A ``station_parameter`` row: the configured unit, analyser span, detection limit, reference O2."""

    parameter: str
    unit: str | None
    span: float | None
    lod: float | None
    o2_ref: float | None


def parameter_facts(conn: Connection, station_ids: Iterable[int]) -> dict[int, dict[str, ParameterFacts]]:
    ids = sorted(set(station_ids))
    out: dict[int, dict[str, ParameterFacts]] = {}
    if not ids:
        return out
    sp = station_parameter.c
    for r in conn.execute(select(station_parameter).where(sp.station_id.in_(ids))).mappings():
        out.setdefault(int(r["station_id"]), {})[str(r["parameter"])] = ParameterFacts(
            str(r["parameter"]), r["unit"], r["span"], r["lod"], r["o2_ref"]
        )
    return out


def first_hour(conn: Connection, station_id: int) -> int | None:
    """Start of the station's earliest judged hour."""
    v = rollup_value.c
    found = conn.execute(
        select(func.min(v.period_ts)).where(v.station_id == station_id, v.granularity == "hour")
    ).scalar()
    return None if found is None else int(found)


def open_fraud_alarm(conn: Connection, station_id: int) -> bool:
    """Whether the station has a suspected-falsification alarm nobody has closed yet."""
    a = alarm.c
    q = select(a.id).where(
        a.station_id == station_id, a.kind == "fraud", a.state.not_in(("confirmed", "dismissed"))
    )
    return conn.execute(q.limit(1)).first() is not None


# ------------------------------------------------------------------------------------------ silence


@dataclass(frozen=True, slots=True)
class Silence:
    """A station from which nothing has been received since ``last_seen_us``."""

    station_id: int
    last_seen_us: int
    last_data_ts: int | None


def silent_stations(conn: Connection, *, seen_before_us: int) -> list[Silence]:
    """Enabled stations last heard from before ``seen_before_us`` whose silence is not yet reported."""
    st, s, o = station_state.c, station.c, detect_offline.c
    q = (
        select(st.station_id, st.last_seen_us, st.last_data_ts)
        .select_from(
            station_state.join(station, s.id == st.station_id).outerjoin(
                detect_offline, o.station_id == st.station_id
            )
        )
        .where(
            s.enabled.is_(True),
            st.last_seen_us.is_not(None),
            st.last_seen_us < seen_before_us,
            (o.last_seen_us.is_(None)) | (o.last_seen_us != st.last_seen_us),
        )
        .order_by(st.station_id)
    )
    return [Silence(int(r[0]), int(r[1]), None if r[2] is None else int(r[2])) for r in conn.execute(q)]


def mark_silence_reported(conn: Connection, silence: Silence, *, now: int) -> None:
    o = detect_offline.c
    done = conn.execute(
        update(detect_offline)
        .where(o.station_id == silence.station_id)
        .values(last_seen_us=silence.last_seen_us, reported_ts=now)
    )
    if not done.rowcount:
        conn.execute(
            insert(detect_offline).values(
                station_id=silence.station_id, last_seen_us=silence.last_seen_us, reported_ts=now
            )
        )
