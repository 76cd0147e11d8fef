"""Latency on the platform's clock: a station's hour data go through the real roll-up and the
live-detection job, each run at the latest moment its schedule allows, and the alarm opens well
within an hour of the end of the hour that reveals the manipulation."""

from __future__ import annotations

from sqlalchemy import Engine
from tests.rollup.feeding import Feed, R

from envtrace.alarms import Actor, LiveOptions, alarm_evidence, list_alarms, run_detection
from envtrace.detect import StationSeries
from envtrace.rollup.options import RollupOptions
from envtrace.rollup.run import run as rollup_run

from .live_data import diluted, hour_readings, unit_with_flow

DAY = 24
VIEWER = Actor("test", "admin")
ROLLUP = RollupOptions()
ROLLUP_INTERVAL_S = 30  # envtrace.rollup.jobs
DETECT_INTERVAL_S = 60  # envtrace.alarms.live (live_detect_interval_s)
OPTIONS = LiveOptions(warmup_days=9, time_budget_s=600.0)
PARAMS: dict[str, tuple[str | None, float | None]] = {
    "a21026": ("mg/m3", 6.0),
    "a21002": ("mg/m3", 6.0),
    "a34013": ("mg/m3", 6.0),
    "a19001": ("%", None),
    "a05001": ("%", None),
    "a00000": ("m3/h", None),
}


def _hours(feed: Feed, sid: int, unit: StationSeries, start: int, stop: int) -> None:
    """The station's 2061 hour data of grid points ``start .. stop-1``, one frame per hour."""
    groups = [
        [
            R("hour", code, int(unit.t0) + i * 3600, v, f, zs_value=zs)
            for code, v, f, zs in hour_readings(unit, i)
        ]
        for i in range(start, stop)
    ]
    feed.frames(sid, groups)


def _platform(engine: Engine, hour_end: int) -> int:
    """The roll-up's run that first judges an hour, then the next live-detection run; returns the
    instant of that detection run (the latest one the schedules allow)."""
    rolled = hour_end + ROLLUP.hour_grace_s + ROLLUP_INTERVAL_S
    rollup_run(engine, rolled, ROLLUP)
    detected = rolled + DETECT_INTERVAL_S
    run_detection(engine, detected, OPTIONS)
    return detected


def test_alarm_within_an_hour_of_the_revealing_hour(engine: Engine) -> None:
    feed = Feed(engine)
    sid = feed.station("MN-LATENCY-1", "flue_gas", params=PARAMS)
    inject = 10 * DAY + 3
    unit = diluted(unit_with_flow(days=40), inject, 48)  # the unit stops on days 13 and 26
    _hours(feed, sid, unit, 0, 10 * DAY)
    _platform(engine, int(unit.t0) + 10 * DAY * 3600)
    found = None
    for i in range(10 * DAY, 10 * DAY + 12):
        _hours(feed, sid, unit, i, i + 1)
        hour_end = int(unit.t0) + (i + 1) * 3600
        _platform(engine, hour_end)
        with engine.connect() as conn:
            alarms = [a for a in list_alarms(conn, VIEWER) if a.pattern == "diluent_tamper"]
        if alarms:
            found = (i, hour_end, alarms[0])
            break
    assert found is not None, "the diluted sample must raise a diluent_tamper alarm"
    revealing, hour_end, alarm = found
    assert revealing - inject < 3, "revealed within the first manipulated hours"
    latency = alarm.opened_ts - hour_end
    assert latency <= ROLLUP.hour_grace_s + ROLLUP_INTERVAL_S + DETECT_INTERVAL_S < 3600
    assert alarm.kind == "fraud"
    assert alarm.start_ts == int(unit.t0) + inject * 3600
    with engine.connect() as conn:
        (item,) = alarm_evidence(conn, alarm.id, VIEWER)
    assert item.detector == "diluent_inconsistency"
    assert item.plots
    assert "O2" in item.reason_en
