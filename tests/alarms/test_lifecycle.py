"""Decisions on real databases: each change is a sealed ledger record, the rules hold, history rules."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from envtrace.alarms import (
    LEDGER_KIND,
    Action,
    AlarmNotFound,
    AlarmStatus,
    AlreadySuperseded,
    IllegalTransition,
    InvalidDecision,
    NotPermitted,
    StaleAlarm,
    State,
    UnknownUser,
    acknowledge,
    alarm_evidence,
    assign,
    check_alarms,
    comment,
    confirm,
    dismiss,
    get_alarm,
    list_alarms,
    raise_alarms,
    reopen,
    start_verification,
)
from envtrace.store import alarms as db
from envtrace.store.engine import write_transaction
from envtrace.store.ledger_log import encode_leaf, leaf

from .conftest import HOUR, T0, World, evidence


def _open(world: World, **kw: object) -> int:
    report = raise_alarms(world.engine, [evidence(**kw)], now=T0 + 7 * HOUR)  # type: ignore[arg-type]
    assert len(report.opened) == 1
    return report.opened[0]


def _sealed(engine: Engine, alarm_id: int) -> list[dict[str, object]]:
    """The ledger records of an alarm, read back from the ledger table through the event rows."""
    with engine.connect() as conn:
        records = []
        for row in db.event_rows(conn, alarm_id):
            stored = leaf(conn, int(row["leaf_index"]))
            assert stored.kind == LEDGER_KIND
            assert stored.payload == encode_leaf(LEDGER_KIND, json.loads(row["payload"]))
            records.append(stored.record())
        return records


def test_full_path_to_confirmed_is_sealed_step_by_step(world: World) -> None:
    alarm_id = _open(world)
    now = T0 + 8 * HOUR
    with write_transaction(world.engine) as conn:
        s = acknowledge(conn, alarm_id, world["staff"], now=now, note="on it")
        assert (s.state, s.owner_user, s.owner_role) == (State.ACKNOWLEDGED, "staff", "monitoring_staff")
        assert s.due_ts == T0 + 7 * HOUR + 3 * 86400  # critical: verify within 3 days of opening
        s = start_verification(conn, alarm_id, world["staff"], now=now + 60, refs=["site-visit-0101"])
        s = confirm(
            conn,
            alarm_id,
            world["officer"],
            now=now + 120,
            enforcement_type="case_filed",
            enforcement_ref="苏环立〔2026〕7号",
            note="data logger tampered",
        )
    assert (s.state, s.closed_ts, s.due_ts) == (State.CONFIRMED, now + 120, None)
    assert (s.enforcement_type, s.enforcement_ref) == ("case_filed", "苏环立〔2026〕7号")
    records = _sealed(world.engine, alarm_id)
    assert [r["action"] for r in records] == ["open", "acknowledge", "verify", "confirm"]
    assert [(r["prev_state"], r["state"]) for r in records] == [
        (None, "new"),
        ("new", "acknowledged"),
        ("acknowledged", "under_verification"),
        ("under_verification", "confirmed"),
    ]
    last = records[-1]
    assert (last["actor"], last["role"], last["ts"], last["kind"]) == (
        "officer",
        "enforcement_officer",
        now + 120,
        "alarm_event",
    )
    assert last["enforcement_ref"] == "苏环立〔2026〕7号"
    assert records[2]["refs"] == ["site-visit-0101"]
    assert records[0]["actor"] == "system"
    assert len(records[0]["evidence"]) == 1  # type: ignore[arg-type]
    assert check_alarms(world.engine) == []


def test_dismissal_needs_the_right_role_and_a_controlled_reason(world: World) -> None:
    alarm_id = _open(world)
    now = T0 + 8 * HOUR
    with write_transaction(world.engine) as conn:
        acknowledge(conn, alarm_id, world["staff"], now=now)
        start_verification(conn, alarm_id, world["staff"], now=now)
    for who in ("staff", "lab", "ent", "admin", "insp", "sign"):
        with pytest.raises(NotPermitted) as info, write_transaction(world.engine) as conn:
            dismiss(
                conn, alarm_id, world[who], now=now, reason_code="verified_genuine", reason="checked on site"
            )
        assert info.value.user == who
    with pytest.raises(InvalidDecision) as bad, write_transaction(world.engine) as conn:
        dismiss(conn, alarm_id, world["rev"], now=now, reason_code="looks fine", reason="checked on site")
    assert bad.value.value == "looks fine"
    with pytest.raises(InvalidDecision), write_transaction(world.engine) as conn:
        dismiss(conn, alarm_id, world["rev"], now=now, reason_code="verified_genuine", reason="")
    with write_transaction(world.engine) as conn:
        s = dismiss(
            conn,
            alarm_id,
            world["rev"],
            now=now + 5,
            reason_code="verified_genuine",
            reason="parallel sampling agrees",
        )
    assert (s.state, s.dismiss_reason) == (State.DISMISSED, "verified_genuine")
    records = _sealed(world.engine, alarm_id)
    assert len(records) == 4  # refused attempts left no trace and no half-written state
    assert records[-1]["reason"] == "parallel sampling agrees"
    assert records[-1]["reason_code"] == "verified_genuine"


def test_qc_alarm_may_be_dismissed_by_monitoring_staff_and_confirm_needs_a_case(world: World) -> None:
    alarm_id = _open(world, kind="qc", pattern="calibration_gap", score=0.4)
    with write_transaction(world.engine) as conn:
        s = acknowledge(conn, alarm_id, world["lab"], now=T0 + 8 * HOUR)
        assert s.severity == "minor"
        start_verification(conn, alarm_id, world["lab"], now=T0 + 9 * HOUR)
    with pytest.raises(InvalidDecision, match="enforcement_ref"), write_transaction(world.engine) as conn:
        confirm(
            conn,
            alarm_id,
            world["rev"],
            now=T0 + 9 * HOUR,
            enforcement_type="qc_work_order",
            enforcement_ref=" ",
        )
    with write_transaction(world.engine) as conn:
        s = dismiss(
            conn,
            alarm_id,
            world["staff"],
            now=T0 + 10 * HOUR,
            reason_code="maintenance_calibration",
            reason="weekly calibration logged",
        )
    assert s.state is State.DISMISSED


ILLEGAL = [
    ([], Action.VERIFY),
    ([], Action.CONFIRM),
    ([], Action.DISMISS),
    (["ack"], Action.ACKNOWLEDGE),
    (["ack"], Action.CONFIRM),
    (["ack", "verify"], Action.VERIFY),
    (["ack", "verify", "dismiss"], Action.ACKNOWLEDGE),
    (["ack", "verify", "dismiss"], Action.COMMENT),
    (["ack", "verify", "dismiss"], Action.DISMISS),
    (["ack", "verify", "dismiss"], Action.ASSIGN),
    ([], Action.REOPEN),
]


def _do(engine: Engine, world: World, alarm_id: int, step: str | Action) -> AlarmStatus:
    now = T0 + 10 * HOUR
    with write_transaction(engine) as conn:
        match str(step):
            case "ack" | "acknowledge":
                return acknowledge(conn, alarm_id, world["rev"], now=now)
            case "verify":
                return start_verification(conn, alarm_id, world["rev"], now=now)
            case "dismiss":
                return dismiss(
                    conn, alarm_id, world["rev"], now=now, reason_code="other", reason="see report"
                )
            case "confirm":
                return confirm(
                    conn, alarm_id, world["rev"], now=now, enforcement_type="case_filed", enforcement_ref="C1"
                )
            case "comment":
                return comment(conn, alarm_id, world["rev"], now=now, text="note")
            case "assign":
                return assign(conn, alarm_id, world["rev"], now=now, to_role="reviewer")
            case "reopen":
                return reopen(conn, alarm_id, world["rev"], now=now, reason="new facts")
    raise AssertionError(step)


def test_illegal_transitions_raise_naming_state_and_action(world: World) -> None:
    seen: list[tuple[str | None, str, int | None]] = []
    for before, action in ILLEGAL:
        alarm_id = _open(world, start=T0 + 100 * len(seen) * HOUR)
        for step in before:
            _do(world.engine, world, alarm_id, step)
        with world.engine.connect() as conn:
            state_before = str(db.alarm_row(conn, alarm_id)["state"])  # type: ignore[index]
        with pytest.raises(IllegalTransition) as info:
            _do(world.engine, world, alarm_id, action)
        seen.append((info.value.state, info.value.action, info.value.alarm_id))
        assert seen[-1] == (state_before, str(action), alarm_id)
        assert state_before in str(info.value)
        assert str(action) in str(info.value)
    assert len(seen) == len(ILLEGAL)
    assert check_alarms(world.engine) == []


def test_assign_and_stale_version(world: World) -> None:
    alarm_id = _open(world)
    with write_transaction(world.engine) as conn:
        s = assign(conn, alarm_id, world["staff"], now=T0 + 8 * HOUR, to_user="staff2", note="your county")
        assert (s.owner_user, s.owner_role) == ("staff2", "monitoring_staff")
        with pytest.raises(InvalidDecision, match="may verify"):
            assign(conn, alarm_id, world["staff"], now=T0 + 8 * HOUR, to_user="lab")
        with pytest.raises(InvalidDecision, match="may verify"):
            assign(conn, alarm_id, world["staff"], now=T0 + 8 * HOUR, to_role="enterprise")
        with pytest.raises(InvalidDecision, match="exactly one"):
            assign(conn, alarm_id, world["staff"], now=T0 + 8 * HOUR)
        with pytest.raises(UnknownUser):
            assign(conn, alarm_id, world["staff"], now=T0 + 8 * HOUR, to_user="nobody")
        s = acknowledge(conn, alarm_id, world["staff2"], now=T0 + 9 * HOUR, expected_seq=s.last_seq)
        assert s.owner_user == "staff2"
    with pytest.raises(StaleAlarm) as info, write_transaction(world.engine) as conn:
        start_verification(conn, alarm_id, world["staff"], now=T0 + 9 * HOUR, expected_seq=2)
    assert (info.value.expected_seq, info.value.actual_seq) == (2, 3)


def test_reopen_is_a_new_record_naming_what_it_supersedes(world: World) -> None:
    alarm_id = _open(world)
    for step in ("ack", "verify", "dismiss"):
        _do(world.engine, world, alarm_id, step)
    with pytest.raises(NotPermitted), write_transaction(world.engine) as conn:
        reopen(conn, alarm_id, world["staff"], now=T0 + 20 * HOUR, reason="second look")
    with write_transaction(world.engine) as conn:
        new = reopen(
            conn, alarm_id, world["insp"], now=T0 + 20 * HOUR, reason="dismissal not supported by file"
        )
    assert new.id != alarm_id
    assert (new.state, new.supersedes_id, new.opened_ts) == (State.NEW, alarm_id, T0 + 20 * HOUR)
    assert (new.pattern, new.station_id, new.start_ts) == ("frozen_value", world.station_acme, T0)
    with world.engine.connect() as conn:
        old = get_alarm(conn, alarm_id, world["insp"], now=T0 + 21 * HOUR).status
        assert (old.state, old.superseded_by_id) == (State.DISMISSED, new.id)
        assert len(alarm_evidence(conn, new.id, world["insp"])) == 1  # the evidence follows the chain
    with pytest.raises(AlreadySuperseded) as info, write_transaction(world.engine) as conn:
        reopen(conn, alarm_id, world["rev"], now=T0 + 22 * HOUR, reason="again")
    assert info.value.superseded_by == new.id
    opening = _sealed(world.engine, new.id)[0]
    assert opening["actor"] == "insp"
    changes = opening["changes"]
    assert isinstance(changes, dict)
    assert changes["supersedes_id"] == alarm_id
    assert _sealed(world.engine, alarm_id)[-1]["action"] == "reopen"
    assert check_alarms(world.engine) == []


def test_enterprise_sees_its_own_alarms_without_internal_notes(world: World) -> None:
    fraud = _open(world)
    qc = _open(world, kind="qc", pattern="calibration_gap", score=0.3)
    other = _open(world, station="MN-BETA-1", kind="qc", pattern="calibration_gap", score=0.3)
    ent = world["ent"]
    with world.engine.connect() as conn:
        assert [a.id for a in list_alarms(conn, ent)] == [qc]  # the fraud alarm is not shown while new
        with pytest.raises(AlarmNotFound):
            get_alarm(conn, fraud, ent, now=T0)
        with pytest.raises(AlarmNotFound):
            get_alarm(conn, other, ent, now=T0)
        assert {a.id for a in list_alarms(conn, world["insp"])} == {fraud, qc, other}
    with pytest.raises(AlarmNotFound), write_transaction(world.engine) as conn:
        comment(conn, other, ent, now=T0 + 8 * HOUR, text="not ours")
    with write_transaction(world.engine) as conn:
        comment(conn, qc, world["staff"], now=T0 + 8 * HOUR, text="internal: call the plant")
        comment(conn, qc, ent, now=T0 + 8 * HOUR, text="analyser was calibrated", refs=["calib-log.pdf"])
        acknowledge(conn, qc, world["staff"], now=T0 + 8 * HOUR, note="internal note")
        acknowledge(conn, fraud, world["staff"], now=T0 + 8 * HOUR)
        start_verification(conn, fraud, world["staff"], now=T0 + 9 * HOUR, note="sampling planned")
    with world.engine.connect() as conn:
        seen = get_alarm(conn, qc, ent, now=T0 + 9 * HOUR)
        assert [e.action for e in seen.events] == [Action.OPEN, Action.COMMENT, Action.ACKNOWLEDGE]
        assert seen.events[1].refs == ("calib-log.pdf",)
        assert (seen.events[2].actor, seen.events[2].reason) == ("", None)
        assert seen.actions == (Action.COMMENT,)
        seen_fraud = get_alarm(conn, fraud, ent, now=T0).status
        assert seen_fraud.state is State.UNDER_VERIFICATION
        assert seen_fraud.owner_user is None  # officials' names are not shown to the enterprise
        full = get_alarm(conn, qc, world["insp"], now=T0 + 9 * HOUR)
        assert len(full.events) == 4
        assert full.events[3].reason == "internal note"
        assert {a.id for a in list_alarms(conn, world["staff"], mine=True)} == {fraud, qc, other}
        assert {a.id for a in list_alarms(conn, world["staff2"], mine=True)} == {other}


def test_get_alarm_carries_the_evidence_to_plot(world: World) -> None:
    alarm_id = _open(world)
    with world.engine.connect() as conn:
        detail = get_alarm(conn, alarm_id, world["staff"], now=T0 + 12 * HOUR)
    assert detail.station_mn == "MN-ACME-1"
    assert detail.overdue  # critical: 4 h to acknowledge from T0 + 7 h
    assert Action.ACKNOWLEDGE in detail.actions
    assert Action.DISMISS not in detail.actions
    (item,) = detail.evidence
    assert (item.detector, item.pattern, item.kind, item.score) == ("flatline", "frozen_value", "fraud", 0.9)
    assert item.reason_zh == "a21026 连续 6 小时恒定"
    (plot,) = item.plots
    assert plot.times[0] == T0
    assert plot.values == (35.0,) * 6
    assert item.extra == {"expected_per_year": 0.01}
