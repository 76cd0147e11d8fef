"""Deadlines and escalation with an injected clock."""

from __future__ import annotations

import json
import threading

from envtrace.alarms import (
    Policy,
    State,
    acknowledge,
    check_alarms,
    confirm,
    escalate_overdue,
    escalation_job,
    get_alarm,
    list_alarms,
    raise_alarms,
    start_verification,
)
from envtrace.alarms.policy import Deadline
from envtrace.store import alarms as db
from envtrace.store.engine import write_transaction

from .conftest import HOUR, T0, World, evidence

DAY = 86400
OPENED = T0 + 10 * HOUR


def test_overdue_alarm_escalates_once_per_deadline_up_the_chain(world: World) -> None:
    (alarm_id,) = raise_alarms(world.engine, [evidence(score=0.9)], now=OPENED).opened
    ack_due = OPENED + 4 * HOUR  # critical
    assert escalate_overdue(world.engine, ack_due - 1) == []
    assert escalate_overdue(world.engine, ack_due) == [alarm_id]
    assert escalate_overdue(world.engine, ack_due) == []  # idempotent at one time
    assert escalate_overdue(world.engine, ack_due + 60) == []  # and until the next deadline
    with world.engine.connect() as conn:
        detail = get_alarm(conn, alarm_id, world["rev"], now=ack_due)
        assert [a.id for a in list_alarms(conn, world["rev"], mine=True)] == [alarm_id]
        assert list_alarms(conn, world["staff"], mine=True) == []
        rows = db.event_rows(conn, alarm_id)
    s = detail.status
    assert (s.state, s.owner_user, s.owner_role, s.escalation_level) == (State.NEW, None, "reviewer", 1)
    assert s.due_ts == ack_due + 4 * HOUR
    record = json.loads(rows[-1]["payload"])
    assert (record["action"], record["actor"], record["role"]) == ("escalate", "system", "system")
    assert record["reason_code"] == "acknowledgement_overdue"
    assert "monitoring_staff queue to the reviewer queue" in record["reason"]
    # At the top of the chain the alarm stays with reviewers, but each new lapse is recorded.
    assert escalate_overdue(world.engine, ack_due + 4 * HOUR) == [alarm_id]
    assert escalate_overdue(world.engine, ack_due + 8 * HOUR) == [alarm_id]
    assert escalate_overdue(world.engine, ack_due + 12 * HOUR) == []  # max_escalations = 3
    with world.engine.connect() as conn:
        s = get_alarm(conn, alarm_id, world["rev"], now=T0).status
        assert s.escalation_level == 3
        assert s.owner_role == "reviewer"
        assert [a.id for a in list_alarms(conn, world["rev"], overdue_at=ack_due + 12 * HOUR)] == [alarm_id]
    assert check_alarms(world.engine) == []


def test_acknowledging_moves_the_deadline_to_verification(world: World) -> None:
    (alarm_id,) = raise_alarms(world.engine, [evidence(score=0.5)], now=OPENED).opened  # major
    with write_transaction(world.engine) as conn:
        s = acknowledge(conn, alarm_id, world["staff"], now=OPENED + HOUR)
    assert s.due_ts == OPENED + 7 * DAY
    assert escalate_overdue(world.engine, OPENED + 7 * DAY - 1) == []
    assert escalate_overdue(world.engine, OPENED + 7 * DAY) == [alarm_id]
    with world.engine.connect() as conn:
        s = get_alarm(conn, alarm_id, world["rev"], now=T0).status
    # the user who held it lost it to the supervisor queue
    assert (s.state, s.owner_user, s.owner_role) == (State.ACKNOWLEDGED, None, "reviewer")
    with world.engine.connect() as conn:
        last = json.loads(db.event_rows(conn, alarm_id)[-1]["payload"])
    assert last["reason_code"] == "verification_overdue"
    assert "from staff to the reviewer" in last["reason"]


def test_closed_alarms_never_escalate_and_policy_is_injected(world: World) -> None:
    quick = Policy(
        deadlines={
            "critical": Deadline(60, 120, 30),
            "major": Deadline(60, 120, 30),
            "minor": Deadline(60, 120, 30),
        },
        supervisors={"monitoring_staff": "enforcement_officer"},
        max_escalations=1,
    )
    a, b = raise_alarms(
        world.engine, [evidence(), evidence(station="MN-BETA-1")], now=OPENED, policy=quick
    ).opened
    with write_transaction(world.engine) as conn:
        acknowledge(conn, a, world["officer"], now=OPENED + 10, policy=quick)
        start_verification(conn, a, world["officer"], now=OPENED + 20)
        confirm(
            conn, a, world["officer"], now=OPENED + 30, enforcement_type="case_filed", enforcement_ref="C-9"
        )
    job = escalation_job(quick)  # what the platform's worker schedules
    assert job(world.engine, OPENED + 3600) == {"escalated": 1}
    assert job(world.engine, OPENED + 7200) == {"escalated": 0}
    with world.engine.connect() as conn:
        assert get_alarm(conn, b, world["officer"], now=T0).status.owner_role == "enforcement_officer"
        assert get_alarm(conn, a, world["officer"], now=T0).status.escalation_level == 0


def test_two_workers_at_once_escalate_each_alarm_once(world: World) -> None:
    opened = raise_alarms(
        world.engine, [evidence(station=mn) for mn in ("MN-ACME-1", "MN-BETA-1", "MN-AMB-1")], now=OPENED
    ).opened
    results: list[list[int]] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        results.append(escalate_overdue(world.engine, OPENED + 4 * HOUR))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results[0] + results[1]) == sorted(opened)
    with world.engine.connect() as conn:
        levels = [get_alarm(conn, a, world["rev"], now=T0).status.escalation_level for a in opened]
    assert levels == [1, 1, 1]
    assert check_alarms(world.engine) == []
