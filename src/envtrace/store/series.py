"""Readings: batch insert (first arrival wins), range queries, and the digest sealed with a frame.

``insert_readings`` writes rows in ``READING_COLUMNS`` order with ``ON CONFLICT DO NOTHING``: a
reading that already exists for (station, granularity, parameter, data_ts) is kept as it is.
``insert_reading_shapes`` is the gateway's variant: rows grouped by *shape* (which of the optional
columns hold a value, a bit mask over ``OPTIONAL_COLUMNS``), each group inserted naming only its
columns (the others stay NULL), which spares binding the many NULLs of a typical reading.

``readings_digest`` is what the raw-frame leaf records as ``readings_sha256``: the SHA-256 of the
canonical JSON of the readings made from that frame (``reading_record`` per row, sorted). A
verifier recomputes it from ``readings_for_frame`` and so detects an edited reading without
decoding the frame again. ``record_json`` / ``digest_of_records`` produce the same bytes without
building the intermediate lists (the gateway's hot path; the tests hold them equal).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from envtrace.store.engine import bulk_insert
from envtrace.store.readings import reading

READING_COLUMNS = (
    "station_id",
    "granularity",
    "parameter",
    "data_ts",
    "value",
    "min",
    "max",
    "cou",
    "zs_value",
    "zs_min",
    "zs_max",
    "flag",
    "eflag",
    "sample_ts",
    "extra",
    "frame_id",
)
OPTIONAL_COLUMNS = READING_COLUMNS[4:15]  # value .. extra: bit i of a shape mask = OPTIONAL_COLUMNS[i]
_ON_CONFLICT = "ON CONFLICT (station_id, granularity, parameter, data_ts) DO NOTHING"
_DUMPS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
_FLOATS = ("value", "min", "max", "cou", "zs_value", "zs_min", "zs_max")
_SHAPES: dict[int, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class Reading:
    station_id: int
    granularity: str
    parameter: str
    data_ts: int
    value: float | None
    min: float | None
    max: float | None
    cou: float | None
    zs_value: float | None
    zs_min: float | None
    zs_max: float | None
    flag: str | None
    eflag: str | None
    sample_ts: int | None
    extra: str | None
    frame_id: int

    def as_row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in READING_COLUMNS)


def _reading(row: RowMapping) -> Reading:
    return Reading(**{c: row[c] for c in READING_COLUMNS})


def insert_readings(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert readings (``READING_COLUMNS`` order); an existing key keeps its first value."""
    bulk_insert(conn, reading, READING_COLUMNS, rows, suffix=_ON_CONFLICT)


def shape_columns(mask: int) -> tuple[str, ...]:
    """The columns of a reading row of shape ``mask``: the key, the optional columns whose bit is
    set (in ``OPTIONAL_COLUMNS`` order), then ``frame_id``."""
    columns = _SHAPES.get(mask)
    if columns is None:
        if not 0 <= mask < 1 << len(OPTIONAL_COLUMNS):
            raise ValueError(f"reading shape {mask!r} is not a mask over {len(OPTIONAL_COLUMNS)} columns")
        chosen = tuple(c for i, c in enumerate(OPTIONAL_COLUMNS) if mask >> i & 1)
        columns = _SHAPES[mask] = (*READING_COLUMNS[:4], *chosen, "frame_id")
    return columns


def insert_reading_shapes(conn: Connection, shapes: Mapping[int, list[tuple[Any, ...]]]) -> None:
    """Insert readings grouped by shape: ``shapes[mask]`` rows follow ``shape_columns(mask)``.
    Same effect as ``insert_readings`` with NULL in the columns a shape leaves out."""
    for mask, rows in shapes.items():
        bulk_insert(conn, reading, shape_columns(mask), rows, suffix=_ON_CONFLICT)


def _num(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


def reading_record(
    parameter: str,
    granularity: str,
    data_ts: int,
    values: Sequence[float | None],
    flag: str | None,
    eflag: str | None,
    sample_ts: int | None,
    extra: str | None,
) -> list[object]:
    """The canonical form of one reading: floats as their shortest round-trip decimal strings
    (``repr``), in the order value, min, max, cou, zs_value, zs_min, zs_max."""
    return [parameter, granularity, data_ts, [_num(v) for v in values], flag, eflag, sample_ts, extra]


def readings_digest(records: Iterable[list[object]]) -> str:
    """SHA-256 (hex) of the canonical JSON of the sorted ``reading_record`` lists."""
    ordered = sorted(records, key=_order)
    # reading_record builds only str / int / None / lists: the canonical encoding needs no check here
    return hashlib.sha256(_DUMPS(ordered).encode("ascii")).hexdigest()


def _order(record: list[object]) -> tuple[str, str, str]:
    return (str(record[0]), str(record[1]), str(record[2]))


def _json_text(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


def record_json(
    parameter: str,
    granularity: str,
    data_ts: int,
    values: Sequence[float | None],
    flag: str | None,
    eflag: str | None,
    sample_ts: int | None,
    extra: str | None,
) -> str:
    """The canonical JSON of ``reading_record(...)``, built directly (equal bytes)."""
    nums = ",".join(["null" if v is None else f'"{float(v)!r}"' for v in values])
    sample = "null" if sample_ts is None else str(int(sample_ts))
    return (
        f"[{encode_basestring_ascii(parameter)},{encode_basestring_ascii(granularity)},{int(data_ts)},"
        f"[{nums}],{_json_text(flag)},{_json_text(eflag)},{sample},{_json_text(extra)}]"
    )


def digest_of_records(records: Iterable[tuple[str, str]]) -> str:
    """``readings_digest`` of one frame's readings given as (parameter, ``record_json``) pairs with
    distinct parameters (a frame's readings share granularity and data time, so the order by
    parameter is the order ``readings_digest`` uses)."""
    joined = ",".join([text for _, text in sorted(records)])
    return hashlib.sha256(f"[{joined}]".encode("ascii")).hexdigest()


def record_of(r: Reading) -> list[object]:
    return reading_record(
        r.parameter,
        r.granularity,
        r.data_ts,
        [getattr(r, c) for c in _FLOATS],
        r.flag,
        r.eflag,
        r.sample_ts,
        r.extra,
    )


def readings_for_frame(conn: Connection, frame_id: int) -> list[Reading]:
    rows = conn.execute(select(reading).where(reading.c.frame_id == frame_id)).mappings()
    return [_reading(r) for r in rows]


def frame_readings_digest(conn: Connection, frame_id: int) -> str:
    """The digest of the readings stored for a frame, to compare with its leaf's ``readings_sha256``."""
    return readings_digest(record_of(r) for r in readings_for_frame(conn, frame_id))


def readings(
    conn: Connection,
    *,
    station_id: int,
    granularity: str,
    start_ts: int,
    end_ts: int,
    parameters: Sequence[str] | None = None,
    limit: int = 100_000,
) -> list[Reading]:
    """Readings of one station and granularity with ``start_ts <= data_ts < end_ts``, by time."""
    query = (
        select(reading)
        .where(
            reading.c.station_id == station_id,
            reading.c.granularity == granularity,
            reading.c.data_ts >= start_ts,
            reading.c.data_ts < end_ts,
        )
        .order_by(reading.c.data_ts, reading.c.parameter)
        .limit(limit)
    )
    if parameters:
        query = query.where(reading.c.parameter.in_(list(parameters)))
    return [_reading(r) for r in conn.execute(query).mappings()]


def latest_readings(conn: Connection, station_id: int, granularity: str = "rtd") -> list[Reading]:
    """The readings of a station at its newest data time for one granularity."""
    top = conn.execute(
        select(func.max(reading.c.data_ts)).where(
            reading.c.station_id == station_id, reading.c.granularity == granularity
        )
    ).scalar()
    if top is None:
        return []
    rows = conn.execute(
        select(reading).where(
            reading.c.station_id == station_id, reading.c.granularity == granularity, reading.c.data_ts == top
        )
    ).mappings()
    return [_reading(r) for r in rows]
