"""Raw frames, quarantine, readings (first arrival wins, digest) and station state."""

from __future__ import annotations

from sqlalchemy import Engine

from envtrace.store import (
    frame_readings_digest,
    get_frame,
    quarantined,
    readings,
    readings_digest,
    write_transaction,
)
from envtrace.store.raw import allocate_frame_ids, insert_frames, insert_quarantine, latest_data_ts, seen_keys
from envtrace.store.series import insert_readings, reading_record
from envtrace.store.state import StateUpdate, apply_state, mark_all_offline, station_states
from envtrace.store.stations import register_station


def _frame_row(fid: int, sid: int | None, status: str, data_ts: int | None, raw: bytes) -> tuple[object, ...]:
    return (
        fid,
        1_000_000,
        "127.0.0.1:1",
        sid,
        "MN1",
        "31",
        "2011",
        "q",
        5,
        None,
        None,
        data_ts,
        "2017",
        status,
        False,
        "plain",
        None,
        fid - 1,
        raw,
    )


def test_frames_readings_quarantine_state(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        sid = register_station(conn, mn="MN1", pw="123456", kind="flue_gas")
        ids = allocate_frame_ids(conn, 3)
        assert ids == sorted(ids)
        assert len(set(ids)) == 3
        insert_frames(
            conn,
            [
                _frame_row(ids[0], sid, "accepted", 1000, b"##0001a"),
                _frame_row(ids[1], sid, "duplicate", 1000, b"##0001b"),
                _frame_row(ids[2], None, "quarantined", None, b"\xff\x00junk"),
            ],
        )
        insert_quarantine(
            conn, [(ids[2], 1_000_000, "127.0.0.1:1", None, "framing", "no ## header", b"\xff\x00junk")]
        )
        row = (
            sid,
            "rtd",
            "a21026",
            1000,
            12.5,
            None,
            None,
            None,
            30.25,
            None,
            None,
            "N",
            None,
            None,
            None,
            ids[0],
        )
        insert_readings(conn, [row])
        insert_readings(conn, [(*row[:4], 99.0, *row[5:])])  # second arrival: ignored
        apply_state(conn, [StateUpdate(sid, True, "127.0.0.1:1", 5, 10, 1000, 2, 0, None)])
        apply_state(conn, [StateUpdate(sid, True, None, None, 20, 900, 1, 1, "modbus")])
    with engine.connect() as conn:
        assert allocate_frame_ids(conn, 1)[0] > ids[2]
        frame = get_frame(conn, ids[2])
        assert frame is not None
        assert frame.raw == b"\xff\x00junk"
        assert frame.status == "quarantined"
        assert [q.reason for q in quarantined(conn, kind="framing")] == ["no ## header"]
        got = readings(conn, station_id=sid, granularity="rtd", start_ts=0, end_ts=2000)
        assert [(r.parameter, r.value, r.zs_value) for r in got] == [("a21026", 12.5, 30.25)]
        want = readings_digest(
            [
                reading_record(
                    "a21026", "rtd", 1000, [12.5, None, None, None, 30.25, None, None], "N", None, None, None
                )
            ]
        )
        assert frame_readings_digest(conn, ids[0]) == want
        assert seen_keys(conn, sid, "2011", [1000, 2000]) == {(1000, None)}
        assert latest_data_ts(conn, sid, "2011") == 1000
        (state,) = station_states(conn)
        assert (state.frames, state.quarantined, state.last_seen_us, state.last_data_ts) == (3, 1, 20, 1000)
        assert state.peer == "127.0.0.1:1"
        assert state.crc_variant == "modbus"
    with write_transaction(engine) as conn:
        assert mark_all_offline(conn) == 1
