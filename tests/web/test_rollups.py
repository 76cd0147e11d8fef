"""Raw-statistics roll-ups (envtrace.store.rollups) on SQLite and PostgreSQL: incremental,
idempotent, late data recomputes its hour and CST day."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, insert, select

from envtrace.store import migrate, rollups
from envtrace.store.engine import connect, write_transaction
from envtrace.store.readings import reading
from envtrace.store.registry import station
from envtrace.store.rollups import cst_day_start, reading_day_stats, reading_hour_stats

T0 = 1_704_038_400  # 2024-01-01 00:00 CST = 2023-12-31 16:00 UTC


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = connect(db_url)
    migrate.upgrade(eng)
    with write_transaction(eng) as conn:
        conn.execute(insert(station).values(id=1, mn="M1", kind="ambient", pw_hash="x", created_ts=T0))
    yield eng
    eng.dispose()


def _add(engine: Engine, rows: list[tuple[int, float, str]], frame_id: int) -> None:
    with write_transaction(engine) as conn:
        conn.execute(
            insert(reading),
            [
                {
                    "station_id": 1,
                    "granularity": "min",
                    "parameter": "a34004",
                    "data_ts": ts,
                    "value": v,
                    "flag": f,
                    "frame_id": frame_id,
                }
                for ts, v, f in rows
            ],
        )


def _hours(engine: Engine) -> dict[int, tuple[int, int, float, float, float]]:
    h = reading_hour_stats.c
    with engine.connect() as conn:
        rows = conn.execute(select(h.hour_ts, h.n, h.n_normal, h.v_sum, h.v_min, h.v_max)).all()
    return {int(r[0]): (int(r[1]), int(r[2]), r[3], r[4], r[5]) for r in rows}


def test_refresh_is_incremental_idempotent_and_takes_late_data(engine: Engine) -> None:
    _add(engine, [(T0 + 60 * i, float(i), "N" if i % 10 else "D") for i in range(120)], frame_id=1)
    with write_transaction(engine) as conn:
        first = rollups.refresh(conn)
    assert first.hours == 2
    assert _hours(engine) == {
        T0: (60, 54, float(sum(range(60))), 0.0, 59.0),
        T0 + 3600: (60, 54, float(sum(range(60, 120))), 60.0, 119.0),
    }
    with write_transaction(engine) as conn:
        assert rollups.refresh(conn).hours == 0  # nothing new
    # a late minute for the first hour, and one for the previous CST day
    _add(engine, [(T0 + 30, 1000.0, "N"), (T0 - 60, 5.0, "N")], frame_id=2)
    with write_transaction(engine) as conn:
        rollups.refresh(conn)
    hours = _hours(engine)
    assert hours[T0][0] == 61
    assert hours[T0][4] == 1000.0
    assert hours[T0 - 3600] == (1, 1, 5.0, 5.0, 5.0)
    d = reading_day_stats.c
    with engine.connect() as conn:
        days = dict(conn.execute(select(d.day_ts, d.n)).all())
    assert days == {cst_day_start(T0): 121, cst_day_start(T0 - 60): 1}
    assert cst_day_start(T0 + 86399) == T0
