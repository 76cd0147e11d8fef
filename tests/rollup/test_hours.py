"""Hourly validity of flue-gas CEMS data: the 45-minute rule, flags, stopped hours, intervals, sources."""

from __future__ import annotations

from sqlalchemy import Engine

from envtrace.rollup import run
from envtrace.standards import Reason
from envtrace.store import hourly

from .feeding import Feed, R, cst

H = cst(2026, 5, 10, 8)
LATER = H + 30 * 86400  # far past every grace


def _hour(engine: Engine, sid: int, parameter: str, hour_ts: int) -> hourly.JudgedValue:
    with engine.connect() as conn:
        (v,) = hourly.values(conn, sid, parameter, start=hour_ts, end=hour_ts + 1)
    return v


def test_44_vs_45_valid_minutes(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CEMS-A", "flue_gas")
    feed.minutes(sid, "a21026", H, [20.0] * 44 + [None] * 16, ["N"] * 60)
    feed.minutes(sid, "a21026", H + 3600, [20.0] * 45 + [None] * 15, ["N"] * 60)
    run(engine, LATER)
    short, enough = _hour(engine, sid, "a21026", H), _hour(engine, sid, "a21026", H + 3600)
    assert (short.valid, short.reason, short.n_valid, short.n_total) == (
        False,
        Reason.MISSING,  # the commonest cause among the minutes that are not valid: no data
        44,
        44,
    )
    assert (enough.valid, enough.reason, enough.n_valid) == (True, 0, 45)
    assert enough.value == 20.0
    assert enough.source == "min"
    assert enough.edition == "HJ 212-2025"  # the rules in force at the data time
    assert enough.flag_edition == "HJ 212-2017"  # the flags of the protocol the station speaks
    assert enough.rules
    assert enough.computed_ts == LATER


def test_mixed_flags_stopped_and_over_range(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CEMS-B", "flue_gas")
    feed.minutes(sid, "a21026", H, [30.0] * 60, ["N"] * 40 + ["C"] * 10 + ["D"] * 10)
    feed.minutes(sid, "a21026", H + 3600, [0.0] * 60, ["F"] * 60)
    feed.minutes(sid, "a21026", H + 7200, [30.0] * 50 + [999.0] * 10, ["N"] * 50 + ["T"] * 10)
    feed.minutes(sid, "a21026", H + 10800, [30.0] * 60, ["N"] * 45 + ["M"] * 15)
    run(engine, LATER)
    mixed = _hour(engine, sid, "a21026", H)
    assert not mixed.valid
    assert mixed.reason == Reason.FAULT  # 10 C and 10 D: the tie goes to the more severe
    assert mixed.n_valid == 40
    assert mixed.value == 30.0  # the mean of the valid minutes, kept beside the verdict
    assert mixed.flag == "D"  # 40/60 N is not more than 75 % (HJ 212-2017 C.16-C.18 notes)
    stopped = _hour(engine, sid, "a21026", H + 3600)
    assert (stopped.valid, stopped.reason, stopped.n_stopped) == (False, Reason.STOPPED, 60)
    over = _hour(engine, sid, "a21026", H + 7200)
    assert over.valid
    assert over.n_valid == 60
    assert over.flag == "N"
    assert over.vmax == 999.0
    maintained = _hour(engine, sid, "a21026", H + 10800)
    assert maintained.valid
    assert maintained.n_valid == 45
    assert maintained.flag == "D"  # 45/60 N is exactly 75 %: not more


def test_ten_minute_data_count_minutes_not_records(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CEMS-C", "flue_gas")
    for hour, present in ((H, 5), (H + 3600, 4)):
        for i in range(present):
            feed.frame(sid, [R("min", "a21026", hour + 600 * i, 10.0 + i)])
    run(engine, LATER)
    five, four = _hour(engine, sid, "a21026", H), _hour(engine, sid, "a21026", H + 3600)
    assert (five.valid, five.n_valid, five.value) == (True, 50, 12.0)
    assert (four.valid, four.n_valid, four.reason) == (False, 40, Reason.MISSING)
    assert "600" in five.detail  # the interval the records were read with


def test_real_time_data_when_no_minute_data(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CEMS-D", "flue_gas")
    # every 30 s; one fault reading spoils its whole minute (16 such minutes leave 44 valid)
    flags = ["D" if k % 2 == 1 and k < 32 else "N" for k in range(120)]
    feed.frames(sid, [[R("rtd", "a21026", H + 30 * k, 40.0, flags[k])] for k in range(120)])
    # the next hour: 45 minutes of normal readings
    feed.frames(sid, [[R("rtd", "a21026", H + 3600 + 30 * k, 41.0)] for k in range(90)])
    run(engine, LATER)
    v = _hour(engine, sid, "a21026", H)
    assert v.source == "rtd"
    assert (v.valid, v.n_total, v.n_valid) == (False, 60, 44)
    assert v.reason == Reason.FAULT
    ok = _hour(engine, sid, "a21026", H + 3600)
    assert (ok.valid, ok.n_total, ok.n_valid, ok.value) == (True, 45, 45, 41.0)


def test_station_hourly_only(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CEMS-E", "flue_gas")
    feed.frame(sid, [R("hour", "a21026", H, 55.5, "N", zs_value=60.0, cou=1.5)])
    feed.frame(sid, [R("hour", "a21026", H + 3600, 55.5, "D")])
    run(engine, LATER)
    ok, bad = _hour(engine, sid, "a21026", H), _hour(engine, sid, "a21026", H + 3600)
    assert (ok.source, ok.valid, ok.value, ok.n_valid) == ("hour", True, 55.5, None)
    assert (ok.station_value, ok.station_zs_value, ok.station_cou, ok.station_flag) == (55.5, 60.0, 1.5, "N")
    assert (bad.valid, bad.reason) == (False, Reason.FAULT)
