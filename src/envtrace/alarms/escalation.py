"""Escalating overdue alarms: what the platform's background worker runs periodically.

An open alarm is overdue when ``now`` has reached its ``due_ts`` (the deadline to acknowledge while
``new``, to verify once acknowledged, or the one an earlier escalation set). Escalating it hands it
to the supervisor role of its owner's role (``Policy.supervisor``; an individual owner's alarm goes
back to that role's queue), raises its escalation level, and gives the new owner
``escalate_every`` more seconds; the escalation is a sealed event like any decision, by the actor
``system``. Each alarm is escalated at most ``Policy.max_escalations`` times.

Resources
    One short write transaction per overdue alarm: the row is locked and re-checked inside it, so
    two workers running at once escalate each alarm once. Running again at the same ``now`` does
    nothing (idempotent): the new deadline lies after ``now``.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from envtrace.alarms.history import AlarmEvent, AlarmStatus
from envtrace.alarms.machine import Action, State, next_state
from envtrace.alarms.permissions import SYSTEM
from envtrace.alarms.policy import DEFAULT_POLICY, Policy
from envtrace.alarms.records import commit_event, load_status
from envtrace.store import alarms as db
from envtrace.store.engine import write_transaction


def is_overdue(status: AlarmStatus, now: int) -> bool:
    return status.is_open and status.due_ts is not None and status.due_ts <= now


def _stage(status: AlarmStatus) -> str:
    return "acknowledgement" if status.state is State.NEW else "verification"


def escalate_one(
    conn: Connection, alarm_id: int, *, now: int, policy: Policy = DEFAULT_POLICY
) -> AlarmStatus | None:
    """Escalate one alarm if it is (still) overdue and may be escalated; None when not."""
    status = load_status(conn, alarm_id, for_update=True)
    if not is_overdue(status, now) or status.escalation_level >= policy.max_escalations:
        return None
    target = policy.supervisor(status.owner_role)
    owner = status.owner_user or f"the {status.owner_role} queue"
    reason = (
        f"{_stage(status)} overdue since {status.due_ts}: from {owner} to the {target} queue"
        f" (level {status.escalation_level + 1})"
    )
    event = AlarmEvent(
        alarm_id=status.id,
        seq=status.last_seq + 1,
        ts=now,
        action=Action.ESCALATE,
        actor=SYSTEM.user,
        role=SYSTEM.role,
        prev_state=status.state,
        state=next_state(status.state, Action.ESCALATE, status.id),
        reason_code=f"{_stage(status)}_overdue",
        reason=reason,
        changes={
            "owner_user": None,
            "owner_role": target,
            "escalation_level": status.escalation_level + 1,
            "due_ts": policy.next_escalation_due(status.severity, now),
        },
    )
    return commit_event(conn, status, event)


def escalate_overdue(engine: Engine, now: int, *, policy: Policy = DEFAULT_POLICY) -> list[int]:
    """Escalate every overdue open alarm once; returns the ids escalated (idempotent at one ``now``)."""
    with engine.connect() as conn:
        candidates = db.overdue_ids(conn, now=now, max_level=policy.max_escalations)
    escalated: list[int] = []
    for alarm_id in candidates:
        with write_transaction(engine) as conn:
            if escalate_one(conn, alarm_id, now=now, policy=policy) is not None:
                escalated.append(alarm_id)
    return escalated
