"""An alarm is its history: the sealed events, and the status they fold into. Pure, no I/O.

Every change to an alarm is one :class:`AlarmEvent`. Its :meth:`~AlarmEvent.payload` is the exact
record appended to the ledger and stored in ``alarm_event``; :func:`replay` folds a history into an
:class:`AlarmStatus`, and the ``alarm`` row is nothing but a cache of that fold (see
``envtrace.alarms.audit``). An event carries the state before and after it, checked against the
state machine on replay, and the fields it sets (``changes``): an ``open`` event sets every
descriptive field; later events set only what they change (owner, deadline, window ...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envtrace.alarms.errors import CorruptHistory, IllegalTransition
from envtrace.alarms.machine import TERMINAL_STATES, Action, State, next_state

PAYLOAD_FORMAT = 1
LEDGER_KIND = "alarm_event"

# What a sealed record may hold: the ledger's canonical encoding has no floats, so a score travels
# as its shortest decimal string (``score_text``), which reads back to the same float.
JsonValue = str | int | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


def score_text(score: float) -> str:
    """The decimal string a score is sealed as (``repr``: the shortest text that reads back)."""
    return repr(float(score))


@dataclass(frozen=True, slots=True)
class AlarmStatus:
    """What an alarm is now: the fold of its events (and the columns of the ``alarm`` cache row)."""

    id: int
    station_id: int
    enterprise_id: int | None
    pattern: str
    kind: str
    detector: str
    parameters: tuple[str, ...]
    start_ts: int
    end_ts: int
    severity: str
    score: float
    state: State
    owner_user: str | None
    owner_role: str
    escalation_level: int
    due_ts: int | None
    opened_ts: int
    updated_ts: int
    closed_ts: int | None
    supersedes_id: int | None
    superseded_by_id: int | None
    enforcement_type: str | None
    enforcement_ref: str | None
    dismiss_reason: str | None
    last_seq: int

    @property
    def is_open(self) -> bool:
        return self.state not in TERMINAL_STATES


# Fields an ``open`` event must set, and fields later events may change.
OPEN_FIELDS: tuple[str, ...] = (
    "station_id",
    "enterprise_id",
    "pattern",
    "kind",
    "detector",
    "parameters",
    "start_ts",
    "end_ts",
    "severity",
    "score",
    "owner_user",
    "owner_role",
    "escalation_level",
    "due_ts",
    "supersedes_id",
)
CHANGEABLE_FIELDS: frozenset[str] = frozenset(
    {
        "parameters",
        "start_ts",
        "end_ts",
        "severity",
        "score",
        "owner_user",
        "owner_role",
        "escalation_level",
        "due_ts",
        "superseded_by_id",
    }
)


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One sealed change of one alarm."""

    alarm_id: int
    seq: int
    ts: int
    action: Action
    actor: str
    role: str
    prev_state: State | None
    state: State
    reason_code: str | None = None
    reason: str | None = None
    enforcement_type: str | None = None
    enforcement_ref: str | None = None
    evidence: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    changes: Mapping[str, JsonValue] = field(default_factory=dict)

    def payload(self) -> dict[str, JsonValue]:
        """The ledger record (kind :data:`LEDGER_KIND`): every field, JSON-ready."""
        return {
            "format": PAYLOAD_FORMAT,
            "alarm": self.alarm_id,
            "seq": self.seq,
            "ts": self.ts,
            "action": str(self.action),
            "actor": self.actor,
            "role": self.role,
            "prev_state": None if self.prev_state is None else str(self.prev_state),
            "state": str(self.state),
            "reason_code": self.reason_code,
            "reason": self.reason,
            "enforcement_type": self.enforcement_type,
            "enforcement_ref": self.enforcement_ref,
            "evidence": list(self.evidence),
            "refs": list(self.refs),
            "changes": {k: _json_ready(v) for k, v in sorted(self.changes.items())},
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AlarmEvent:
        """The event a stored payload describes (the inverse of :meth:`payload`)."""
        try:
            alarm_id = int(payload["alarm"])
            seq = int(payload["seq"])
            prev = payload["prev_state"]
            return cls(
                alarm_id=alarm_id,
                seq=seq,
                ts=int(payload["ts"]),
                action=Action(payload["action"]),
                actor=str(payload["actor"]),
                role=str(payload["role"]),
                prev_state=None if prev is None else State(prev),
                state=State(payload["state"]),
                reason_code=payload.get("reason_code"),
                reason=payload.get("reason"),
                enforcement_type=payload.get("enforcement_type"),
                enforcement_ref=payload.get("enforcement_ref"),
                evidence=tuple(payload.get("evidence", ())),
                refs=tuple(payload.get("refs", ())),
                changes=dict(payload.get("changes", {})),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CorruptHistory(
                int(payload.get("alarm", -1)), int(payload.get("seq", -1)), f"unreadable payload: {exc}"
            ) from exc


def _json_ready(value: object) -> JsonValue:
    if isinstance(value, tuple | list):
        return [_json_ready(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"not a JSON value: {value!r}")


def _coerce(name: str, value: JsonValue) -> object:
    if name == "parameters":
        if not isinstance(value, list):
            raise TypeError(f"parameters must be a list, not {value!r}")
        return tuple(str(v) for v in value)
    if name == "score":
        return float(str(value))
    return value


def apply(status: AlarmStatus | None, event: AlarmEvent) -> AlarmStatus:
    """The status after ``event``; :class:`CorruptHistory` if it cannot follow ``status``."""
    current = None if status is None else status.state
    if event.prev_state != current:
        raise CorruptHistory(
            event.alarm_id, event.seq, f"says the state was {event.prev_state}, it was {current}"
        )
    try:
        after = next_state(current, event.action, event.alarm_id)
    except IllegalTransition as exc:
        raise CorruptHistory(event.alarm_id, event.seq, str(exc)) from exc
    if after != event.state:
        raise CorruptHistory(event.alarm_id, event.seq, f"says {event.state}, the machine gives {after}")
    changes = {name: _coerce(name, value) for name, value in event.changes.items()}
    if status is None:
        return _opened(event, changes)
    if status.id != event.alarm_id or event.seq != status.last_seq + 1:
        raise CorruptHistory(
            event.alarm_id, event.seq, f"does not follow event {status.last_seq} of alarm {status.id}"
        )
    unknown = set(changes) - CHANGEABLE_FIELDS
    if unknown:
        raise CorruptHistory(event.alarm_id, event.seq, f"changes fixed fields {sorted(unknown)}")
    closing = after in TERMINAL_STATES and status.state not in TERMINAL_STATES
    updates: dict[str, object] = {
        **changes,
        "state": after,
        "updated_ts": event.ts,
        "last_seq": event.seq,
    }
    if closing:
        updates["closed_ts"] = event.ts
        updates["due_ts"] = None
    if event.action is Action.CONFIRM:
        updates["enforcement_type"] = event.enforcement_type
        updates["enforcement_ref"] = event.enforcement_ref
    if event.action is Action.DISMISS:
        updates["dismiss_reason"] = event.reason_code
    return dataclasses.replace(status, **updates)  # type: ignore[arg-type]


def _opened(event: AlarmEvent, changes: Mapping[str, object]) -> AlarmStatus:
    missing = [name for name in OPEN_FIELDS if name not in changes]
    extra = set(changes) - set(OPEN_FIELDS)
    if event.seq != 1 or missing or extra:
        raise CorruptHistory(
            event.alarm_id,
            event.seq,
            f"an opening event must be event 1 and set exactly {list(OPEN_FIELDS)}"
            f" (missing {missing}, extra {sorted(extra)})",
        )
    return AlarmStatus(
        id=event.alarm_id,
        state=event.state,
        opened_ts=event.ts,
        updated_ts=event.ts,
        closed_ts=None,
        superseded_by_id=None,
        enforcement_type=None,
        enforcement_ref=None,
        dismiss_reason=None,
        last_seq=event.seq,
        **changes,  # type: ignore[arg-type]
    )


def replay(events: Iterable[AlarmEvent]) -> AlarmStatus:
    """Fold a whole history (event 1 first) into the alarm's status."""
    status: AlarmStatus | None = None
    for event in events:
        status = apply(status, event)
    if status is None:
        raise CorruptHistory(-1, 0, "an alarm needs at least its opening event")
    return status
