"""Raw frames as received and quarantine: the gateway's batch inserts and the read side.

The gateway writes frames in batches through ``engine.bulk_insert`` (``insert_frames``,
``insert_quarantine``: ``executemany`` on SQLite, one ``unnest`` statement on PostgreSQL); column
orders are the ``*_COLUMNS`` tuples. Frame ids are allocated by
``allocate_frame_ids`` before the insert, so the ledger leaf of a frame can name its id (the
sequence on PostgreSQL; on SQLite the write lock taken at BEGIN IMMEDIATE makes ``max(id) + 1``
safe).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from envtrace.store.engine import bulk_insert, driver_execute
from envtrace.store.frames import quarantine, raw_frame

RAW_FRAME_COLUMNS = (
    "id",
    "received_us",
    "peer",
    "station_id",
    "mn",
    "st",
    "cn",
    "qn",
    "flag",
    "pnum",
    "pno",
    "data_ts",
    "edition",
    "status",
    "rf",
    "wire",
    "deviations",
    "leaf_index",
    "raw",
)
QUARANTINE_COLUMNS = ("frame_id", "received_us", "peer", "mn", "kind", "reason", "raw")
QUARANTINE_KINDS = ("framing", "length", "crc", "syntax", "crypto", "auth", "semantic")


def allocate_frame_ids(conn: Connection, count: int) -> list[int]:
    """``count`` new raw-frame ids, increasing. Call inside the write transaction."""
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = driver_execute(
            conn,
            "SELECT nextval(pg_get_serial_sequence('raw_frame', 'id')) FROM generate_series(1, %s)",
            (count,),
        )
        return sorted(int(r[0]) for r in rows)
    ((top,),) = driver_execute(conn, "SELECT max(id) FROM raw_frame")
    start = int(top or 0) + 1
    return list(range(start, start + count))


def insert_frames(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert raw frames; each row follows ``RAW_FRAME_COLUMNS``."""
    bulk_insert(conn, raw_frame, RAW_FRAME_COLUMNS, rows)


def insert_quarantine(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert quarantine records; each row follows ``QUARANTINE_COLUMNS``."""
    bulk_insert(conn, quarantine, QUARANTINE_COLUMNS, rows)


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One received frame (or run of unframed bytes) exactly as stored."""

    id: int
    received_us: int
    peer: str
    station_id: int | None
    mn: str | None
    st: str | None
    cn: str | None
    qn: str | None
    flag: int | None
    pnum: int | None
    pno: int | None
    data_ts: int | None
    edition: str | None
    status: str
    rf: bool
    wire: str
    deviations: str | None
    leaf_index: int | None
    raw: bytes


def _frame(row: RowMapping) -> RawFrame:
    return RawFrame(
        id=int(row["id"]),
        received_us=int(row["received_us"]),
        peer=row["peer"],
        station_id=row["station_id"],
        mn=row["mn"],
        st=row["st"],
        cn=row["cn"],
        qn=row["qn"],
        flag=row["flag"],
        pnum=row["pnum"],
        pno=row["pno"],
        data_ts=row["data_ts"],
        edition=row["edition"],
        status=row["status"],
        rf=bool(row["rf"]),
        wire=row["wire"],
        deviations=row["deviations"],
        leaf_index=row["leaf_index"],
        raw=bytes(row["raw"]),
    )


def get_frame(conn: Connection, frame_id: int) -> RawFrame | None:
    row = conn.execute(select(raw_frame).where(raw_frame.c.id == frame_id)).mappings().one_or_none()
    return None if row is None else _frame(row)


def frame_by_leaf(conn: Connection, leaf_index: int) -> RawFrame | None:
    row = conn.execute(select(raw_frame).where(raw_frame.c.leaf_index == leaf_index)).mappings().one_or_none()
    return None if row is None else _frame(row)


def frames(
    conn: Connection,
    *,
    station_id: int | None = None,
    mn: str | None = None,
    status: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    after_id: int = 0,
    limit: int = 1000,
) -> list[RawFrame]:
    """Raw frames in id (= arrival) order, filtered; page with ``after_id``."""
    query = select(raw_frame).where(raw_frame.c.id > after_id).order_by(raw_frame.c.id).limit(limit)
    if station_id is not None:
        query = query.where(raw_frame.c.station_id == station_id)
    if mn is not None:
        query = query.where(raw_frame.c.mn == mn)
    if status is not None:
        query = query.where(raw_frame.c.status == status)
    if since_us is not None:
        query = query.where(raw_frame.c.received_us >= since_us)
    if until_us is not None:
        query = query.where(raw_frame.c.received_us < until_us)
    return [_frame(r) for r in conn.execute(query).mappings()]


def count_frames(conn: Connection, *, status: str | None = None) -> int:
    query = select(func.count()).select_from(raw_frame)
    if status is not None:
        query = query.where(raw_frame.c.status == status)
    return int(conn.execute(query).scalar_one())


@dataclass(frozen=True, slots=True)
class Quarantined:
    id: int
    frame_id: int
    received_us: int
    peer: str
    mn: str | None
    kind: str
    reason: str
    raw: bytes


def quarantined(
    conn: Connection, *, kind: str | None = None, mn: str | None = None, after_id: int = 0, limit: int = 1000
) -> list[Quarantined]:
    """Quarantine records in id order, filtered by kind and MN."""
    query = select(quarantine).where(quarantine.c.id > after_id).order_by(quarantine.c.id).limit(limit)
    if kind is not None:
        query = query.where(quarantine.c.kind == kind)
    if mn is not None:
        query = query.where(quarantine.c.mn == mn)
    return [
        Quarantined(
            int(r["id"]),
            int(r["frame_id"]),
            int(r["received_us"]),
            r["peer"],
            r["mn"],
            r["kind"],
            r["reason"],
            bytes(r["raw"]),
        )
        for r in conn.execute(query).mappings()
    ]


def seen_keys(
    conn: Connection, station_id: int, cn: str, data_ts: Sequence[int]
) -> set[tuple[int, int | None]]:
    """(data_ts, pno) of the frames already accepted (or held as sub-packets) for these DataTimes:
    the gateway's duplicate test for data older than its in-memory horizon."""
    if not data_ts:
        return set()
    rows = conn.execute(
        select(raw_frame.c.data_ts, raw_frame.c.pno).where(
            raw_frame.c.station_id == station_id,
            raw_frame.c.cn == cn,
            raw_frame.c.data_ts.in_(list(data_ts)),
            raw_frame.c.status.in_(("accepted", "partial")),
        )
    )
    return {(int(r[0]), r[1]) for r in rows}


def latest_data_ts(conn: Connection, station_id: int, cn: str) -> int | None:
    """Newest DataTime of an accepted (or partial) frame of this station and command.

    Walks the (station_id, cn, data_ts) index backwards and stops at the first frame with such a
    status (usually the newest one), instead of aggregating over the station's whole history."""
    value = conn.execute(
        select(raw_frame.c.data_ts)
        .where(
            raw_frame.c.station_id == station_id,
            raw_frame.c.cn == cn,
            raw_frame.c.data_ts.is_not(None),
            raw_frame.c.status.in_(("accepted", "partial")),
        )
        .order_by(raw_frame.c.data_ts.desc())
        .limit(1)
    ).scalar()
    return None if value is None else int(value)
