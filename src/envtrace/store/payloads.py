"""HJ 212-2025 data that are not readings, and the resend counters of each station.

Readings keep their convention (one row per station x granularity x parameter x data time, the
granularities of 2011 / 2051 / 2061 / 2031; ``docs/architecture.md``). The 2025 uploads that do not
fit it get their own tables, written by the gateway in the transaction of their frame:

- ``measurement``: series of single values that are not periods of the real-time stream, keyed by
  CN: **2013** raw periodic measurements (``-SampleTime``, ``-CompleteTime``, ``-SampleType``,
  ``-Avg``), **2052** single noise measurements (``-Data``, DataTime = its start), **2111** furnace
  temperature 5-minute means (``a01901-Avg``, DataTime = the window's start). A 2111 value is a
  5-minute mean that would collide with the minute data of the same factor in ``reading``.
- ``standard_check``: **2062** automatic standard-sample checks: measured (``-SampleRd``), nominal
  (``-StandardValue``), the station's verdict (``-ResultType`` 1 pass / 0 fail); the roll-up marks
  an analyser out of control from a failed check to the next passing one (``out_of_control``).
- ``station_resend``: per station, frames received with the 2025 resend marker ``RF=1``: how many,
  how many filled a data period the platform did not have, how many repeated one it had.

Every field of an item that has no column is kept in ``extra`` (JSON); first arrival wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    select,
)

from envtrace.store.engine import bulk_insert
from envtrace.store.metadata import metadata
from envtrace.store.types import Id

MEASUREMENT_CNS = ("2013", "2052", "2111")
CHECK_CN = "2062"

measurement = Table(
    "measurement",
    metadata,
    Column("station_id", ForeignKey("station.id"), nullable=False),
    Column("cn", String(4), nullable=False, comment="2013 raw periodic | 2052 noise | 2111 furnace 5-min"),
    Column("parameter", String(32), nullable=False),
    Column("data_ts", Id, nullable=False, comment="DataTime, Unix seconds UTC"),
    Column("value", Float, comment="Avg (2013, 2111) or Data (2052)"),
    Column("sample_ts", Id, comment="2013: SampleTime"),
    Column("complete_ts", Id, comment="2013: CompleteTime"),
    Column("sample_type", String(8), comment="2013: SampleType"),
    Column("flag", String(4)),
    Column("extra", Text, comment="JSON of any further fields of the item, never dropped"),
    Column("frame_id", Id, nullable=False, comment="raw_frame.id it was decoded from"),
    PrimaryKeyConstraint("station_id", "cn", "parameter", "data_ts"),
)
Index("ix_measurement_frame", measurement.c.frame_id)

standard_check = Table(
    "standard_check",
    metadata,
    Column("station_id", ForeignKey("station.id"), nullable=False),
    Column("parameter", String(32), nullable=False),
    Column("data_ts", Id, nullable=False, comment="DataTime: start of the check"),
    Column("measured", Float, comment="SampleRd"),
    Column("nominal", Float, comment="StandardValue"),
    Column("result", SmallInteger, comment="ResultType as sent: 1 pass, 0 fail"),
    Column("flag", String(4)),
    Column("extra", Text, comment="JSON of any further fields of the item"),
    Column("frame_id", Id, nullable=False),
    PrimaryKeyConstraint("station_id", "parameter", "data_ts"),
)
Index("ix_standard_check_frame", standard_check.c.frame_id)

station_resend = Table(
    "station_resend",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("frames", Id, nullable=False, server_default="0", comment="frames received with RF=1"),
    Column("filled", Id, nullable=False, server_default="0", comment="data periods RF=1 frames filled"),
    Column("duplicates", Id, nullable=False, server_default="0", comment="RF=1 frames already held"),
    Column("last_us", Id, comment="receipt time of the newest RF=1 frame"),
)

MEASUREMENT_COLUMNS = (
    "station_id", "cn", "parameter", "data_ts", "value", "sample_ts", "complete_ts", "sample_type", "flag",
    "extra", "frame_id",
)  # fmt: skip
CHECK_COLUMNS = (
    "station_id", "parameter", "data_ts", "measured", "nominal", "result", "flag", "extra", "frame_id",
)  # fmt: skip
RESEND_COLUMNS = ("station_id", "frames", "filled", "duplicates", "last_us")


def insert_payloads(
    conn: Connection, measurements: Sequence[tuple[Any, ...]], checks: Sequence[tuple[Any, ...]]
) -> None:
    """Rows in ``MEASUREMENT_COLUMNS`` / ``CHECK_COLUMNS`` order; an existing key is kept."""
    if measurements:
        bulk_insert(
            conn, measurement, MEASUREMENT_COLUMNS, list(measurements),
            suffix="ON CONFLICT (station_id, cn, parameter, data_ts) DO NOTHING",
        )  # fmt: skip
    if checks:
        bulk_insert(
            conn, standard_check, CHECK_COLUMNS, list(checks),
            suffix="ON CONFLICT (station_id, parameter, data_ts) DO NOTHING",
        )  # fmt: skip


def add_resends(conn: Connection, counts: Mapping[int, Sequence[int]]) -> None:
    """Add ``(frames, filled, duplicates, last_us)`` per station to its resend counters."""
    if not counts:
        return
    greatest = "max" if conn.dialect.name == "sqlite" else "GREATEST"
    suffix = (
        "ON CONFLICT (station_id) DO UPDATE SET frames = station_resend.frames + excluded.frames, "
        "filled = station_resend.filled + excluded.filled, "
        "duplicates = station_resend.duplicates + excluded.duplicates, "
        f"last_us = {greatest}(coalesce(excluded.last_us, 0), coalesce(station_resend.last_us, 0))"
    )
    rows = [(sid, int(c[0]), int(c[1]), int(c[2]), c[3]) for sid, c in sorted(counts.items())]
    bulk_insert(conn, station_resend, RESEND_COLUMNS, rows, suffix=suffix)


@dataclass(frozen=True, slots=True)
class ResendStats:
    station_id: int
    frames: int
    filled: int
    duplicates: int
    last_us: int | None


def resend_stats(conn: Connection) -> dict[int, ResendStats]:
    return {
        int(r["station_id"]): ResendStats(
            int(r["station_id"]), int(r["frames"]), int(r["filled"]), int(r["duplicates"]), r["last_us"]
        )
        for r in conn.execute(select(station_resend)).mappings()
    }


@dataclass(frozen=True, slots=True)
class Measurement:
    station_id: int
    cn: str
    parameter: str
    data_ts: int
    value: float | None
    sample_ts: int | None
    complete_ts: int | None
    sample_type: str | None
    flag: str | None
    extra: str | None
    frame_id: int


def measurements(
    conn: Connection, *, station_id: int, cn: str | None = None, start: int = 0, end: int = 2**62
) -> list[Measurement]:
    m = measurement.c
    q = select(measurement).where(m.station_id == station_id, m.data_ts >= start, m.data_ts < end)
    if cn is not None:
        q = q.where(m.cn == cn)
    rows = conn.execute(q.order_by(m.cn, m.parameter, m.data_ts)).mappings()
    return [Measurement(**{c: r[c] for c in MEASUREMENT_COLUMNS}) for r in rows]


@dataclass(frozen=True, slots=True)
class StandardCheck:
    station_id: int
    parameter: str
    data_ts: int
    measured: float | None
    nominal: float | None
    result: int | None
    flag: str | None
    extra: str | None
    frame_id: int


def standard_checks(
    conn: Connection,
    *,
    station_id: int,
    parameters: Iterable[str] | None = None,
    start: int = 0,
    end: int = 2**62,
) -> list[StandardCheck]:
    """A station's checks with ``start <= data_ts < end``, by parameter and time."""
    c = standard_check.c
    q = select(standard_check).where(c.station_id == station_id, c.data_ts >= start, c.data_ts < end)
    if parameters is not None:
        q = q.where(c.parameter.in_(list(parameters)))
    rows = conn.execute(q.order_by(c.parameter, c.data_ts)).mappings()
    return [StandardCheck(**{k: r[k] for k in CHECK_COLUMNS}) for r in rows]


def checks_of_frames(conn: Connection, first_frame: int, last_frame: int) -> list[StandardCheck]:
    """Checks stored from raw frames ``first_frame <= id <= last_frame`` (the roll-up's take-in)."""
    c = standard_check.c
    rows = conn.execute(
        select(standard_check).where(c.frame_id >= first_frame, c.frame_id <= last_frame)
    ).mappings()
    return [StandardCheck(**{k: r[k] for k in CHECK_COLUMNS}) for r in rows]


def resent_frames(conn: Connection, frame_ids: Iterable[int]) -> set[int]:
    """Which of ``frame_ids`` carried RF=1 (the roll-up labels what they filled)."""
    from envtrace.store.frames import raw_frame

    ids = sorted(set(frame_ids))
    out: set[int] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        q = select(raw_frame.c.id).where(raw_frame.c.id.in_(chunk), raw_frame.c.rf.is_(True))
        out.update(int(x) for x in conn.execute(q).scalars())
    return out
