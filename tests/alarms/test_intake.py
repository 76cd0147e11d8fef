"""Raising alarms from detector evidence and exceedances: idempotent, de-duplicated, recorded."""

from __future__ import annotations

import json

import pytest

from envtrace.alarms import (
    Action,
    Exceedance,
    InvalidDecision,
    UnknownStation,
    acknowledge,
    check_alarms,
    dismiss,
    get_alarm,
    raise_alarms,
    start_verification,
    to_finding,
)
from envtrace.store import alarms as db
from envtrace.store.engine import write_transaction

from .conftest import HOUR, T0, World, evidence

NOW = T0 + 30 * HOUR


def _events(world: World, alarm_id: int) -> list[dict[str, object]]:
    with world.engine.connect() as conn:
        return [json.loads(r["payload"]) for r in db.event_rows(conn, alarm_id)]


def test_same_evidence_twice_opens_nothing_new(world: World) -> None:
    ev = evidence()
    first = raise_alarms(world.engine, [ev, ev], now=NOW)
    assert (len(first.opened), first.extended, first.duplicates) == (1, (), 1)
    again = raise_alarms(world.engine, [ev], now=NOW + 60)
    assert (again.opened, again.extended, again.duplicates) == ((), (), 1)
    assert len(_events(world, first.opened[0])) == 1


def test_overlapping_evidence_extends_the_open_alarm_and_records_it(world: World) -> None:
    (alarm_id,) = raise_alarms(world.engine, [evidence(score=0.6)], now=NOW).opened
    with world.engine.connect() as conn:
        assert get_alarm(conn, alarm_id, world["staff"], now=NOW).status.severity == "major"
    touching = evidence(
        start=T0 + 6 * HOUR, hours=4, score=0.95, parameters=("a21002",), detector="flatline2"
    )
    report = raise_alarms(world.engine, [touching], now=NOW + 60)
    assert (report.opened, report.extended) == ((), (alarm_id,))
    with world.engine.connect() as conn:
        s = get_alarm(conn, alarm_id, world["staff"], now=NOW).status
    assert (s.start_ts, s.end_ts, s.parameters, s.score) == (T0, T0 + 10 * HOUR, ("a21002", "a21026"), 0.95)
    assert s.severity == "critical"  # rose with the score, and the deadline came closer
    assert s.due_ts == NOW + 4 * HOUR
    extend = _events(world, alarm_id)[-1]
    assert extend["action"] == "extend"
    assert extend["actor"] == "system"
    assert extend["evidence"] == [to_finding(touching).fingerprint]
    assert extend["changes"] == {
        "end_ts": T0 + 10 * HOUR,
        "parameters": ["a21002", "a21026"],
        "score": "0.95",
        "severity": "critical",
        "due_ts": NOW + 4 * HOUR,
    }
    weaker = evidence(start=T0 + HOUR, hours=2, score=0.5, detector="other")
    raise_alarms(world.engine, [weaker], now=NOW + 120)
    with world.engine.connect() as conn:
        detail = get_alarm(conn, alarm_id, world["staff"], now=NOW)
    assert detail.status.severity == "critical"
    assert detail.status.score == 0.95
    assert detail.events[-1].changes == {}
    assert len(detail.evidence) == 3
    assert check_alarms(world.engine) == []


def test_other_pattern_station_or_gap_opens_a_new_alarm(world: World) -> None:
    base = raise_alarms(world.engine, [evidence()], now=NOW).opened[0]
    report = raise_alarms(
        world.engine,
        [
            evidence(pattern="forged_correction", detector="o2"),
            evidence(station="MN-BETA-1"),
            evidence(start=T0 + 7 * HOUR),  # an hour after the first window ends
            evidence(station="MN-AMB-1", kind="qc", pattern="frozen_value"),
            Exceedance(world.station_ambient, "a34004", T0, T0 + HOUR, 120.0, 75.0, "ug/m3", "GB 3095-2012"),
        ],
        now=NOW,
    )
    assert len(report.opened) == 5
    assert base not in report.opened


def test_closed_alarm_covers_its_window_and_later_evidence_opens_anew(world: World) -> None:
    (alarm_id,) = raise_alarms(world.engine, [evidence()], now=NOW).opened
    with write_transaction(world.engine) as conn:
        acknowledge(conn, alarm_id, world["rev"], now=NOW)
        start_verification(conn, alarm_id, world["rev"], now=NOW)
        dismiss(conn, alarm_id, world["rev"], now=NOW, reason_code="verified_genuine", reason="site visit ok")
    rerun = raise_alarms(world.engine, [evidence(hours=5, score=0.95)], now=NOW + HOUR)
    assert (rerun.opened, rerun.extended, rerun.covered) == ((), (), 1)  # that data has been judged
    report = raise_alarms(world.engine, [evidence(hours=8)], now=NOW + HOUR)
    assert len(report.opened) == 1
    assert report.opened[0] != alarm_id


def test_unknown_station_writes_nothing(world: World) -> None:
    with pytest.raises(UnknownStation) as info:
        raise_alarms(world.engine, [evidence(), evidence(station="MN-NOWHERE")], now=NOW)
    assert info.value.station == "MN-NOWHERE"
    with world.engine.connect() as conn:
        assert db.all_alarm_ids(conn) == []
    with pytest.raises(UnknownStation):
        raise_alarms(world.engine, [evidence(station=999)], now=NOW)  # type: ignore[arg-type]


def test_exceedances_open_and_extend_one_alarm(world: World) -> None:
    hours = [
        Exceedance(
            "MN-ACME-1", "a21026", T0 + h * HOUR, T0 + (h + 1) * HOUR, v, 35.0, "mg/m3", "GB 13223-2011 表1"
        )
        for h, v in ((0, 42.0), (1, 80.0))
    ]
    report = raise_alarms(world.engine, hours, now=NOW)
    (alarm_id,) = report.opened
    assert report.extended == ()  # opened in this very batch: reported as opened only
    with world.engine.connect() as conn:
        detail = get_alarm(conn, alarm_id, world["officer"], now=NOW)
    s = detail.status
    assert (s.kind, s.pattern, s.start_ts, s.end_ts, s.enterprise_id) == (
        "exceedance",
        "exceedance",
        T0,
        T0 + 2 * HOUR,
        world.acme,
    )
    assert s.severity == "critical"
    assert s.score == 1.0
    assert [e.action for e in detail.events] == [Action.OPEN, Action.EXTEND]
    first = detail.evidence[0]
    assert first.extra["standard"] == "GB 13223-2011 表1"
    assert first.threshold == 35.0
    assert "超过限值 35" in first.reason_zh
    assert "exceeds the limit 35" in first.reason_en


def test_exceedance_must_exceed() -> None:
    with pytest.raises(InvalidDecision, match="value"):
        Exceedance("MN-ACME-1", "a21026", T0, T0 + HOUR, 30.0, 35.0, "mg/m3", "GB 13223-2011")
    with pytest.raises(InvalidDecision, match="end"):
        Exceedance("MN-ACME-1", "a21026", T0, T0, 40.0, 35.0, "mg/m3", "GB 13223-2011")


def test_fingerprint_covers_the_whole_evidence() -> None:
    a = to_finding(evidence())
    assert a.fingerprint == to_finding(evidence()).fingerprint
    assert a.fingerprint != to_finding(evidence(score=0.91)).fingerprint
