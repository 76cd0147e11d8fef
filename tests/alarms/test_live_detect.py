"""The live-detection job: warm-up, then incremental feeding that finds what the batch run finds, and
an alarm within the hour after the roll-up judges the hour that reveals a pattern."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select

from envtrace.alarms import Actor, LiveOptions, list_alarms, run_detection
from envtrace.alarms.live_feed import build_series
from envtrace.detect import StationDetectorState, scan_station
from envtrace.detect.streaming import SETTLE_DAYS
from envtrace.store import alarms as alarm_db
from envtrace.store import detect_state as ds
from envtrace.store.engine import write_transaction
from envtrace.store.hourly import ValueDraft, append_values, station_values

from .conftest import World
from .live_data import diluted, frozen, judged, unit_with_flow

DAY = 24
VIEWER = Actor("test", "admin")
OPTIONS = LiveOptions(warmup_days=30, refit_days=1000, time_budget_s=600.0, lookback_days=180)


def _feed(world: World, unit_rows: list[ValueDraft], now: int) -> dict[str, int]:
    with write_transaction(world.engine) as conn:
        append_values(conn, unit_rows, computed_ts=now)
    return run_detection(world.engine, now, OPTIONS)


def _raised(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(alarm_db.alarm_evidence.c.body)).scalars().all()
    return [json.loads(b) for b in rows]


def test_no_alarm_during_warm_up_then_the_state_is_fitted(world: World) -> None:
    unit = frozen(unit_with_flow(days=40), "a21002", 10 * DAY + 2, 40)  # frozen NOx in the warm-up
    sid = world.station_acme
    counts = _feed(world, judged(sid, unit, 0, 20 * DAY), int(unit.t0) + 20 * 86400)
    assert counts["warming"] == 1
    assert not counts.get("fitted")
    with world.engine.connect() as conn:
        row = ds.load_state(conn, sid)
    assert row is not None
    assert row.phase == "warming"
    assert row.state is None
    assert row.first_ts == unit.t0
    assert row.last_ts == unit.t0 + 20 * 86400
    counts = _feed(world, judged(sid, unit, 20 * DAY, 31 * DAY), int(unit.t0) + 31 * 86400)
    assert counts["fitted"] == 1
    with world.engine.connect() as conn:
        row = ds.load_state(conn, sid)
        assert ds.count_pending(conn) == 0
    assert row is not None
    assert row.phase == "live"
    assert row.fitted_ts == unit.t0 + 31 * 86400
    # what the history shows is judged history, never raised
    assert _raised(world.engine) == []


Key = tuple[str, tuple[str, ...], int, int, str, str]


def _key(
    detector: object, parameters: object, start: object, end: object, pattern: object, kind: object
) -> Key:
    assert isinstance(parameters, list | tuple)
    return (
        str(detector),
        tuple(str(p) for p in parameters),
        int(str(start)),
        int(str(end)),
        str(pattern),
        str(kind),
    )


def test_incremental_feeding_finds_what_the_batch_run_finds(world: World) -> None:
    """Each run raises what the batch run over the data received so far finds (same baseline);
    once settled, every finding of the batch run over all the data has been raised with its span."""
    days = 100
    unit = unit_with_flow(days=days)
    unit = frozen(unit, "a21002", 60 * DAY + 2, 28)
    unit = diluted(unit, 75 * DAY + 5, 14 * DAY)
    sid = world.station_acme
    t0 = int(unit.t0)
    _feed(world, judged(sid, unit, 0, 31 * DAY), t0 + 31 * 86400)
    for day in range(31, days, 5):
        _feed(world, judged(sid, unit, day * DAY, (day + 5) * DAY), t0 + (day + 5) * 86400)
    with world.engine.connect() as conn:
        row = ds.load_state(conn, sid)
        facts = ds.station_facts(conn)[sid]
        rows = station_values(conn, sid, granularity="hour", start=t0, end=t0 + days * 86400)
        raised = conn.execute(
            select(alarm_db.alarm_evidence.c.body, alarm_db.alarm_evidence.c.received_ts)
        ).all()
    assert row is not None
    assert row.state is not None
    assert row.fitted_ts is not None
    baseline = StationDetectorState.from_bytes(row.state).baseline
    fitted = row.fitted_ts

    def batch(until: int) -> set[Key]:
        series = build_series(facts, rows, start=t0, end=until, registry={}, limits={})
        assert series is not None
        return {
            _key(e.detector, e.parameters, e.start, e.end, e.pattern, e.kind)
            for e in scan_station(series, baseline, {series.station_id: series})
            if (e.kind == "fraud" or e.pattern not in OPTIONS.qc_ignore) and e.start >= fitted
        }

    by_run: dict[int, set[Key]] = {}
    for body_text, received in raised:
        b = json.loads(body_text)
        key = _key(b["detector"], b["parameters"], b["start"], b["end"], b["pattern"], b["kind"])
        by_run.setdefault(int(received), set()).add(key)
    for until, keys in sorted(by_run.items()):
        assert keys <= batch(until), f"raised at {until} what the batch run up to then does not find"
    settled = t0 + days * 86400 - SETTLE_DAYS * 86400
    expected = {k for k in batch(t0 + days * 86400) if k[3] <= settled}
    assert {("diluent_tamper", "fraud"), ("frozen_value", "qc")} <= {(k[4], k[5]) for k in expected}
    assert expected <= set().union(*by_run.values())
    with world.engine.connect() as conn:
        alarms = list_alarms(conn, VIEWER, limit=500)
    assert {(a.pattern, a.kind) for a in alarms} >= {("frozen_value", "qc"), ("diluent_tamper", "fraud")}
    assert all(a.station_id == sid for a in alarms)


def test_a_failing_station_is_paused_and_the_others_go_on(world: World) -> None:
    unit = unit_with_flow(days=40)
    t0 = int(unit.t0)
    _feed(world, judged(world.station_acme, unit, 0, 31 * DAY), t0 + 31 * 86400)
    with write_transaction(world.engine) as conn:
        conn.execute(
            ds.detect_state.update()
            .where(ds.detect_state.c.station_id == world.station_acme)
            .values(state=b"not a state")
        )
    rows = judged(world.station_acme, unit, 31 * DAY, 32 * DAY) + judged(world.station_beta, unit, 0, 2 * DAY)
    counts = _feed(world, rows, t0 + 32 * 86400)
    assert counts["errors"] == 1
    assert counts["warming"] == 1
    with world.engine.connect() as conn:
        broken = ds.load_state(conn, world.station_acme)
        queued = ds.pending(conn, now=t0 + 32 * 86400)
        assert ds.count_pending(conn) == 1  # its data stay queued for the retry
    assert broken is not None
    assert broken.errors == 1
    assert "StateError" in (broken.last_error or "")
    assert queued == []  # paused until retry_ts
