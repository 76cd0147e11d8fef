"""Corrected values and emissions recomputed from the primary data; disagreements with the station."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from envtrace.rollup import run
from envtrace.store import hourly

from .feeding import Feed, R, cst

H = cst(2026, 6, 1, 10)
LATER = H + 30 * 86400
PARAMS = {
    "a21026": ("mg/m3", 6.0),
    "a19001": ("%", None),
    "a00000": ("m3/s", None),
    "a01012": ("degC", None),
    "a01013": ("kPa", None),
    "a01014": ("%", None),
}
MINUTE = {"a21026": 100.0, "a19001": 9.0, "a00000": 50.0, "a01012": 140.0, "a01013": 101.325, "a01014": 8.0}
QSN = 180000.0 * 273 / (273 + 140.0) * 101325 / 101325 * (1 - 0.08)  # HJ 212-2017 appendix D


def _hour(engine: Engine, sid: int, parameter: str, hour_ts: int) -> hourly.JudgedValue:
    with engine.connect() as conn:
        (v,) = hourly.values(conn, sid, parameter, start=hour_ts, end=hour_ts + 1)
    return v


def _station_hour(sid: int, feed: Feed, hour_ts: int, *, avg: float, zs: float, cou: float) -> None:
    feed.frame(
        sid,
        [
            R("hour", "a21026", hour_ts, avg, "N", zs_value=zs, cou=cou),
            R("hour", "a19001", hour_ts, 9.0, "N"),
            R("hour", "a00000", hour_ts, 50.0, "N", cou=round(QSN)),
        ],
    )


def test_corrected_value_and_emission_recomputed(engine: Engine, feed: Feed) -> None:
    sid = feed.station("ZS-A", "flue_gas", params=PARAMS)
    feed.minutes_many(sid, H, MINUTE)
    run(engine, LATER)
    so2 = _hour(engine, sid, "a21026", H)
    assert so2.zs_value == pytest.approx(125.0)  # 100 x (21 - 6) / (21 - 9)
    assert (so2.o2_ref, so2.o2) == (6.0, 9.0)
    assert json.loads(so2.detail)["o2_ref_source"] == "station_parameter"
    assert so2.mass_kg == pytest.approx(100.0 * QSN * 1e-6)
    flow = _hour(engine, sid, "a00000", H)
    assert flow.volume_m3 == pytest.approx(QSN)
    detail = json.loads(flow.detail)
    assert detail["flow_basis"] == "standard_dry"
    assert detail["volume_alt"] == pytest.approx(180000.0)


def test_forged_zsavg_is_recorded_beside_the_station_value(engine: Engine, feed: Feed) -> None:
    sid = feed.station("ZS-B", "flue_gas", params=PARAMS)
    for k in range(3):
        feed.minutes_many(sid, H + 3600 * k, MINUTE)
    kg = round(100.0 * QSN * 1e-6, 2)
    _station_hour(sid, feed, H, avg=100.0, zs=100.0, cou=kg)  # the correction left out: forged
    _station_hour(sid, feed, H + 3600, avg=100.0, zs=125.0, cou=kg)  # honest
    _station_hour(sid, feed, H + 7200, avg=80.0, zs=100.0, cou=kg)  # measured value lowered too
    run(engine, LATER)
    forged = _hour(engine, sid, "a21026", H)
    assert (forged.station_zs_value, forged.zs_value) == (100.0, pytest.approx(125.0))  # both kept
    with engine.connect() as conn:
        found = hourly.disagreements(conn, station_id=sid)
    by_hour = {(d.period_ts, d.field): d for d in found}
    assert set(by_hour) == {(H, "zs_avg"), (H + 7200, "avg"), (H + 7200, "zs_avg")}
    d = by_hour[(H, "zs_avg")]
    assert (d.station_value, d.platform_value, d.parameter, d.granularity) == (100.0, 125.0, "a21026", "hour")
    assert d.difference == pytest.approx(25.0)
    assert d.tolerance == pytest.approx(1.0 + 0.02 * 125.0)
    assert d.version == 1
    assert d.current
    assert d.repeats is None
    assert d.station_frame_id is not None


def test_station_that_sends_hours_only_is_checked_on_its_own_figures(engine: Engine, feed: Feed) -> None:
    sid = feed.station("ZS-C", "flue_gas", params=PARAMS)
    feed.frame(sid, [R("hour", "a21026", H, 100.0, "N", zs_value=100.0), R("hour", "a19001", H, 9.0, "N")])
    run(engine, LATER)
    with engine.connect() as conn:
        (d,) = hourly.disagreements(conn, station_id=sid)
    assert (d.field, d.station_value, d.platform_value) == ("zs_avg", 100.0, 125.0)


def test_o2_above_cap_gives_no_corrected_value(engine: Engine, feed: Feed) -> None:
    sid = feed.station("ZS-D", "flue_gas", params=PARAMS)
    feed.minutes_many(sid, H, {"a21026": 10.0, "a19001": 20.0})
    run(engine, LATER)
    so2 = _hour(engine, sid, "a21026", H)
    assert so2.valid
    assert so2.zs_value is None
    assert so2.zs_reason == 41  # O2_ABOVE_CAP (standards.correct_to_reference_o2 guard)
