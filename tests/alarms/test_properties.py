"""Random decision sequences by random users on a real database: the alarm never leaves the machine,
its cached row always equals the replay of its sealed events, and the full check finds nothing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from envtrace.alarms import (
    AlarmError,
    AlarmNotFound,
    AlreadySuperseded,
    IllegalTransition,
    InvalidDecision,
    NotPermitted,
    State,
    acknowledge,
    assign,
    check_alarm,
    check_alarms,
    comment,
    confirm,
    dismiss,
    escalate_one,
    raise_alarms_in,
    reopen,
    replay,
    start_verification,
)
from envtrace.alarms.records import load_events, load_status
from envtrace.store.engine import write_transaction

from .conftest import HOUR, T0, World, evidence

OPS = ("ack", "verify", "confirm", "dismiss", "assign", "comment", "reopen", "escalate", "extend")
USERS = ("staff", "staff2", "officer", "rev", "lab", "ent", "ent2", "insp", "admin")
EXPECTED_REFUSALS = (IllegalTransition, NotPermitted, InvalidDecision, AlarmNotFound, AlreadySuperseded)
_starts = itertools.count()


def _step(conn: Connection, world: World, alarm_id: int, op: str, who: str, now: int) -> int:
    """Apply one operation; returns the alarm to follow next (a reopen moves on to the new one)."""
    actor = world[who]
    if op == "ack":
        acknowledge(conn, alarm_id, actor, now=now)
    elif op == "verify":
        start_verification(conn, alarm_id, actor, now=now, note="check")
    elif op == "confirm":
        confirm(conn, alarm_id, actor, now=now, enforcement_type="rectification_order", enforcement_ref="R-1")
    elif op == "dismiss":
        dismiss(conn, alarm_id, actor, now=now, reason_code="instrument_fault", reason="analyser fault")
    elif op == "assign":
        assign(conn, alarm_id, actor, now=now, to_user="staff2")
    elif op == "comment":
        comment(conn, alarm_id, actor, now=now, text="explanation")
    elif op == "reopen":
        return reopen(conn, alarm_id, actor, now=now, reason="new facts").id
    elif op == "escalate":
        escalate_one(conn, alarm_id, now=now + 30 * 86400)
    else:
        status = load_status(conn, alarm_id)
        raise_alarms_in(
            conn, [evidence(start=status.end_ts, hours=1, score=0.99, detector=f"d{now}")], now=now
        )
    return alarm_id


@pytest.mark.property
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(OPS), st.sampled_from(USERS)), min_size=1, max_size=14))
def test_random_decisions_keep_cache_equal_to_sealed_history(
    world: World, steps: list[tuple[str, str]]
) -> None:
    start = T0 + next(_starts) * 1000 * HOUR  # a window of its own, so each example has its own alarm
    with write_transaction(world.engine) as conn:
        (alarm_id,) = raise_alarms_in(conn, [evidence(start=start)], now=start + 7 * HOUR).opened
    now = start + 8 * HOUR
    for op, who in steps:
        now += 60
        try:
            with write_transaction(world.engine) as conn:
                alarm_id = _step(conn, world, alarm_id, op, who, now)
        except EXPECTED_REFUSALS:
            pass
        except AlarmError as exc:  # anything else is a bug
            raise AssertionError(f"{op} by {who}: {exc!r}") from exc
        with world.engine.connect() as conn:
            cached = load_status(conn, alarm_id)
            assert cached.state in set(State)
            assert cached == replay(load_events(conn, alarm_id))
            assert check_alarm(conn, alarm_id) == []
    assert check_alarms(world.engine) == []
