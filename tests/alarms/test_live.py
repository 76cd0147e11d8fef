"""Live detection's bookkeeping and its detector-free findings, on SQLite and PostgreSQL: the state
survives the store, exceedances and ZsAvg disagreements become alarms once, silent stations once."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import Engine

from envtrace.alarms import Actor, LiveOptions, alarm_evidence, list_alarms, run_intake
from envtrace.detect import StationDetectorState
from envtrace.store import detect_state as ds
from envtrace.store.engine import write_transaction
from envtrace.store.hourly import (
    DisagreementDraft,
    ExceedanceDraft,
    add_disagreements,
    add_exceedances,
    append_values,
)
from envtrace.store.state import StateUpdate, apply_state

from .conftest import HOUR, T0, World
from .live_data import judged, unit_with_flow

VIEWER = Actor("test", "admin")
NOW = T0 + 40 * 86400


def _alarms(engine: Engine) -> list[tuple[int, str, str, int, int]]:
    with engine.connect() as conn:
        return sorted(
            (a.station_id, a.pattern, a.kind, a.start_ts, a.end_ts)
            for a in list_alarms(conn, VIEWER, limit=500)
        )


# ------------------------------------------------------------------------------------------ the store


def test_state_round_trips_through_the_store(world: World) -> None:
    unit = unit_with_flow(days=30)
    from envtrace.detect import stations_from_frames  # noqa: F401 - the public API is importable

    state = StationDetectorState.fit({unit.station_id: unit}, unit.station_id, lookback_days=60)
    blob = state.to_bytes()
    sid = world.station_acme
    with write_transaction(world.engine) as conn:
        assert ds.save_state(
            conn,
            sid,
            expected_updates=None,
            now=NOW,
            phase="live",
            first_ts=unit.t0,
            last_ts=unit.t0 + unit.n * HOUR,
            fitted_ts=unit.t0 + unit.n * HOUR,
            neighbours=("MN-B", "MN-A"),
            state=blob,
        )
    with world.engine.connect() as conn:
        row = ds.load_state(conn, sid)
        listed = ds.states(conn)
    assert row is not None
    assert row.state == blob
    assert row.updates == 1
    assert row.neighbours == ("MN-A", "MN-B")
    assert row.phase == "live"
    assert row.errors == 0
    assert [r.station_id for r in listed] == [sid]
    assert listed[0].state is None
    again = StationDetectorState.from_bytes(row.state)
    assert again.to_json() == state.to_json()
    # an optimistic save that lost the race writes nothing
    with write_transaction(world.engine) as conn:
        common = {"now": NOW, "phase": "live", "first_ts": 0, "last_ts": 0, "fitted_ts": 0, "neighbours": ()}
        assert not ds.save_state(conn, sid, expected_updates=0, state=b"x", **common)  # type: ignore[arg-type]
        assert not ds.save_state(conn, sid, expected_updates=None, state=b"x", **common)  # type: ignore[arg-type]
        assert ds.save_state(conn, sid, expected_updates=1, state=blob, **common)  # type: ignore[arg-type]
    with world.engine.connect() as conn:
        row = ds.load_state(conn, sid)
    assert row is not None
    assert row.updates == 2


def test_cursors_only_move_forward_and_pending_merges(world: World) -> None:
    sid = world.station_acme
    with write_transaction(world.engine) as conn:
        assert ds.cursor_position(conn, "values") == 0
        ds.set_cursor(conn, "values", 10, now=NOW)
        ds.set_cursor(conn, "values", 7, now=NOW)
        assert ds.cursor_position(conn, "values") == 10
        ds.add_pending(conn, {sid: (T0 + 5 * HOUR, T0 + 6 * HOUR)})
        ds.add_pending(conn, {sid: (T0 + 2 * HOUR, T0 + 3 * HOUR)})
    with world.engine.connect() as conn:
        (item,) = ds.pending(conn, now=NOW)
    assert (item.from_ts, item.to_ts, item.seq) == (T0 + 2 * HOUR, T0 + 6 * HOUR, 2)
    with write_transaction(world.engine) as conn:
        ds.add_pending(conn, {sid: (T0 + 7 * HOUR, T0 + 8 * HOUR)})  # merged after it was read
        assert not ds.done_pending(conn, item)
    with world.engine.connect() as conn:
        (item,) = ds.pending(conn, now=NOW)
    with write_transaction(world.engine) as conn:
        assert ds.done_pending(conn, item)
        assert ds.count_pending(conn) == 0


def test_touched_hours_name_each_station_span(world: World) -> None:
    unit = unit_with_flow(days=2)
    with write_transaction(world.engine) as conn:
        append_values(conn, judged(world.station_acme, unit, 5, 9), computed_ts=NOW)
        append_values(conn, judged(world.station_beta, unit, 20, 21), computed_ts=NOW)
        touched = ds.touched_hours(conn, after_id=0)
        nothing = ds.touched_hours(conn, after_id=touched.last_id)
    assert touched.spans == {
        world.station_acme: (unit.t0 + 5 * HOUR, unit.t0 + 9 * HOUR),
        world.station_beta: (unit.t0 + 20 * HOUR, unit.t0 + 21 * HOUR),
    }
    assert nothing.spans == {}
    assert nothing.last_id == touched.last_id


# ------------------------------------------------------------------- exceedances and disagreements


def _value_versions(world: World, station: int, code: str, hours: range) -> None:
    unit = unit_with_flow(days=2)
    drafts = [d for d in judged(station, unit, hours.start, hours.stop) if d.parameter == code]
    with write_transaction(world.engine) as conn:
        append_values(conn, drafts, computed_ts=NOW)


def _exceedance(station: int, ts: int, value: float) -> ExceedanceDraft:
    return ExceedanceDraft(
        station_id=station,
        parameter="a21026",
        granularity="hour",
        period_ts=ts,
        period_end=ts + HOUR,
        version=1,
        value=value,
        limit_value=35.0,
        unit="mg/m3",
        basis="corrected",
        o2_ref=6.0,
        limit_scope="permit",
        limit_source="排污许可证 91320000ACME00001X",
        limit_rule_id=None,
        averaging="1h",
    )


def _disagreement(station: int, ts: int, field: str, station_value: float) -> DisagreementDraft:
    return DisagreementDraft(
        station_id=station,
        parameter="a21026",
        granularity="hour",
        period_ts=ts,
        version=1,
        field=field,
        station_value=station_value,
        platform_value=20.0,
        platform_alt=20.1,
        difference=abs(20.0 - station_value),
        tolerance=0.5,
        decimals=1,
        unit="mg/m3",
        station_frame_id=None,
    )


def test_exceedances_and_zs_disagreements_become_alarms_once(world: World) -> None:
    sid = world.station_acme
    unit = unit_with_flow(days=2)
    _value_versions(world, sid, "a21026", range(0, 4))
    t = [int(unit.t0 + i * HOUR) for i in range(4)]
    with write_transaction(world.engine) as conn:
        add_exceedances(conn, [_exceedance(sid, t[0], 40.0), _exceedance(sid, t[1], 52.5)], detected_ts=NOW)
        add_disagreements(
            conn,
            [
                _disagreement(sid, t[2], "zs_avg", 14.0),
                _disagreement(sid, t[3], "zs_avg", 14.2),
                _disagreement(sid, t[3], "cou", 999.0),  # a Cou mismatch is no forgery
            ],
            detected_ts=NOW,
        )
    first = run_intake(world.engine, NOW)
    # consecutive hours: one alarm each (the second finding extends the alarm the first opened)
    assert first["exceedances_opened"] == 1
    assert first["disagreements_opened"] == 1
    assert _alarms(world.engine) == [
        (sid, "exceedance", "exceedance", t[0], t[1] + HOUR),
        (sid, "forged_correction", "fraud", t[2], t[3] + HOUR),
    ]
    # the cursors moved: a second run finds nothing; a run that lost its cursors duplicates nothing
    assert not any(run_intake(world.engine, NOW + 30).values())
    with write_transaction(world.engine) as conn:
        ds.set_cursor(conn, "exceedances", 0, now=NOW)  # never backwards: stays where it is
        conn.execute(ds.detect_cursor.delete())
    again = run_intake(world.engine, NOW + 60)
    assert again["exceedances_duplicates"] == 2
    assert again["disagreements_duplicates"] == 2
    assert again["exceedances_opened"] == again["disagreements_opened"] == 0
    with world.engine.connect() as conn:
        forged = next(a for a in list_alarms(conn, VIEWER) if a.pattern == "forged_correction")
        items = alarm_evidence(conn, forged.id, VIEWER)
    assert {i.detector for i in items} == {"rollup.zs_avg_disagreement"}
    assert items[0].statistic == 14.0
    assert items[0].baseline == 20.0
    assert items[0].threshold == 0.5
    assert "ZsAvg" in items[0].reason_en
    assert "折算" in items[0].reason_zh
    assert forged.score == pytest.approx(6.0 / 6.5, abs=1e-5)


def test_an_overstated_or_average_following_corrected_value_is_no_forgery(world: World) -> None:
    sid = world.station_acme
    unit = unit_with_flow(days=2)
    _value_versions(world, sid, "a21026", range(0, 2))
    ts = int(unit.t0)
    with write_transaction(world.engine) as conn:
        add_disagreements(
            conn,
            [
                _disagreement(sid, ts, "avg", 13.0),
                _disagreement(sid, ts, "zs_avg", 14.0),
                _disagreement(sid, ts + HOUR, "zs_avg", 23.0),  # above the band: nobody forges upwards
            ],
            detected_ts=NOW,
        )
    counts = run_intake(world.engine, NOW)
    assert counts["disagreements_not_the_correction"] == 1
    assert counts["disagreements_overstated"] == 1
    assert _alarms(world.engine) == []


def test_superseded_exceedance_is_not_raised(world: World) -> None:
    sid = world.station_acme
    unit = unit_with_flow(days=2)
    _value_versions(world, sid, "a21026", range(0, 1))
    with write_transaction(world.engine) as conn:
        add_exceedances(conn, [_exceedance(sid, int(unit.t0), 40.0)], detected_ts=NOW)
    # late data make a second version of the hour: the record judged on version 1 is not current
    later = [
        dataclasses.replace(d, valid=False, reason=21, value=None)
        for d in judged(sid, unit, 0, 1)
        if d.parameter == "a21026"
    ]
    with write_transaction(world.engine) as conn:
        append_values(conn, later, computed_ts=NOW + 1)
    counts = run_intake(world.engine, NOW)
    assert counts["exceedances_superseded"] == 1
    assert _alarms(world.engine) == []


# ----------------------------------------------------------------------------------------- offline


def _seen(world: World, station: int, seen_s: int, data_ts: int) -> None:
    with write_transaction(world.engine) as conn:
        apply_state(conn, [StateUpdate(station, False, None, None, seen_s * 1_000_000, data_ts, 1, 0, None)])


def test_a_silent_station_raises_one_offline_alarm_per_silence(world: World) -> None:
    options = LiveOptions(offline_after_s=3600)
    sid = world.station_beta
    _seen(world, sid, NOW - 5000, NOW - 5400)
    _seen(world, world.station_acme, NOW - 100, NOW - 600)  # heard from recently: not offline
    counts = run_intake(world.engine, NOW, options)
    assert counts["offline_opened"] == 1
    assert _alarms(world.engine) == [(sid, "offline", "offline", NOW - 5000, NOW - 5000 + 3600)]
    assert not run_intake(world.engine, NOW + 600, options).get("offline_opened")
    with world.engine.connect() as conn:
        (alarm,) = list_alarms(conn, VIEWER)
        (item,) = alarm_evidence(conn, alarm.id, VIEWER)
    assert alarm.severity == "major"
    assert item.parameters == ()
    assert "offline" in item.reason_en
    assert item.extra["last_data_ts"] == NOW - 5400
    # back for a while, then silent again: a second finding, a second alarm
    _seen(world, sid, NOW + 1000, NOW + 900)
    _seen(world, world.station_acme, NOW + 4000, NOW + 3900)
    assert not run_intake(world.engine, NOW + 2000, options).get("offline_opened")
    assert run_intake(world.engine, NOW + 1000 + 4000, options)["offline_opened"] == 1
    assert [a[1] for a in _alarms(world.engine)] == ["offline", "offline"]


def test_offline_findings_can_be_switched_off(world: World) -> None:
    _seen(world, world.station_beta, NOW - 90_000, NOW - 90_000)
    assert run_intake(world.engine, NOW, LiveOptions(offline_after_s=0)) == {}
    assert _alarms(world.engine) == []


def test_options_come_from_any_settings_object(tmp_path: object) -> None:
    class Settings:
        live_detect_interval_s = 10.0
        live_warmup_days = 14
        live_qc_ignore = "flag_C, gap"
        offline_after_s = 7200.0
        notify_config = None

    options = LiveOptions.from_settings(Settings())
    assert options.interval_s == 10.0
    assert options.time_budget_s == 7.5
    assert options.warmup_days == 14
    assert options.offline_after_s == 7200
    assert options.qc_ignore == frozenset({"flag_C", "gap"})
    assert options.notify is None
    assert json.dumps(sorted(LiveOptions.from_settings(object()).qc_ignore))
