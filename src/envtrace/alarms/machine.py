"""The alarm state machine: pure, no I/O.

::

    (none) --open--> new --acknowledge--> acknowledged --verify--> under_verification
                                                                   |--confirm--> confirmed
                                                                   `--dismiss--> dismissed

In every open state (new, acknowledged, under_verification) the actions ``extend`` (new evidence
joins the alarm), ``assign``, ``comment`` and ``escalate`` leave the state unchanged. In the two
terminal states only ``reopen`` is possible, and it does not change the terminal alarm either: it
opens a new alarm that names the closed one it supersedes (nothing is ever edited in place).
"""

from __future__ import annotations

from enum import StrEnum

from envtrace.alarms.errors import IllegalTransition


class State(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    UNDER_VERIFICATION = "under_verification"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class Action(StrEnum):
    OPEN = "open"
    EXTEND = "extend"
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    VERIFY = "verify"
    CONFIRM = "confirm"
    DISMISS = "dismiss"
    COMMENT = "comment"
    ESCALATE = "escalate"
    REOPEN = "reopen"


OPEN_STATES: frozenset[State] = frozenset({State.NEW, State.ACKNOWLEDGED, State.UNDER_VERIFICATION})
TERMINAL_STATES: frozenset[State] = frozenset({State.CONFIRMED, State.DISMISSED})

# Actions that keep the state as it is, and the states they are allowed in.
_STAYING: dict[Action, frozenset[State]] = {
    Action.EXTEND: OPEN_STATES,
    Action.ASSIGN: OPEN_STATES,
    Action.COMMENT: OPEN_STATES,
    Action.ESCALATE: OPEN_STATES,
    Action.REOPEN: TERMINAL_STATES,
}

# The complete transition table: (state before, action) -> state after.
TRANSITIONS: dict[tuple[State | None, Action], State] = {
    (None, Action.OPEN): State.NEW,
    (State.NEW, Action.ACKNOWLEDGE): State.ACKNOWLEDGED,
    (State.ACKNOWLEDGED, Action.VERIFY): State.UNDER_VERIFICATION,
    (State.UNDER_VERIFICATION, Action.CONFIRM): State.CONFIRMED,
    (State.UNDER_VERIFICATION, Action.DISMISS): State.DISMISSED,
} | {(state, action): state for action, states in _STAYING.items() for state in states}


def next_state(state: State | None, action: Action, alarm_id: int | None = None) -> State:
    """The state after ``action``; :class:`IllegalTransition` names both when there is none."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(None if state is None else str(state), str(action), alarm_id) from None


def allowed_actions(state: State | None) -> tuple[Action, ...]:
    """The actions the machine accepts in ``state``, in declaration order (roles aside)."""
    return tuple(a for a in Action if (state, a) in TRANSITIONS)


def is_open(state: State) -> bool:
    return state in OPEN_STATES
