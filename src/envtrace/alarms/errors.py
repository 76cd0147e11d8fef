"""Errors of ``envtrace.alarms``; each carries the offending input.

::

    AlarmError
    ├── IllegalTransition        the action is not allowed from the alarm's state (names both)
    ├── NotPermitted             the actor's role may not take this action on this alarm
    ├── InvalidDecision (ValueError)
    │                            a missing or unknown reason code, enforcement type, owner, field
    ├── AlarmNotFound            no alarm with that id
    ├── UnknownUser              ``--as`` / assignment names no user, or a locked one
    ├── StaleAlarm               the caller acted on an older version of the alarm
    ├── AlreadySuperseded        a closed alarm was already reopened (names the new alarm)
    ├── CorruptHistory           an alarm's event history does not replay (seq gap, bad state)
    ├── UnknownStation           evidence names a station the registry does not know
    ├── InvalidPolicy (ValueError)
    │                            a deadline / escalation / notification setting is malformed
    └── SignatureError           a webhook request fails verification
        ├── BadSignature         the HMAC does not match the body
        └── StaleTimestamp       the timestamp is outside the replay window
"""

from __future__ import annotations


class AlarmError(Exception):
    """Base of every error of ``envtrace.alarms``."""


class IllegalTransition(AlarmError):
    """``action`` is not a transition of the state machine from ``state``."""

    def __init__(self, state: str | None, action: str, alarm_id: int | None = None) -> None:
        where = f"alarm {alarm_id} " if alarm_id is not None else ""
        shown = "(no alarm yet)" if state is None else repr(state)
        super().__init__(f"{where}cannot {action!r} from state {shown}")
        self.state = state
        self.action = action
        self.alarm_id = alarm_id


class NotPermitted(AlarmError):
    """The actor's role may not take ``action`` (on an alarm of ``kind``)."""

    def __init__(self, user: str, role: str, action: str, kind: str, why: str) -> None:
        super().__init__(f"user {user!r} (role {role!r}) may not {action!r} a {kind!r} alarm: {why}")
        self.user = user
        self.role = role
        self.action = action
        self.kind = kind
        self.why = why


class InvalidDecision(AlarmError, ValueError):
    """A decision lacks what it needs, or names a value outside the controlled lists."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        super().__init__(f"{field}={value!r} is invalid: expected {expected}")
        self.field = field
        self.value = value
        self.expected = expected


class AlarmNotFound(AlarmError, LookupError):
    def __init__(self, alarm_id: int) -> None:
        super().__init__(f"no alarm with id {alarm_id}")
        self.alarm_id = alarm_id


class UnknownUser(AlarmError, LookupError):
    def __init__(self, username: str, why: str = "no such user") -> None:
        super().__init__(f"user {username!r}: {why}")
        self.username = username
        self.why = why


class StaleAlarm(AlarmError):
    """The caller saw version ``expected_seq`` but the alarm is at ``actual_seq``."""

    def __init__(self, alarm_id: int, expected_seq: int, actual_seq: int) -> None:
        super().__init__(
            f"alarm {alarm_id} changed since it was read (seen event {expected_seq}, now {actual_seq}):"
            " reload it and decide again"
        )
        self.alarm_id = alarm_id
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq


class AlreadySuperseded(AlarmError):
    def __init__(self, alarm_id: int, superseded_by: int) -> None:
        super().__init__(f"alarm {alarm_id} was already reopened as alarm {superseded_by}")
        self.alarm_id = alarm_id
        self.superseded_by = superseded_by


class CorruptHistory(AlarmError):
    """Event ``seq`` of alarm ``alarm_id`` cannot follow the events before it."""

    def __init__(self, alarm_id: int, seq: int, problem: str) -> None:
        super().__init__(f"alarm {alarm_id} event {seq}: {problem}")
        self.alarm_id = alarm_id
        self.seq = seq
        self.problem = problem


class UnknownStation(AlarmError, LookupError):
    def __init__(self, station: object) -> None:
        super().__init__(f"no station {station!r} in the registry (by MN or id)")
        self.station = station


class InvalidPolicy(AlarmError, ValueError):
    def __init__(self, where: str, value: object, expected: str) -> None:
        super().__init__(f"{where}={value!r} is invalid: expected {expected}")
        self.where = where
        self.value = value
        self.expected = expected


class SignatureError(AlarmError):
    """A webhook request does not verify."""


class BadSignature(SignatureError):
    def __init__(self, received: str | None) -> None:
        super().__init__(f"webhook signature {received!r} does not match the body")
        self.received = received


class StaleTimestamp(SignatureError):
    def __init__(self, timestamp: str | None, now: int, window_s: int) -> None:
        super().__init__(
            f"webhook timestamp {timestamp!r} is not within {window_s} s of now ({now}): possible replay"
        )
        self.timestamp = timestamp
        self.now = now
        self.window_s = window_s
