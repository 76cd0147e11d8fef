"""Daily values: 19 vs 20 valid hours, local days, totals, stopped days, the station's own daily value."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from envtrace.rollup import run
from envtrace.standards import Reason
from envtrace.store import hourly

from .feeding import Feed, R, cst

D1 = cst(2026, 5, 11)
D2 = cst(2026, 5, 12)
LATER = D1 + 60 * 86400


def _ten_minute_hours(
    sid: int, feed: Feed, day: int, hours: range, values: dict[str, float], flag: str = "N"
) -> None:
    groups = [
        [R("min", p, day + 3600 * h + 600 * i, v, flag) for p, v in values.items()]
        for h in hours
        for i in range(6)
    ]
    feed.frames(sid, groups)


def _day(engine: Engine, sid: int, parameter: str, day: int) -> hourly.JudgedValue:
    with engine.connect() as conn:
        (v,) = hourly.values(conn, sid, parameter, granularity="day", start=day, end=day + 1)
    return v


def test_19_vs_20_valid_hours_and_totals(engine: Engine, feed: Feed) -> None:
    sid = feed.station("DAY-A", "flue_gas", params={"a00000": ("m3/s", None)})
    series = {"a21026": 10.0, "a00000": 10.0}
    _ten_minute_hours(sid, feed, D1, range(19), series)
    _ten_minute_hours(sid, feed, D2, range(20), series)
    feed.frame(sid, [R("day", "a21026", D2, 10.0, "N", cou=7.2)])
    run(engine, LATER)
    short, enough = _day(engine, sid, "a21026", D1), _day(engine, sid, "a21026", D2)
    assert (short.valid, short.reason, short.n_valid, short.n_total) == (
        False,
        Reason.INSUFFICIENT_HOURS,
        19,
        19,
    )
    assert (enough.valid, enough.n_valid, enough.value) == (True, 20, 10.0)
    # 10 mg/m³ x 10 m³/s x 3600 s = 0.36 kg per hour, summed over the valid hours
    assert enough.mass_kg == pytest.approx(7.2)
    assert enough.mass_t == pytest.approx(0.0072)
    assert _day(engine, sid, "a00000", D2).volume_m3 == pytest.approx(20 * 36000.0)
    assert (enough.station_value, enough.station_cou) == (10.0, 7.2)
    assert enough.period_ts == D2
    assert enough.period_end == D2 + 86400
    with engine.connect() as conn:  # not complete (4 hours without data): no comparison made
        assert hourly.disagreements(conn, station_id=sid) == []


def test_stopped_day(engine: Engine, feed: Feed) -> None:
    sid = feed.station("DAY-B", "flue_gas")
    _ten_minute_hours(sid, feed, D1, range(8), {"a21026": 5.0})
    _ten_minute_hours(sid, feed, D1, range(8, 24), {"a21026": 0.0}, flag="F")
    run(engine, LATER)
    day = _day(engine, sid, "a21026", D1)
    assert (day.valid, day.reason, day.n_stopped, day.n_valid) == (False, Reason.STOPPED, 16, 8)
    assert day.flag == "D"


def test_day_from_station_daily_value_only(engine: Engine, feed: Feed) -> None:
    sid = feed.station("DAY-C", "flue_gas")
    feed.frame(sid, [R("day", "a34013", D1, 3.2, "N")])
    run(engine, LATER)
    day = _day(engine, sid, "a34013", D1)
    assert (day.source, day.valid, day.value, day.station_value) == ("day", True, 3.2, 3.2)


def test_forged_daily_values_on_a_complete_day(engine: Engine, feed: Feed) -> None:
    sid = feed.station("DAY-D", "flue_gas", params={"a21026": ("mg/m3", 6.0)})
    _ten_minute_hours(sid, feed, D1, range(24), {"a21026": 100.0, "a19001": 9.0})
    feed.frame(sid, [R("day", "a21026", D1, 90.0, "N", zs_value=100.0)])
    run(engine, LATER)
    with engine.connect() as conn:
        found = {d.field: d for d in hourly.disagreements(conn, station_id=sid)}
    assert set(found) == {"avg", "zs_avg"}
    assert (found["avg"].granularity, found["avg"].station_value, found["avg"].platform_value) == (
        "day",
        90.0,
        100.0,
    )
    assert (found["zs_avg"].station_value, found["zs_avg"].platform_value) == (100.0, pytest.approx(125.0))
