"""Checking that every alarm is what its sealed history says.

For each alarm :func:`check_alarm` verifies that

1. each ``alarm_event`` row agrees with its own payload (alarm, seq, time, action, actor, role,
   states) and that payload is byte for byte the ledger leaf at ``leaf_index`` (kind
   ``alarm_event``) -- so an edited event shows up here, and an edited leaf shows up in the
   ledger's own verification against the signed checkpoints;
2. the events replay through the state machine (no gap in ``seq``, no illegal transition);
3. the cached ``alarm`` row equals the replayed status, column by column;
4. each stored evidence hashes to its fingerprint, and that fingerprint is named by the sealed
   event that attached it.

Disagreements are returned, not raised, so that one report lists them all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields

from sqlalchemy import Connection, Engine

from envtrace.alarms.errors import CorruptHistory
from envtrace.alarms.history import LEDGER_KIND, AlarmEvent, replay
from envtrace.alarms.records import status_from_row
from envtrace.store import alarms as db
from envtrace.store.errors import NodeNotFound
from envtrace.store.ledger_log import encode_leaf, leaf


@dataclass(frozen=True, slots=True)
class Disagreement:
    """``what`` of alarm ``alarm_id`` is ``found`` where the sealed history gives ``expected``."""

    alarm_id: int
    what: str
    found: object
    expected: object

    def __str__(self) -> str:
        return f"alarm {self.alarm_id}: {self.what} is {self.found!r}, history says {self.expected!r}"


_ROW_FIELDS = ("alarm_id", "seq", "ts", "action", "actor", "role", "prev_state", "state")


def _event_row_problems(alarm_id: int, row: dict[str, object], event: AlarmEvent) -> list[Disagreement]:
    sealed = {
        "alarm_id": event.alarm_id,
        "seq": event.seq,
        "ts": event.ts,
        "action": str(event.action),
        "actor": event.actor,
        "role": event.role,
        "prev_state": None if event.prev_state is None else str(event.prev_state),
        "state": str(event.state),
    }
    where = f"event {row['seq']}"
    return [
        Disagreement(alarm_id, f"{where} column {name}", row[name], sealed[name])
        for name in _ROW_FIELDS
        if row[name] != sealed[name]
    ]


def _leaf_problem(conn: Connection, alarm_id: int, row: dict[str, object]) -> Disagreement | None:
    where = f"event {row['seq']} leaf {row['leaf_index']}"
    try:
        sealed = leaf(conn, int(str(row["leaf_index"])))
    except NodeNotFound:
        return Disagreement(alarm_id, where, "missing", "present")
    expected = encode_leaf(LEDGER_KIND, json.loads(str(row["payload"])))
    if sealed.kind != LEDGER_KIND or sealed.payload != expected:
        return Disagreement(alarm_id, f"{where} payload", expected.decode(), sealed.payload.decode())
    return None


def check_alarm(conn: Connection, alarm_id: int) -> list[Disagreement]:
    """Every disagreement between alarm ``alarm_id``'s cache, history, ledger and evidence."""
    problems: list[Disagreement] = []
    events: list[AlarmEvent] = []
    for mapping in db.event_rows(conn, alarm_id):
        row = dict(mapping)
        try:
            event = AlarmEvent.from_payload(json.loads(str(row["payload"])))
        except (CorruptHistory, ValueError) as exc:
            problems.append(Disagreement(alarm_id, f"event {row['seq']} payload", row["payload"], str(exc)))
            continue
        problems.extend(_event_row_problems(alarm_id, row, event))
        leaf_problem = _leaf_problem(conn, alarm_id, row)
        if leaf_problem is not None:
            problems.append(leaf_problem)
        events.append(event)
    try:
        derived = replay(events)
    except CorruptHistory as exc:
        return [*problems, Disagreement(alarm_id, "history", "does not replay", str(exc))]
    cached_row = db.alarm_row(conn, alarm_id)
    if cached_row is None:
        return [*problems, Disagreement(alarm_id, "alarm row", None, "present")]
    cached = status_from_row(cached_row)
    for f in fields(cached):
        if getattr(cached, f.name) != getattr(derived, f.name):
            problems.append(Disagreement(alarm_id, f.name, getattr(cached, f.name), getattr(derived, f.name)))
    named = {(e.seq, fp) for e in events for fp in e.evidence}
    for ev in db.evidence_rows(conn, alarm_id):
        digest = hashlib.sha256(str(ev["body"]).encode("utf-8")).hexdigest()
        if digest != ev["fingerprint"]:
            problems.append(
                Disagreement(alarm_id, f"evidence {ev['id']} body hash", digest, ev["fingerprint"])
            )
        if (int(ev["seq"]), str(ev["fingerprint"])) not in named:
            problems.append(
                Disagreement(alarm_id, f"evidence {ev['id']}", "not named by its event", f"event {ev['seq']}")
            )
    return problems


def check_alarms(engine: Engine) -> list[Disagreement]:
    """:func:`check_alarm` over every alarm, plus sealed alarm events that have no row (alarm id
    -1 when the leaf cannot be read), in one read transaction."""
    with engine.connect() as conn:
        problems: list[Disagreement] = []
        for alarm_id in db.all_alarm_ids(conn):
            problems.extend(check_alarm(conn, alarm_id))
        for idx in db.unstored_alarm_leaves(conn, LEDGER_KIND):
            record = leaf(conn, idx).record()
            alarm = record.get("alarm")
            problems.append(
                Disagreement(
                    alarm if isinstance(alarm, int) else -1,
                    f"sealed event {record.get('seq')} (leaf {idx})",
                    "missing from alarm_event",
                    "stored",
                )
            )
        return problems
