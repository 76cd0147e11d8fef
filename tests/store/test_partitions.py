"""Monthly partitions of readings on PostgreSQL; strays in the default partition move in."""

from __future__ import annotations

import calendar

import pytest
from sqlalchemy import text

from envtrace.store import connect, migrate, partitions, write_transaction
from envtrace.store.stations import register_station


@pytest.mark.postgres
def test_ensure_creates_months_and_moves_strays(pg_url: str) -> None:
    engine = connect(pg_url)
    migrate.upgrade(engine)
    now = calendar.timegm((2026, 5, 15, 0, 0, 0))
    stray = calendar.timegm((2026, 7, 2, 0, 0, 0))
    with write_transaction(engine) as conn:
        sid = register_station(conn, mn="MN1", pw="123456")
        conn.execute(
            text(
                "INSERT INTO reading (station_id, granularity, parameter, data_ts, value, frame_id) "
                "VALUES (:s, 'rtd', 'a21026', :t, 1.0, 1)"
            ),
            {"s": sid, "t": stray},
        )
    created = partitions.ensure(engine, now_ts=now, behind=1, ahead=2)
    assert created == ["reading_p202604", "reading_p202605", "reading_p202606", "reading_p202607"]
    assert partitions.ensure(engine, now_ts=now, behind=1, ahead=2) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM reading_default")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM reading_p202607")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM reading")).scalar() == 1
    engine.dispose()


def test_ensure_does_nothing_on_sqlite(sqlite_url: str) -> None:
    engine = connect(sqlite_url)
    migrate.upgrade(engine)
    assert partitions.ensure(engine) == []
