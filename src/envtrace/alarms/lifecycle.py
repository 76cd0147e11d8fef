"""Decisions on alarms: acknowledge, verify, confirm, dismiss, assign, comment, reopen.

Resources
    Every function takes the caller's ``Connection`` and works inside the caller's transaction;
    open it with ``envtrace.store.engine.write_transaction`` (on SQLite that takes the write lock
    up front). A decision and its ledger record commit together, or not at all -- which lets the
    console confirm an alarm in the same transaction that records the enforcement case.

Errors
    In the order they are checked: :class:`AlarmNotFound` (also for an alarm the actor may not
    read), :class:`StaleAlarm` (``expected_seq`` given and the alarm moved on),
    :class:`NotPermitted` (the role rules of ``envtrace.alarms.permissions``),
    :class:`IllegalTransition` (the state machine), :class:`InvalidDecision` (a reason, enforcement
    reference or assignee missing or outside the controlled lists).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from envtrace.alarms.errors import (
    AlarmNotFound,
    AlreadySuperseded,
    InvalidDecision,
    StaleAlarm,
    UnknownUser,
)
from envtrace.alarms.history import AlarmEvent, AlarmStatus, JsonValue, score_text
from envtrace.alarms.machine import Action, State, next_state
from envtrace.alarms.outcomes import check_dismissal, check_enforcement
from envtrace.alarms.permissions import ROLES, Actor, can_read, check_action, may
from envtrace.alarms.policy import DEFAULT_POLICY, Policy
from envtrace.alarms.records import commit_event, load_status
from envtrace.store import alarms as db
from envtrace.store.accounts import user_by_name


def actor_for(conn: Connection, username: str) -> Actor:
    """The acting user by name (role and enterprise from the accounts); :class:`UnknownUser` for
    an unknown or locked account."""
    user = user_by_name(conn, username)
    if user is None:
        raise UnknownUser(username)
    if user.locked:
        raise UnknownUser(username, "the account is locked")
    return Actor(user.username, user.role, user.enterprise_id)


def _refs(refs: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(r.strip() for r in refs)
    if any(not r for r in cleaned):
        raise InvalidDecision("refs", list(refs), "non-empty references")
    return cleaned


def _note(note: str | None) -> str | None:
    text = (note or "").strip()
    return text or None


def _begin(
    conn: Connection, alarm_id: int, actor: Actor, action: Action, expected_seq: int | None
) -> AlarmStatus:
    """Lock and load the alarm, then run the read, version, role and machine checks."""
    status = load_status(conn, alarm_id, for_update=True)
    if not can_read(actor, status.kind, status.state, status.enterprise_id):
        raise AlarmNotFound(alarm_id)
    if expected_seq is not None and expected_seq != status.last_seq:
        raise StaleAlarm(alarm_id, expected_seq, status.last_seq)
    check_action(actor, action, status.kind, status.enterprise_id)
    next_state(status.state, action, alarm_id)
    return status


def _event(
    status: AlarmStatus,
    action: Action,
    actor: Actor,
    now: int,
    *,
    reason_code: str | None = None,
    reason: str | None = None,
    enforcement_type: str | None = None,
    enforcement_ref: str | None = None,
    evidence: tuple[str, ...] = (),
    refs: tuple[str, ...] = (),
    changes: Mapping[str, JsonValue] | None = None,
) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=status.id,
        seq=status.last_seq + 1,
        ts=now,
        action=action,
        actor=actor.user,
        role=actor.role,
        prev_state=status.state,
        state=next_state(status.state, action, status.id),
        reason_code=reason_code,
        reason=reason,
        enforcement_type=enforcement_type,
        enforcement_ref=enforcement_ref,
        evidence=evidence,
        refs=refs,
        changes=dict(changes or {}),
    )


def _claim(status: AlarmStatus, actor: Actor) -> dict[str, JsonValue]:
    """Owner changes when the acting user takes an alarm that waits in a queue."""
    if status.owner_user is None:
        return {"owner_user": actor.user, "owner_role": actor.role}
    return {}


def acknowledge(
    conn: Connection,
    alarm_id: int,
    actor: Actor,
    *,
    now: int,
    note: str | None = None,
    expected_seq: int | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> AlarmStatus:
    """``new -> acknowledged``; the actor takes a queued alarm, and the deadline becomes the one to
    verify it."""
    status = _begin(conn, alarm_id, actor, Action.ACKNOWLEDGE, expected_seq)
    changes = _claim(status, actor)
    changes["due_ts"] = policy.verify_due(status.severity, status.opened_ts)
    event = _event(status, Action.ACKNOWLEDGE, actor, now, reason=_note(note), changes=changes)
    return commit_event(conn, status, event)


def start_verification(
    conn: Connection,
    alarm_id: int,
    actor: Actor,
    *,
    now: int,
    note: str | None = None,
    refs: Sequence[str] = (),
    expected_seq: int | None = None,
) -> AlarmStatus:
    """``acknowledged -> under_verification`` (on-site check, data review, lab analysis ...)."""
    status = _begin(conn, alarm_id, actor, Action.VERIFY, expected_seq)
    event = _event(
        status, Action.VERIFY, actor, now, reason=_note(note), refs=_refs(refs), changes=_claim(status, actor)
    )
    return commit_event(conn, status, event)


def confirm(
    conn: Connection,
    alarm_id: int,
    actor: Actor,
    *,
    now: int,
    enforcement_type: str,
    enforcement_ref: str,
    note: str | None = None,
    refs: Sequence[str] = (),
    expected_seq: int | None = None,
) -> AlarmStatus:
    """``under_verification -> confirmed``, naming the enforcement action it led to (its type from
    ``outcomes.ENFORCEMENT_TYPES`` and the case or decision reference)."""
    status = _begin(conn, alarm_id, actor, Action.CONFIRM, expected_seq)
    kind, ref = check_enforcement(enforcement_type, enforcement_ref)
    event = _event(
        status,
        Action.CONFIRM,
        actor,
        now,
        reason=_note(note),
        enforcement_type=kind,
        enforcement_ref=ref,
        refs=_refs(refs),
    )
    return commit_event(conn, status, event)


def dismiss(
    conn: Connection,
    alarm_id: int,
    actor: Actor,
    *,
    now: int,
    reason_code: str,
    reason: str,
    refs: Sequence[str] = (),
    expected_seq: int | None = None,
) -> AlarmStatus:
    """``under_verification -> dismissed`` with a reason from ``outcomes.DISMISS_REASONS`` and free
    text (a fraud or exceedance alarm only by a reviewer or enforcement officer)."""
    status = _begin(conn, alarm_id, actor, Action.DISMISS, expected_seq)
    code, text = check_dismissal(reason_code, reason)
    event = _event(status, Action.DISMISS, actor, now, reason_code=code, reason=text, refs=_refs(refs))
    return commit_event(conn, status, event)


def assign(
    conn: Connection,
    alarm_id: int,
    actor: Actor,
    *,
    now: int,
    to_user: str | None = None,
    to_role: str | None = None,
    note: str | None = None,
    expected_seq: int | None = None,
) -> AlarmStatus:
    """Give an open alarm to a user, or put it back in a role's queue. The new owner must be one
    who may verify alarms of its kind."""
    status = _begin(conn, alarm_id, actor, Action.ASSIGN, expected_seq)
    if (to_user is None) == (to_role is None):
        raise InvalidDecision("to", (to_user, to_role), "exactly one of a user or a role")
    if to_user is not None:
        owner = actor_for(conn, to_user)
        owner_user: str | None = owner.user
    else:
        if to_role not in ROLES:
            raise InvalidDecision("to_role", to_role, f"one of {ROLES}")
        owner = Actor(f"(queue {to_role})", str(to_role))
        owner_user = None
    if not may(owner, Action.VERIFY, status.kind, status.enterprise_id):
        raise InvalidDecision(
            "to", to_user or to_role, f"a user or role that may verify {status.kind!r} alarms"
        )
    changes: dict[str, JsonValue] = {"owner_user": owner_user, "owner_role": owner.role}
    event = _event(status, Action.ASSIGN, actor, now, reason=_note(note), changes=changes)
    return commit_event(conn, status, event)


def comment(
    conn: Connection,
    alarm_id: int,
    actor: Actor,
    *,
    now: int,
    text: str,
    refs: Sequence[str] = (),
    expected_seq: int | None = None,
) -> AlarmStatus:
    """Add a comment; for an enterprise user this is its explanation, with its documents in
    ``refs``. The state does not change."""
    status = _begin(conn, alarm_id, actor, Action.COMMENT, expected_seq)
    body = _note(text)
    if body is None:
        raise InvalidDecision("text", text, "a non-empty comment")
    return commit_event(
        conn, status, _event(status, Action.COMMENT, actor, now, reason=body, refs=_refs(refs))
    )


def reopen(
    conn: Connection,
    alarm_id: int,
    actor: Actor,
    *,
    now: int,
    reason: str,
    refs: Sequence[str] = (),
    policy: Policy = DEFAULT_POLICY,
) -> AlarmStatus:
    """Reopen a confirmed or dismissed alarm as a **new** alarm that names the one it supersedes;
    the closed alarm keeps its outcome and records the reopening. Returns the new alarm."""
    old = _begin(conn, alarm_id, actor, Action.REOPEN, None)
    if old.superseded_by_id is not None:
        raise AlreadySuperseded(alarm_id, old.superseded_by_id)
    text = _note(reason)
    if text is None:
        raise InvalidDecision("reason", reason, "why the alarm is reopened")
    evidence = tuple(str(row["fingerprint"]) for row in db.evidence_rows(conn, alarm_id))
    new = open_alarm(
        conn,
        actor,
        now=now,
        station_id=old.station_id,
        enterprise_id=old.enterprise_id,
        pattern=old.pattern,
        kind=old.kind,
        detector=old.detector,
        parameters=old.parameters,
        start_ts=old.start_ts,
        end_ts=old.end_ts,
        score=old.score,
        severity=old.severity,
        evidence=evidence,
        supersedes_id=old.id,
        reason=text,
        refs=_refs(refs),
        policy=policy,
    )
    event = _event(
        old, Action.REOPEN, actor, now, reason=text, refs=_refs(refs), changes={"superseded_by_id": new.id}
    )
    commit_event(conn, old, event)
    return new


def open_alarm(
    conn: Connection,
    actor: Actor,
    *,
    now: int,
    station_id: int,
    enterprise_id: int | None,
    pattern: str,
    kind: str,
    detector: str,
    parameters: Sequence[str],
    start_ts: int,
    end_ts: int,
    score: float,
    severity: str | None = None,
    evidence: tuple[str, ...] = (),
    supersedes_id: int | None = None,
    reason: str | None = None,
    refs: tuple[str, ...] = (),
    policy: Policy = DEFAULT_POLICY,
) -> AlarmStatus:
    """Insert a new alarm and its sealed opening event (the building block of intake and reopen)."""
    level = severity or policy.severity(kind, score)
    codes: list[JsonValue] = [str(p) for p in sorted(set(parameters))]
    changes: dict[str, JsonValue] = {
        "station_id": station_id,
        "enterprise_id": enterprise_id,
        "pattern": pattern,
        "kind": kind,
        "detector": detector,
        "parameters": codes,
        "start_ts": start_ts,
        "end_ts": end_ts,
        "severity": level,
        "score": score_text(score),
        "owner_user": None,
        "owner_role": policy.queue(kind),
        "escalation_level": 0,
        "due_ts": policy.acknowledge_due(level, now),
        "supersedes_id": supersedes_id,
    }
    placeholder = {
        **changes,
        "parameters": "[]",
        "score": score,
        "state": str(State.NEW),
        "opened_ts": now,
        "updated_ts": now,
        "last_seq": 0,
    }
    alarm_id = db.insert_alarm(conn, placeholder)
    first = AlarmEvent(
        alarm_id=alarm_id,
        seq=1,
        ts=now,
        action=Action.OPEN,
        actor=actor.user,
        role=actor.role,
        prev_state=None,
        state=next_state(None, Action.OPEN),
        reason=reason,
        evidence=evidence,
        refs=refs,
        changes=changes,
    )
    return commit_event(conn, None, first)
