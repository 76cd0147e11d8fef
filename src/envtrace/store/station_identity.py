"""Which data logger stands behind an MN: HJ 212-2025 CN 1001 identity bindings.

A 2025 logger reports its logger ID, CPU ID and two MAC addresses (CN 1001, ``i23005-Info`` ..
``i23008-Info``; ``shared/specs/hj212-2025-and-hj75.md`` §1.4) when it connects. The platform keeps
one ``station_binding`` row per identity seen behind a station: first seen, last seen, how many
reports, and whether it is the current one. The first identity of a station and every change are
sealed (``station_binding`` leaves) in the same transaction as the row; a change is also a finding
for the alarm intake (``unreported_changes`` / ``mark_reported``): a logger swapped behind an MN
may carry falsified data, or be a second device posing as the station.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from envtrace.store.ledger_log import append, read_head
from envtrace.store.metadata import metadata
from envtrace.store.types import Id

LEAF_KIND = "station_binding"
IDENTITY_FIELDS = ("logger_id", "cpu_id", "mac1", "mac2")

station_binding = Table(
    "station_binding",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", ForeignKey("station.id"), nullable=False),
    Column("mn", String(64), nullable=False, comment="the MN the logger reported under"),
    Column("identity", String(64), nullable=False, comment="SHA-256 of the four identity values"),
    Column("logger_id", Text, comment="i23005-Info"),
    Column("cpu_id", Text, comment="i23006-Info"),
    Column("mac1", Text, comment="i23007-Info"),
    Column("mac2", Text, comment="i23008-Info"),
    Column("event", String(8), nullable=False, comment="bound (first) | changed"),
    Column("previous", String(64), comment="identity it replaced"),
    Column("first_seen_us", Id, nullable=False),
    Column("last_seen_us", Id, nullable=False),
    Column("reports", Integer, nullable=False, server_default="1"),
    Column("current", Boolean, nullable=False, server_default="1"),
    Column("peer", String(64), comment="address the first report came from"),
    Column("reported_ts", Id, comment="changes: when the alarm intake raised it"),
    Column("leaf_index", Id, unique=True),
)
Index("ix_station_binding_station", station_binding.c.station_id, station_binding.c.current)


@dataclass(frozen=True, slots=True)
class Binding:
    id: int
    station_id: int
    mn: str
    identity: str
    logger_id: str | None
    cpu_id: str | None
    mac1: str | None
    mac2: str | None
    event: str
    previous: str | None
    first_seen_us: int
    last_seen_us: int
    reports: int
    current: bool
    peer: str | None
    reported_ts: int | None


def _binding(row: RowMapping) -> Binding:
    return Binding(**{name: row[name] for name in Binding.__dataclass_fields__})


def identity_of(values: Mapping[str, str | None]) -> str:
    """The SHA-256 (hex) identifying a logger: its four values, unit-separated."""
    text = "\x1f".join(values.get(name) or "" for name in IDENTITY_FIELDS)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def binding_payload(row: Mapping[str, object]) -> dict[str, object]:
    """The ``station_binding`` leaf payload a row stands for (``envtrace verify`` checks it)."""
    return {
        "station_id": row["station_id"],
        "mn": row["mn"],
        "identity": row["identity"],
        "logger_id": row["logger_id"],
        "cpu_id": row["cpu_id"],
        "mac1": row["mac1"],
        "mac2": row["mac2"],
        "event": row["event"],
        "previous": row["previous"],
        "first_seen_us": row["first_seen_us"],
        "peer": row["peer"],
    }


def current_binding(conn: Connection, station_id: int) -> Binding | None:
    b = station_binding.c
    row = (
        conn.execute(
            select(station_binding)
            .where(b.station_id == station_id, b.current.is_(True))
            .order_by(b.id.desc())
            .limit(1)
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else _binding(row)


def current_bindings(conn: Connection) -> dict[int, Binding]:
    b = station_binding.c
    rows = conn.execute(select(station_binding).where(b.current.is_(True)).order_by(b.id)).mappings()
    return {int(r["station_id"]): _binding(r) for r in rows}


def bindings(conn: Connection, *, station_id: int | None = None) -> list[Binding]:
    b = station_binding.c
    q = select(station_binding).order_by(b.id)
    if station_id is not None:
        q = q.where(b.station_id == station_id)
    return [_binding(r) for r in conn.execute(q).mappings()]


def record_identity(
    conn: Connection,
    *,
    station_id: int,
    mn: str,
    values: Mapping[str, str | None],
    seen_us: int,
    peer: str | None,
) -> Binding:
    """Record a CN 1001 report: the same identity moves ``last_seen_us``; a first or different one
    becomes the current binding, sealed (the old one stops being current). Call in a write
    transaction; returns the current binding."""
    identity = identity_of(values)
    read_head(conn, for_update=True)  # lock the ledger head first, as the writer does
    now = current_binding(conn, station_id)
    b = station_binding.c
    if now is not None and now.identity == identity:
        conn.execute(
            update(station_binding)
            .where(b.id == now.id)
            .values(last_seen_us=max(now.last_seen_us, seen_us), reports=now.reports + 1)
        )
        found = current_binding(conn, station_id)
        assert found is not None
        return found
    if now is not None:
        conn.execute(update(station_binding).where(b.id == now.id).values(current=False))
    row: dict[str, object] = {
        "station_id": station_id,
        "mn": mn,
        "identity": identity,
        **{name: (values.get(name) or None) for name in IDENTITY_FIELDS},
        "event": "bound" if now is None else "changed",
        "previous": None if now is None else now.identity,
        "first_seen_us": seen_us,
        "peer": peer,
    }
    leaf_index = append(conn, LEAF_KIND, binding_payload(row))
    conn.execute(
        insert(station_binding).values(
            **row, last_seen_us=seen_us, reports=1, current=True, reported_ts=None, leaf_index=leaf_index
        )
    )
    found = current_binding(conn, station_id)
    assert found is not None
    return found


def unreported_changes(conn: Connection) -> list[tuple[Binding, Binding | None]]:
    """Changes of logger not yet raised: (the new binding, the one it replaced)."""
    b = station_binding.c
    rows = [
        _binding(r)
        for r in conn.execute(
            select(station_binding).where(b.event == "changed", b.reported_ts.is_(None)).order_by(b.id)
        ).mappings()
    ]
    out: list[tuple[Binding, Binding | None]] = []
    for new in rows:
        old = (
            conn.execute(
                select(station_binding)
                .where(b.station_id == new.station_id, b.identity == new.previous, b.id < new.id)
                .order_by(b.id.desc())
                .limit(1)
            )
            .mappings()
            .one_or_none()
        )
        out.append((new, None if old is None else _binding(old)))
    return out


def mark_reported(conn: Connection, binding_id: int, *, now: int) -> None:
    conn.execute(update(station_binding).where(station_binding.c.id == binding_id).values(reported_ts=now))
