"""Per-station connection state (``station_state``): online, last seen, counters; batched upserts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from envtrace.store.engine import bulk_insert
from envtrace.store.frames import station_state

STATE_COLUMNS = (
    "station_id",
    "online",
    "peer",
    "connected_us",
    "last_seen_us",
    "last_data_ts",
    "frames",
    "quarantined",
    "crc_variant",
)


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """What one batch changes for one station; counters are increments, times only move forward."""

    station_id: int
    online: bool
    peer: str | None
    connected_us: int | None
    last_seen_us: int | None
    last_data_ts: int | None
    frames: int
    quarantined: int
    crc_variant: str | None


def apply_state(conn: Connection, updates: list[StateUpdate]) -> None:
    """Upsert one row per station: counters add up, last-seen and last-data only grow."""
    if not updates:
        return
    greatest = "max" if conn.dialect.name == "sqlite" else "GREATEST"
    suffix = (
        "ON CONFLICT (station_id) DO UPDATE SET online = excluded.online, "
        "peer = coalesce(excluded.peer, station_state.peer), "
        "connected_us = coalesce(excluded.connected_us, station_state.connected_us), "
        f"last_seen_us = {greatest}(coalesce(excluded.last_seen_us, 0), "
        "coalesce(station_state.last_seen_us, 0)), "
        "last_data_ts = CASE WHEN excluded.last_data_ts IS NULL THEN station_state.last_data_ts "
        "WHEN station_state.last_data_ts IS NULL THEN excluded.last_data_ts "
        f"ELSE {greatest}(excluded.last_data_ts, station_state.last_data_ts) END, "
        "frames = station_state.frames + excluded.frames, "
        "quarantined = station_state.quarantined + excluded.quarantined, "
        "crc_variant = coalesce(excluded.crc_variant, station_state.crc_variant)"
    )
    if len({u.station_id for u in updates}) != len(updates):
        # one statement may not update a row twice (PostgreSQL): apply one update per station at a time
        for u in updates:
            apply_state(conn, [u])
        return
    bulk_insert(
        conn,
        station_state,
        STATE_COLUMNS,
        [
            (
                u.station_id,
                u.online,
                u.peer,
                u.connected_us,
                u.last_seen_us,
                u.last_data_ts,
                u.frames,
                u.quarantined,
                u.crc_variant,
            )
            for u in updates
        ],
        suffix=suffix,
    )


def mark_all_offline(conn: Connection) -> int:
    """At gateway start: no connection survived the previous process. Returns rows changed."""
    result = conn.execute(update(station_state).where(station_state.c.online.is_(True)).values(online=False))
    return int(result.rowcount or 0)


@dataclass(frozen=True, slots=True)
class StationState:
    station_id: int
    online: bool
    peer: str | None
    connected_us: int | None
    last_seen_us: int | None
    last_data_ts: int | None
    frames: int
    quarantined: int
    crc_variant: str | None


def station_states(conn: Connection) -> list[StationState]:
    rows = conn.execute(select(station_state).order_by(station_state.c.station_id)).mappings()
    return [
        StationState(
            int(r["station_id"]),
            bool(r["online"]),
            r["peer"],
            r["connected_us"],
            r["last_seen_us"],
            r["last_data_ts"],
            int(r["frames"]),
            int(r["quarantined"]),
            r["crc_variant"],
        )
        for r in rows
    ]
