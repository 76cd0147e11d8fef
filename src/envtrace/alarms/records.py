"""Writing and reading alarm history: the one place alarms touch the ledger.

:func:`commit_event` is how every change happens: fold the event onto the current status (the
state machine refuses what it must), append the event to the ledger, store it in ``alarm_event``
with its leaf index, and refresh the ``alarm`` cache row -- all in the caller's transaction, so the
state row and its sealed record commit or roll back together.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, RowMapping

from envtrace.alarms.errors import AlarmNotFound, StaleAlarm
from envtrace.alarms.history import LEDGER_KIND, AlarmEvent, AlarmStatus, apply
from envtrace.alarms.machine import State
from envtrace.store import alarms as db
from envtrace.store.ledger_log import append, canonical_json


def payload_text(event: AlarmEvent) -> str:
    """The canonical JSON stored in ``alarm_event.payload`` (the leaf, less ``kind`` and ``v``)."""
    return canonical_json(event.payload()).decode("ascii")


def status_from_row(row: RowMapping) -> AlarmStatus:
    """The cached status of an ``alarm`` row."""

    def opt_int(name: str) -> int | None:
        value = row[name]
        return None if value is None else int(str(value))

    def opt_str(name: str) -> str | None:
        value = row[name]
        return None if value is None else str(value)

    return AlarmStatus(
        id=int(str(row["id"])),
        station_id=int(str(row["station_id"])),
        enterprise_id=opt_int("enterprise_id"),
        pattern=str(row["pattern"]),
        kind=str(row["kind"]),
        detector=str(row["detector"]),
        parameters=tuple(json.loads(str(row["parameters"]))),
        start_ts=int(str(row["start_ts"])),
        end_ts=int(str(row["end_ts"])),
        severity=str(row["severity"]),
        score=float(str(row["score"])),
        state=State(str(row["state"])),
        owner_user=opt_str("owner_user"),
        owner_role=str(row["owner_role"]),
        escalation_level=int(str(row["escalation_level"])),
        due_ts=opt_int("due_ts"),
        opened_ts=int(str(row["opened_ts"])),
        updated_ts=int(str(row["updated_ts"])),
        closed_ts=opt_int("closed_ts"),
        supersedes_id=opt_int("supersedes_id"),
        superseded_by_id=opt_int("superseded_by_id"),
        enforcement_type=opt_str("enforcement_type"),
        enforcement_ref=opt_str("enforcement_ref"),
        dismiss_reason=opt_str("dismiss_reason"),
        last_seq=int(str(row["last_seq"])),
    )


def cache_values(status: AlarmStatus) -> dict[str, object]:
    """The ``alarm`` row columns (all but ``id``) for a status."""
    return {
        "station_id": status.station_id,
        "enterprise_id": status.enterprise_id,
        "pattern": status.pattern,
        "kind": status.kind,
        "detector": status.detector,
        "parameters": json.dumps(list(status.parameters)),
        "start_ts": status.start_ts,
        "end_ts": status.end_ts,
        "severity": status.severity,
        "score": status.score,
        "state": str(status.state),
        "owner_user": status.owner_user,
        "owner_role": status.owner_role,
        "escalation_level": status.escalation_level,
        "due_ts": status.due_ts,
        "opened_ts": status.opened_ts,
        "updated_ts": status.updated_ts,
        "closed_ts": status.closed_ts,
        "supersedes_id": status.supersedes_id,
        "superseded_by_id": status.superseded_by_id,
        "enforcement_type": status.enforcement_type,
        "enforcement_ref": status.enforcement_ref,
        "dismiss_reason": status.dismiss_reason,
        "last_seq": status.last_seq,
    }


def load_status(
    conn: Connection, alarm_id: int, *, for_update: bool = False, expected_seq: int | None = None
) -> AlarmStatus:
    """The cached status of an alarm (locked with ``for_update``); :class:`AlarmNotFound`, and
    :class:`StaleAlarm` when ``expected_seq`` is given and the alarm has moved on."""
    row = db.alarm_row(conn, alarm_id, for_update=for_update)
    if row is None:
        raise AlarmNotFound(alarm_id)
    status = status_from_row(row)
    if expected_seq is not None and expected_seq != status.last_seq:
        raise StaleAlarm(alarm_id, expected_seq, status.last_seq)
    return status


def event_from_row(row: RowMapping) -> AlarmEvent:
    return AlarmEvent.from_payload(json.loads(str(row["payload"])))


def load_events(conn: Connection, alarm_id: int) -> list[AlarmEvent]:
    """The history of an alarm, event 1 first, read from the stored payloads."""
    return [event_from_row(row) for row in db.event_rows(conn, alarm_id)]


def write_event(conn: Connection, event: AlarmEvent) -> tuple[int, int]:
    """Seal ``event`` in the ledger and store it; returns (event id, leaf index)."""
    leaf_index = append(conn, LEDGER_KIND, event.payload())
    event_id = db.insert_event(
        conn,
        alarm_id=event.alarm_id,
        seq=event.seq,
        ts=event.ts,
        action=str(event.action),
        actor=event.actor,
        role=event.role,
        prev_state=None if event.prev_state is None else str(event.prev_state),
        state=str(event.state),
        payload=payload_text(event),
        leaf_index=leaf_index,
    )
    return event_id, leaf_index


def commit_event(conn: Connection, status: AlarmStatus | None, event: AlarmEvent) -> AlarmStatus:
    """Apply, seal, store and cache one event in the caller's transaction; returns the new status."""
    after = apply(status, event)
    write_event(conn, event)
    db.update_alarm(conn, after.id, cache_values(after))
    return after
