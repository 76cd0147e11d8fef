"""The state machine and the history fold, pure: every pair of state and action, and random runs."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.alarms import (
    OPEN_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    Action,
    AlarmEvent,
    CorruptHistory,
    IllegalTransition,
    State,
    next_state,
    replay,
)
from envtrace.alarms.history import OPEN_FIELDS, JsonValue, apply, score_text

EXPECTED: dict[tuple[State | None, Action], State] = {
    (None, Action.OPEN): State.NEW,
    (State.NEW, Action.ACKNOWLEDGE): State.ACKNOWLEDGED,
    (State.ACKNOWLEDGED, Action.VERIFY): State.UNDER_VERIFICATION,
    (State.UNDER_VERIFICATION, Action.CONFIRM): State.CONFIRMED,
    (State.UNDER_VERIFICATION, Action.DISMISS): State.DISMISSED,
    **{
        (s, a): s
        for s in (State.NEW, State.ACKNOWLEDGED, State.UNDER_VERIFICATION)
        for a in (Action.EXTEND, Action.ASSIGN, Action.COMMENT, Action.ESCALATE)
    },
    (State.CONFIRMED, Action.REOPEN): State.CONFIRMED,
    (State.DISMISSED, Action.REOPEN): State.DISMISSED,
}
ALL_PAIRS = [(s, a) for s in [None, *State] for a in Action]


def test_table_is_exactly_the_documented_machine() -> None:
    assert TRANSITIONS == EXPECTED
    assert set(State) == OPEN_STATES | TERMINAL_STATES


@pytest.mark.parametrize(("state", "action"), [p for p in ALL_PAIRS if p in EXPECTED])
def test_legal_transition(state: State | None, action: Action) -> None:
    assert next_state(state, action) is EXPECTED[(state, action)]


@pytest.mark.parametrize(("state", "action"), [p for p in ALL_PAIRS if p not in EXPECTED])
def test_illegal_transition_names_state_and_action(state: State | None, action: Action) -> None:
    with pytest.raises(IllegalTransition) as info:
        next_state(state, action, alarm_id=7)
    assert info.value.state == (None if state is None else str(state))
    assert info.value.action == str(action)
    assert str(action) in str(info.value)
    assert "alarm 7" in str(info.value)


def _opening(alarm_id: int = 1, ts: int = 100) -> AlarmEvent:
    changes: dict[str, JsonValue] = {
        "station_id": 3,
        "enterprise_id": None,
        "pattern": "frozen_value",
        "kind": "fraud",
        "detector": "flatline",
        "parameters": ["a21026"],
        "start_ts": 0,
        "end_ts": 3600,
        "severity": "critical",
        "score": score_text(0.9),
        "owner_user": None,
        "owner_role": "monitoring_staff",
        "escalation_level": 0,
        "due_ts": 200,
        "supersedes_id": None,
    }
    assert set(changes) == set(OPEN_FIELDS)
    return AlarmEvent(alarm_id, 1, ts, Action.OPEN, "system", "system", None, State.NEW, changes=changes)


def _follow(status_state: State, seq: int, action: Action, ts: int) -> AlarmEvent:
    return AlarmEvent(1, seq, ts, action, "u", "reviewer", status_state, next_state(status_state, action))


def test_payload_round_trip_and_no_floats() -> None:
    event = _opening()
    payload = event.payload()
    assert AlarmEvent.from_payload(payload) == event
    changes = payload["changes"]
    assert isinstance(changes, dict)
    assert changes["score"] == "0.9"


def test_replay_rejects_a_gap_a_lie_about_the_state_and_a_fixed_field() -> None:
    first = _opening()
    status = apply(None, first)
    with pytest.raises(CorruptHistory, match="does not follow"):
        apply(status, _follow(State.NEW, 3, Action.ACKNOWLEDGE, 101))
    lie = dataclasses.replace(_follow(State.NEW, 2, Action.ACKNOWLEDGE, 101), prev_state=State.ACKNOWLEDGED)
    with pytest.raises(CorruptHistory, match="says the state was"):
        apply(status, lie)
    wrong_after = dataclasses.replace(_follow(State.NEW, 2, Action.ACKNOWLEDGE, 101), state=State.CONFIRMED)
    with pytest.raises(CorruptHistory, match="the machine gives"):
        apply(status, wrong_after)
    fixed = dataclasses.replace(_follow(State.NEW, 2, Action.ASSIGN, 101), changes={"kind": "qc"})
    with pytest.raises(CorruptHistory, match="fixed fields"):
        apply(status, fixed)
    with pytest.raises(CorruptHistory, match="opening event"):
        apply(None, dataclasses.replace(first, changes={"pattern": "x"}))
    with pytest.raises(CorruptHistory):
        replay([])


def test_closing_sets_outcome_and_clears_deadline() -> None:
    status = apply(None, _opening())
    for seq, action in enumerate((Action.ACKNOWLEDGE, Action.VERIFY), start=2):
        status = apply(status, _follow(status.state, seq, action, 100 + seq))
    closing = dataclasses.replace(
        _follow(status.state, 4, Action.DISMISS, 150), reason_code="instrument_fault", reason="drift"
    )
    closed = apply(status, closing)
    assert closed.state is State.DISMISSED
    assert (closed.closed_ts, closed.due_ts, closed.dismiss_reason) == (150, None, "instrument_fault")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(Action)), max_size=25))
@pytest.mark.property
def test_random_runs_stay_in_the_machine_and_replay_equals_the_fold(actions: list[Action]) -> None:
    events = [_opening()]
    status = apply(None, events[0])
    for i, action in enumerate(actions):
        try:
            after = next_state(status.state, action)
        except IllegalTransition:
            assert (status.state, action) not in TRANSITIONS
            continue
        event = AlarmEvent(1, status.last_seq + 1, 200 + i, action, "u", "reviewer", status.state, after)
        status = apply(status, event)
        events.append(event)
        assert status.state in set(State)
        assert status.is_open == (status.state in OPEN_STATES)
    assert replay(events) == status
    assert replay(AlarmEvent.from_payload(e.payload()) for e in events) == status
