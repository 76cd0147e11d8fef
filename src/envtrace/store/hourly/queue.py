"""The job's bookkeeping: the raw-frame cursor, the series seen, the queues of periods, the run log."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from envtrace.store.frames import raw_frame
from envtrace.store.hourly.tables import (
    canonical,
    insert_ignore,
    rollup_city_pending,
    rollup_cursor,
    rollup_pending,
    rollup_run,
    rollup_series,
)
from envtrace.store.readings import reading


def cursor(conn: Connection, name: str, *, lock: bool = False) -> int:
    """The frame cursor ``name`` (0 when new); ``lock`` holds its row for this transaction."""
    insert_ignore(conn, rollup_cursor, [{"name": name, "frame_id": 0, "updated_ts": 0}], ["name"])
    q = select(rollup_cursor.c.frame_id).where(rollup_cursor.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return int(conn.execute(q).scalar_one())


def cursor_value(conn: Connection, name: str) -> int:
    """The frame cursor ``name`` without creating or locking it (0 when new)."""
    found = conn.execute(select(rollup_cursor.c.frame_id).where(rollup_cursor.c.name == name)).scalar()
    return 0 if found is None else int(found)


def set_cursor(conn: Connection, name: str, frame_id: int, *, updated_ts: int) -> None:
    conn.execute(
        update(rollup_cursor)
        .where(rollup_cursor.c.name == name)
        .values(frame_id=frame_id, updated_ts=updated_ts)
    )


def newest_frame(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(raw_frame.c.id), 0))).scalar_one())


@dataclass(frozen=True, slots=True)
class Touched:
    """A reading key of new frames, its data time truncated to the hour (kept for day readings)."""

    station_id: int
    granularity: str
    parameter: str
    period_ts: int
    frame_id: int


def touched(conn: Connection, after: int, upto: int) -> list[Touched]:
    """What the readings of frames ``after < id <= upto`` touch (distinct keys, newest frame each)."""
    r = reading.c
    period = case((r.granularity == "day", r.data_ts), else_=r.data_ts - r.data_ts % 3600)
    q = (
        select(r.station_id, r.granularity, r.parameter, period.label("period"), func.max(r.frame_id))
        .where(r.frame_id > after, r.frame_id <= upto)
        .group_by(r.station_id, r.granularity, r.parameter, period)
    )
    return [Touched(int(a), g, p, int(t), int(f)) for a, g, p, t, f in conn.execute(q)]


def add_series(conn: Connection, keys: Iterable[tuple[int, str, str]]) -> None:
    rows = [{"station_id": s, "granularity": g, "parameter": p} for s, g, p in sorted(set(keys))]
    insert_ignore(conn, rollup_series, rows, ["station_id", "granularity", "parameter"])


def series(conn: Connection, station_id: int) -> dict[str, list[str]]:
    """Parameters the station has sent, by reading granularity."""
    out: dict[str, list[str]] = {}
    q = select(rollup_series.c.granularity, rollup_series.c.parameter).where(
        rollup_series.c.station_id == station_id
    )
    for g, p in conn.execute(q.order_by(rollup_series.c.parameter)):
        out.setdefault(g, []).append(p)
    return out


@dataclass(frozen=True, slots=True)
class Pending:
    station_id: int
    granularity: str
    period_ts: int
    due_ts: int
    touched_frame: int


def add_pending(conn: Connection, items: Iterable[Pending]) -> None:
    """Queue periods for (re)computation; a queued period keeps the newest frame that touched it."""
    rows = [
        {
            "station_id": p.station_id,
            "granularity": p.granularity,
            "period_ts": p.period_ts,
            "due_ts": p.due_ts,
            "touched_frame": p.touched_frame,
        }
        for p in items
    ]
    if not rows:
        return
    t = rollup_pending.c
    stmt: postgresql.Insert | sqlite.Insert
    stmt = (
        postgresql.insert(rollup_pending)
        if conn.dialect.name == "postgresql"
        else sqlite.insert(rollup_pending)
    )
    newer = case(
        (stmt.excluded.touched_frame > t.touched_frame, stmt.excluded.touched_frame), else_=t.touched_frame
    )
    earlier = case((stmt.excluded.due_ts < t.due_ts, stmt.excluded.due_ts), else_=t.due_ts)
    stmt = stmt.on_conflict_do_update(
        index_elements=["station_id", "granularity", "period_ts"],
        set_={"touched_frame": newer, "due_ts": earlier},
    )
    conn.execute(stmt, rows)


def due_pending(conn: Connection, *, granularity: str, now_ts: int, limit: int) -> list[Pending]:
    """Queued periods due by ``now_ts``; on PostgreSQL locked for this transaction (others skip them)."""
    t = rollup_pending.c
    q = (
        select(rollup_pending)
        .where(t.granularity == granularity, t.due_ts <= now_ts)
        .order_by(t.due_ts, t.station_id, t.period_ts)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return [
        Pending(r["station_id"], r["granularity"], r["period_ts"], r["due_ts"], r["touched_frame"])
        for r in conn.execute(q).mappings()
    ]


def postpone_pending(conn: Connection, items: Iterable[Pending], *, due_ts: int) -> None:
    """Move queued periods (whose computation failed) to ``due_ts``."""
    t = rollup_pending.c
    for p in items:
        conn.execute(
            update(rollup_pending)
            .where(t.station_id == p.station_id, t.granularity == p.granularity, t.period_ts == p.period_ts)
            .values(due_ts=due_ts)
        )


def add_city_pending(conn: Connection, items: Iterable[tuple[str, str, int]], *, due_ts: int) -> None:
    """Queue (city, granularity, period) for the city AQI."""
    rows: list[dict[str, object]] = [
        {"city": c, "granularity": g, "period_ts": t, "due_ts": due_ts} for c, g, t in sorted(set(items))
    ]
    insert_ignore(conn, rollup_city_pending, rows, ["city", "granularity", "period_ts"])


def due_city_pending(conn: Connection, *, now_ts: int, limit: int) -> list[tuple[str, str, int]]:
    t = rollup_city_pending.c
    q = select(t.city, t.granularity, t.period_ts).where(t.due_ts <= now_ts).order_by(t.due_ts).limit(limit)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return [(c, g, int(p)) for c, g, p in conn.execute(q)]


def done_city_pending(conn: Connection, items: Iterable[tuple[str, str, int]]) -> None:
    t = rollup_city_pending.c
    for c, g, p in items:
        conn.execute(delete(rollup_city_pending).where(t.city == c, t.granularity == g, t.period_ts == p))


def count_pending(conn: Connection) -> int:
    """Station-periods and city-periods waiting to be computed."""
    n = conn.execute(select(func.count()).select_from(rollup_pending)).scalar_one()
    m = conn.execute(select(func.count()).select_from(rollup_city_pending)).scalar_one()
    return int(n) + int(m)


def done_pending(conn: Connection, items: Iterable[Pending]) -> None:
    """Dequeue periods computed, unless a newer frame touched them meanwhile."""
    t = rollup_pending.c
    for p in items:
        conn.execute(
            delete(rollup_pending).where(
                t.station_id == p.station_id,
                t.granularity == p.granularity,
                t.period_ts == p.period_ts,
                t.touched_frame <= p.touched_frame,
            )
        )


def stations_with_series(conn: Connection) -> list[int]:
    return [
        int(x)
        for x in conn.execute(
            select(rollup_series.c.station_id).distinct().order_by(rollup_series.c.station_id)
        ).scalars()
    ]


def record_run(
    conn: Connection,
    *,
    kind: str,
    started_ts: int,
    counts: Mapping[str, int],
    rules: str,
    from_ts: int | None = None,
    to_ts: int | None = None,
    frames_from: int | None = None,
    frames_to: int | None = None,
) -> None:
    conn.execute(
        insert(rollup_run).values(
            kind=kind,
            started_ts=started_ts,
            from_ts=from_ts,
            to_ts=to_ts,
            frames_from=frames_from,
            frames_to=frames_to,
            counts=canonical(dict(counts)),
            rules=rules,
        )
    )


def runs(conn: Connection, *, limit: int = 100) -> list[dict[str, object]]:
    """The newest logged runs (those that did work), newest first."""
    q = select(rollup_run).order_by(rollup_run.c.id.desc()).limit(limit)
    out = []
    for r in conn.execute(q).mappings():
        row = dict(r)
        row["counts"] = json.loads(row["counts"])
        out.append(row)
    return out
