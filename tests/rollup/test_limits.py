"""Exceedance records: the applicable limit (permit > local > national), valid periods only."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from envtrace.rollup import run
from envtrace.store import hourly
from envtrace.store.engine import write_transaction

from .feeding import Feed, R, cst

H = cst(2026, 7, 1, 9)
LATER = H + 30 * 86400


def test_permit_limit_overrides_the_national_one(engine: Engine, feed: Feed) -> None:
    sid = feed.station("EX-A", "flue_gas", industry="thermal_power")
    with write_transaction(engine) as conn:
        national = hourly.add_limit_rule(
            conn,
            scope="national",
            station_id=sid,
            standard="GB 13223-2011",
            facility="coal_boiler",
            condition="existing",
            source="registry: unit 1, coal-fired, in service before 2012",
            created_ts=H,
        )
        permit = hourly.add_limit_rule(
            conn,
            scope="permit",
            station_id=sid,
            parameter="a21026",
            value=100.0,
            unit="mg/m³",
            o2_ref_pct=6.0,
            effective_from=H + 3600,
            source="permit 91320000TEST-001 §3.2",
            created_ts=H,
        )
    for k, so2 in enumerate((100.0, 100.0, 200.0)):
        feed.minutes_many(sid, H + 3600 * k, {"a21026": so2, "a19001": 9.0})
    feed.minutes(sid, "a21026", H + 3 * 3600, [300.0] * 30 + [None] * 30, ["N"] * 60)  # invalid hour
    run(engine, LATER)
    with engine.connect() as conn:
        first = hourly.values(conn, sid, "a21026", start=H, end=H + 1)[0]
        found = hourly.exceedances(conn, station_id=sid)
    # the national row gives the reference O2 (6 %) and a 200 mg/m³ limit: 125 is below it
    assert first.zs_value == pytest.approx(125.0)
    assert json.loads(first.detail)["o2_ref_source"] == "limit"
    assert [(e.period_ts, e.limit_scope) for e in found] == [(H + 3600, "permit"), (H + 7200, "permit")]
    e = found[0]
    assert (e.value, e.limit_value, e.unit, e.basis, e.o2_ref) == (125.0, 100.0, "mg/m3", "corrected", 6.0)
    assert e.ratio == pytest.approx(1.25)
    assert (e.limit_rule_id, e.limit_source) == (permit, "permit 91320000TEST-001 §3.2")
    assert (e.granularity, e.averaging, e.period_end) == ("hour", "1h", H + 7200)
    assert found[1].ratio == pytest.approx(2.5)
    assert national != permit


def test_daily_limit_judges_daily_values(engine: Engine, feed: Feed) -> None:
    day = cst(2026, 7, 2)
    sid = feed.station("EX-B", "water", city="Nanjing")
    with write_transaction(engine) as conn:
        hourly.add_limit_rule(
            conn,
            scope="local",
            city="Nanjing",
            station_kind="water",
            parameter="w01018",
            value=50.0,
            unit="mg/L",
            averaging="24h",
            source="DB32/TEST-2020 Table 1",
            created_ts=day,
        )
    groups = [
        [
            R("min", "w01018", day + 3600 * h + 600 * i, 60.0),
            R("min", "w00000", day + 3600 * h + 600 * i, 5.0),
        ]
        for h in range(3)
        for i in range(6)
    ]
    feed.frames(sid, groups)
    run(engine, LATER)
    with engine.connect() as conn:
        (e,) = hourly.exceedances(conn, station_id=sid)
    assert (e.granularity, e.period_ts, e.averaging, e.limit_scope) == ("day", day, "24h", "local")
    assert (e.value, e.basis, e.ratio) == (60.0, "measured", pytest.approx(1.2))


def test_record_maps_onto_the_alarms_exceedance(engine: Engine, feed: Feed) -> None:
    from envtrace.alarms.intake import Exceedance

    sid = feed.station("EX-C", "flue_gas", params={"a34013": ("mg/m3", None)})
    with write_transaction(engine) as conn:
        hourly.add_limit_rule(
            conn,
            scope="permit",
            station_id=sid,
            parameter="a34013",
            value=10.0,
            unit="mg/m3",
            source="p",
            created_ts=H,
        )
    feed.minutes_many(sid, H, {"a34013": 14.0})
    run(engine, LATER)
    with engine.connect() as conn:
        records = hourly.exceedances(conn, station_id=sid, current_only=True, new_only=True)
    assert len(records) == 1
    for r in records:
        ex = Exceedance(
            station=r.station_id,
            parameter=r.parameter,
            start=r.period_ts,
            end=r.period_end,
            value=r.value,
            limit=r.limit_value,
            unit=r.unit,
            standard=r.limit_source,
            basis=r.granularity,
            o2_ref=r.o2_ref,
        )
        assert ex.score == pytest.approx(min(1.0, r.ratio - 1.0))
