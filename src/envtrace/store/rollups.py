"""Raw-statistics roll-ups of readings: per station x granularity x parameter x hour and x day.

These hold only what was received (count, sum, min, max of ``value`` and of ``zs_value``, and how
many values carried the normal flag ``N``); they make a year of minute data cheap to chart and the
province overview cheap to compute. They pass **no judgement on validity**: validity-judged hourly
and daily values (HJ 75 / GB 3095 rules, with reasons) are ``envtrace.rollup``'s and live in their
own tables (Alembic branch ``rollup``).

Roll-ups cover the ``rtd`` and ``min`` granularities (the station's own ``hour`` and ``day`` data
are already aggregates and are charted as they are). Days are China Standard Time calendar days
(UTC+8): ``day_ts`` is the Unix second of 00:00 CST.

Maintenance is incremental and idempotent: :func:`refresh` finds the readings added since the
watermark (``reading.frame_id`` is indexed and grows with every raw frame), recomputes every hour
and day they touch from the readings themselves, and moves the watermark. A late reading for an
old hour simply recomputes that hour. A margin of frame ids below the watermark is re-scanned each
time, so a transaction that committed late on PostgreSQL is still counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    and_,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from envtrace.store.frames import quarantine, raw_frame
from envtrace.store.metadata import metadata
from envtrace.store.readings import reading
from envtrace.store.types import Id

CST_OFFSET_S = 8 * 3600
ROLLED_GRANULARITIES = ("rtd", "min")
RESCAN_MARGIN_FRAMES = 2_000
BATCH_FRAMES = 50_000


def _stats_columns() -> list[Column[object]]:
    return [
        Column("n", Integer, nullable=False, comment="values received (value not null)"),
        Column("n_normal", Integer, nullable=False, comment="values with flag N (normal)"),
        Column("v_sum", Float),
        Column("v_min", Float),
        Column("v_max", Float),
        Column("zs_n", Integer, nullable=False, comment="corrected (Zs) values received"),
        Column("zs_sum", Float),
        Column("zs_min", Float),
        Column("zs_max", Float),
    ]


reading_hour_stats = Table(
    "reading_hour_stats",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("granularity", String(4), primary_key=True),
    Column("parameter", String(32), primary_key=True),
    Column("hour_ts", Id, primary_key=True, comment="Unix seconds UTC of the hour's start"),
    *_stats_columns(),
)
Index("ix_reading_hour_stats_hour", reading_hour_stats.c.hour_ts)

reading_day_stats = Table(
    "reading_day_stats",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("granularity", String(4), primary_key=True),
    Column("parameter", String(32), primary_key=True),
    Column("day_ts", Id, primary_key=True, comment="Unix seconds UTC of 00:00 China Standard Time"),
    *_stats_columns(),
)
Index("ix_reading_day_stats_day", reading_day_stats.c.day_ts)

# Receipt-time indexes of the gateway's tables, for the overview's last-24-hours counts (migration
# rollups_0002, declared here so that the gateway's core_0001 stays as it is).
Index("ix_raw_frame_received", raw_frame.c.received_us)
Index("ix_quarantine_received", quarantine.c.received_us)

rollup_watermark = Table(
    "rollup_watermark",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("frame_id", Id, nullable=False, comment="readings of frames up to this id are rolled up"),
)

_STAT_NAMES = ("n", "n_normal", "v_sum", "v_min", "v_max", "zs_n", "zs_sum", "zs_min", "zs_max")


@dataclass(frozen=True, slots=True)
class RefreshResult:
    frames_from: int
    frames_to: int
    hours: int
    days: int


def hour_start(ts: int) -> int:
    return ts - ts % 3600


def cst_day_start(ts: int) -> int:
    """00:00 China Standard Time of the day containing ``ts``, as Unix seconds UTC."""
    return (ts + CST_OFFSET_S) // 86400 * 86400 - CST_OFFSET_S


def _upsert(conn: Connection, table: Table, key: list[str], source: object) -> None:
    cols = [*key, *_STAT_NAMES]
    stmt: postgresql.Insert | sqlite.Insert
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(table).from_select(cols, source)  # type: ignore[arg-type]
    else:
        stmt = sqlite.insert(table).from_select(cols, source)  # type: ignore[arg-type]
    stmt = stmt.on_conflict_do_update(
        index_elements=key, set_={name: stmt.excluded[name] for name in _STAT_NAMES}
    )
    conn.execute(stmt)


def watermark(conn: Connection, name: str = "reading") -> int:
    value = conn.execute(select(rollup_watermark.c.frame_id).where(rollup_watermark.c.name == name)).scalar()
    return 0 if value is None else int(value)


def _set_watermark(conn: Connection, frame_id: int, name: str = "reading") -> None:
    stmt: postgresql.Insert | sqlite.Insert
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(rollup_watermark)
    else:
        stmt = sqlite.insert(rollup_watermark)
    stmt = stmt.values(name=name, frame_id=frame_id)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"frame_id": frame_id}))


def refresh(conn: Connection, *, batch_frames: int = BATCH_FRAMES) -> RefreshResult:
    """Roll up the readings of frames newer than the watermark (one batch); call in a transaction.

    Returns the frame-id range covered and how many hour and day rows were written. Call again while
    ``frames_to`` keeps moving to catch up a large backlog.
    """
    done = watermark(conn)
    top = conn.execute(select(func.max(reading.c.frame_id)).where(reading.c.frame_id > done)).scalar()
    if top is None:
        return RefreshResult(done, done, 0, 0)
    lo = max(0, done - RESCAN_MARGIN_FRAMES)
    hi = min(int(top), done + batch_frames)
    r = reading.c
    hour_expr = (r.data_ts - r.data_ts % 3600).label("hour_ts")
    affected = (
        select(r.station_id, r.granularity, r.parameter, hour_expr)
        .where(r.frame_id > lo, r.frame_id <= hi, r.granularity.in_(ROLLED_GRANULARITIES))
        .distinct()
        .cte("affected")
    )
    a = affected.c
    normal = case((r.flag == "N", 1), else_=0)
    has_zs = case((r.zs_value.is_not(None), 1), else_=0)
    hours = (
        select(
            a.station_id,
            a.granularity,
            a.parameter,
            a.hour_ts,
            func.count(r.value),
            func.coalesce(func.sum(normal), 0),
            func.sum(r.value),
            func.min(r.value),
            func.max(r.value),
            func.coalesce(func.sum(has_zs), 0),
            func.sum(r.zs_value),
            func.min(r.zs_value),
            func.max(r.zs_value),
        )
        .select_from(
            affected.join(
                reading,
                and_(
                    r.station_id == a.station_id,
                    r.granularity == a.granularity,
                    r.parameter == a.parameter,
                    r.data_ts >= a.hour_ts,
                    r.data_ts < a.hour_ts + 3600,
                ),
            )
        )
        .where(literal(1) == 1)  # SQLite: INSERT ... SELECT ... ON CONFLICT needs a WHERE
        .group_by(a.station_id, a.granularity, a.parameter, a.hour_ts)
    )
    n_hours = int(conn.execute(select(func.count()).select_from(affected)).scalar_one())
    _upsert(conn, reading_hour_stats, ["station_id", "granularity", "parameter", "hour_ts"], hours)

    h = reading_hour_stats.c
    day_of = ((r.data_ts + CST_OFFSET_S) - (r.data_ts + CST_OFFSET_S) % 86400 - CST_OFFSET_S).label("day_ts")
    days_affected = (
        select(r.station_id, r.granularity, r.parameter, day_of)
        .where(r.frame_id > lo, r.frame_id <= hi, r.granularity.in_(ROLLED_GRANULARITIES))
        .distinct()
        .cte("days_affected")
    )
    d = days_affected.c
    days = (
        select(
            d.station_id,
            d.granularity,
            d.parameter,
            d.day_ts,
            func.sum(h.n),
            func.sum(h.n_normal),
            func.sum(h.v_sum),
            func.min(h.v_min),
            func.max(h.v_max),
            func.sum(h.zs_n),
            func.sum(h.zs_sum),
            func.min(h.zs_min),
            func.max(h.zs_max),
        )
        .select_from(
            days_affected.join(
                reading_hour_stats,
                and_(
                    h.station_id == d.station_id,
                    h.granularity == d.granularity,
                    h.parameter == d.parameter,
                    h.hour_ts >= d.day_ts,
                    h.hour_ts < d.day_ts + 86400,
                ),
            )
        )
        .where(literal(1) == 1)
        .group_by(d.station_id, d.granularity, d.parameter, d.day_ts)
    )
    n_days = int(conn.execute(select(func.count()).select_from(days_affected)).scalar_one())
    _upsert(conn, reading_day_stats, ["station_id", "granularity", "parameter", "day_ts"], days)
    _set_watermark(conn, hi)
    return RefreshResult(frames_from=lo, frames_to=hi, hours=n_hours, days=n_days)
