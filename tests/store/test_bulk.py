"""``bulk_insert`` (multi-row VALUES on SQLite, one ``unnest`` statement on PostgreSQL), readings by
shape, and the reading key's column order."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, exc, text

from envtrace.store import register_station, write_transaction
from envtrace.store.engine import SQLITE_ROWS_PER_INSERT, bulk_insert
from envtrace.store.frames import quarantine
from envtrace.store.raw import allocate_frame_ids, insert_frames
from envtrace.store.readings import reading
from envtrace.store.series import (
    OPTIONAL_COLUMNS,
    insert_reading_shapes,
    insert_readings,
    readings,
    shape_columns,
)


def _frames(conn: object, sid: int, count: int) -> list[int]:
    ids = allocate_frame_ids(conn, count)  # type: ignore[arg-type]
    insert_frames(
        conn,  # type: ignore[arg-type]
        [
            (fid, fid, "p", sid, "MN", "31", "2011", None, None, None, None, 100 + fid, "2017", "accepted",
             False, "plain", None, None, b"raw %d" % fid)
            for fid in ids
        ],
    )  # fmt: skip
    return ids


@pytest.mark.parametrize("count", [1, SQLITE_ROWS_PER_INSERT, 3 * SQLITE_ROWS_PER_INSERT + 5])
def test_rows_go_in_whole_and_in_order(engine: Engine, count: int) -> None:
    with write_transaction(engine) as conn:
        sid = register_station(conn, mn="M1", pw_hash="x")
        ids = _frames(conn, sid, count)
        bulk_insert(
            conn,
            quarantine,
            ("frame_id", "received_us", "peer", "mn", "kind", "reason", "raw"),
            [(fid, i, "peer", None if i % 3 else "M1", "syntax", f"reason {i}", bytes([i % 256]) * i)
             for i, fid in enumerate(ids)],
        )  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT frame_id, received_us, mn, reason, raw FROM quarantine ORDER BY id")
        ).all()
    assert [r[0] for r in rows] == ids
    assert [(r[1], r[2], r[3], bytes(r[4])) for r in rows] == [
        (i, None if i % 3 else "M1", f"reason {i}", bytes([i % 256]) * i) for i in range(count)
    ]


def test_a_value_too_long_is_refused_or_kept_whole_never_cut(engine: Engine) -> None:
    row = (1, "rtd", "a21026", 100, 1.0, None, None, None, None, None, None, "TOOLONG", None, None, None)
    with write_transaction(engine) as conn:
        sid = register_station(conn, mn="M1", pw_hash="x")
        (fid,) = _frames(conn, sid, 1)
    if engine.dialect.name == "postgresql":  # VARCHAR(4): the insert fails, nothing is truncated
        with pytest.raises(exc.DBAPIError), write_transaction(engine) as conn:
            insert_readings(conn, [(sid, *row[1:], fid)])
        expected: list[tuple[object, ...]] = []
    else:  # SQLite does not enforce VARCHAR lengths: the value is stored whole
        with write_transaction(engine) as conn:
            insert_readings(conn, [(sid, *row[1:], fid)])
        expected = [("TOOLONG",)]
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(text("SELECT flag FROM reading"))] == expected


def test_shapes_store_what_full_rows_store(engine: Engine) -> None:
    full = [
        (1.5, None, None, None, None, None, None, "N", None, None, None),
        (None, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, "Dd", "E1", 123, '{"code":"011"}'),
        (None,) * 11,
    ]
    with write_transaction(engine) as conn:
        sid = register_station(conn, mn="M1", pw_hash="x")
        ids = _frames(conn, sid, 2)
        insert_readings(conn, [(sid, "rtd", f"p{i}", 100, *v, ids[0]) for i, v in enumerate(full)])
        shapes: dict[int, list[tuple[object, ...]]] = {}
        for i, v in enumerate(full):
            mask = sum(1 << k for k, x in enumerate(v) if x is not None)
            shapes.setdefault(mask, []).append(
                (sid, "min", f"p{i}", 100, *(x for x in v if x is not None), ids[1])
            )
        insert_reading_shapes(conn, shapes)
        insert_reading_shapes(conn, shapes)  # the same keys again: the first arrival stays
    with engine.connect() as conn:
        rtd = readings(conn, station_id=sid, granularity="rtd", start_ts=0, end_ts=1000)
        mins = readings(conn, station_id=sid, granularity="min", start_ts=0, end_ts=1000)
    assert [r.as_row()[4:15] for r in rtd] == [r.as_row()[4:15] for r in mins] == full
    assert shape_columns(0) == ("station_id", "granularity", "parameter", "data_ts", "frame_id")
    assert shape_columns((1 << len(OPTIONAL_COLUMNS)) - 1)[4:-1] == OPTIONAL_COLUMNS


def test_a_frames_readings_are_adjacent_in_the_key(engine: Engine) -> None:
    assert [c.name for c in reading.primary_key.columns] == [
        "station_id",
        "granularity",
        "data_ts",
        "parameter",
    ]
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            info = conn.exec_driver_sql("PRAGMA index_info('sqlite_autoindex_reading_1')").all()
            assert [r[2] for r in sorted(info)] == ["station_id", "granularity", "data_ts", "parameter"]
        else:
            definition = conn.exec_driver_sql("SELECT pg_get_indexdef('pk_reading'::regclass)").scalar()
            assert "(station_id, granularity, data_ts, parameter)" in str(definition)
