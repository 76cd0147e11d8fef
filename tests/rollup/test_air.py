"""Ambient air: hourly and daily AQI by the edition in force (HJ 633-2012 until 2026-03-01), city AQI."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Engine

from envtrace.rollup import run
from envtrace.standards import Reason
from envtrace.store import hourly

from .feeding import Feed, R, cst

START = cst(2026, 2, 28)
SWITCH = cst(2026, 3, 1)
LATER = SWITCH + 30 * 86400
AIR = {"a34004": 70.0, "a34002": 100.0, "a21026": 10.0, "a21004": 30.0, "a21005": 0.5, "a05024": 50.0}


def _hours(sid: int, feed: Feed, start: int, count: int, values: dict[str, float]) -> None:
    feed.frames(sid, [[R("hour", p, start + 3600 * h, v) for p, v in values.items()] for h in range(count)])


def _aqi_at(engine: Engine, sid: int, ts: int, granularity: str = "hour") -> hourly.AqiValue:
    with engine.connect() as conn:
        (a,) = hourly.station_aqi(conn, sid, granularity=granularity, start=ts, end=ts + 1)
    return a


def test_hourly_and_daily_aqi_across_the_edition_switch(engine: Engine, feed: Feed) -> None:
    sid = feed.station("AIR-A", "ambient", city="Suzhou")
    _hours(sid, feed, START, 48, AIR)
    run(engine, LATER)
    before = _aqi_at(engine, sid, SWITCH - 3600)
    assert (before.edition, before.report) == ("HJ 633-2012", "realtime")
    # 2012 realtime report: PM2.5 24-h moving mean 70 µg/m³ on 35->50, 75->100: 93.75, rounded up
    assert (before.aqi, before.primary, before.level) == (94, ("PM2.5",), 2)
    assert before.iaqi["PM10_24h"] == 75
    assert before.inputs["PM2.5_24h"] == 70.0
    after = _aqi_at(engine, sid, SWITCH)
    assert after.edition == "HJ 633-2026"
    # 2026: 1-h PM2.5 on the daily breakpoints 60->100, 115->150: 109.09, rounded up
    assert (after.aqi, after.primary, after.level) == (110, ("PM2.5",), 3)
    early = _aqi_at(engine, sid, START + 5 * 3600)  # 6 hours: no 24-h PM mean yet
    assert early.aqi is None
    assert not early.complete
    day1, day2 = _aqi_at(engine, sid, START, "day"), _aqi_at(engine, sid, SWITCH, "day")
    assert (day1.edition, day1.report, day1.aqi, day1.primary) == ("HJ 633-2012", "daily", 94, ("PM2.5",))
    assert "O3_1h_max" in day1.iaqi  # seven items in 2012
    assert (day2.edition, day2.aqi, day2.primary) == ("HJ 633-2026", 110, ("PM2.5",))
    assert "O3_1h_max" not in day2.iaqi  # six in 2026
    with engine.connect() as conn:
        current = hourly.current_station_aqi(conn, sid)
        (o3_day,) = hourly.values(conn, sid, "a05024", granularity="day", start=SWITCH, end=SWITCH + 1)
    assert current is not None
    assert (current.period_ts, current.aqi) == (SWITCH + 23 * 3600, 110)
    assert (o3_day.valid, o3_day.value, o3_day.max_1h, o3_day.max_8h) == (True, 50.0, 50.0, 50.0)


def test_city_aqi_is_the_aqi_of_the_mean_concentrations(engine: Engine, feed: Feed) -> None:
    a = feed.station("AIR-C1", "ambient", city="Wuxi")
    b = feed.station("AIR-C2", "ambient", city="Wuxi")
    noon = SWITCH + 12 * 3600
    _hours(a, feed, noon - 3600, 2, AIR)
    _hours(b, feed, noon, 1, {**AIR, "a34004": 90.0})
    run(engine, LATER)
    with engine.connect() as conn:
        rows = hourly.city_aqi(conn, "Wuxi", start=noon - 3600, end=noon + 3600)
        current = hourly.current_city_aqi(conn, "Wuxi")
        everywhere = {c.city: c for c in hourly.current_cities_aqi(conn)}
    assert [(r.period_ts, r.stations, r.aqi) for r in rows] == [(noon - 3600, (a,), 110), (noon, (a, b), 119)]
    assert rows[1].inputs["PM2.5_1h"] == 80.0  # (70 + 90) / 2, then the IAQI: 118.18 rounded up
    assert current is not None
    assert current.period_ts == noon
    assert everywhere["Wuxi"].aqi == 119


def test_ambient_hour_from_minutes_and_units(engine: Engine, feed: Feed) -> None:
    sid = feed.station("AIR-D", "ambient", params={"a34004": ("ng/m3", None)})
    h = SWITCH + 3600
    feed.minutes(sid, "a34004", h, [65000.0] * 60, ["N"] * 44 + ["F"] * 16)
    feed.minutes(sid, "a34004", h + 3600, [65000.0] * 60, ["N"] * 60)
    run(engine, LATER)
    with engine.connect() as conn:
        bad, good = hourly.values(conn, sid, "a34004", start=h, end=h + 7200)
    assert (bad.valid, bad.reason) == (False, Reason.INSTRUMENT_STOPPED)  # F at an ambient site counts
    assert (good.valid, good.value, good.unit) == (True, 65000.0, "ng/m3")
    a = _aqi_at(engine, sid, h + 3600)
    assert a.inputs["PM2.5_1h"] == 65.0
    assert np.isclose(a.aqi or 0, 105)  # 2026: 100 + (65 - 60) x 50 / 55 = 104.5, rounded up
