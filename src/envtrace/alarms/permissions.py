"""Who may do what to which alarm: every rule is data in this module, nowhere else.

An action is permitted when some row of :data:`ACTION_RULES` names it, the actor's role, and (if
the row restricts them) the alarm's kind, and -- for rows marked ``own_only`` -- the alarm belongs
to the actor's enterprise. Reading is governed by :data:`READ_RULES`.

The reasoning behind the table:

* Enterprise users are the monitored party: they may read their own outlets' alarms and comment
  (submit explanations) on them, never acknowledge, verify, confirm, dismiss or assign. They do not
  see a suspected-fraud alarm while it is only ``new``/``acknowledged`` (no tip-off before
  verification starts), nor the internal reasons and notes of officials.
* Closing an alarm that may lead to a penalty (``fraud`` or ``exceedance``) either way needs a
  reviewer or an enforcement officer. Data-quality (``qc``) and ``offline`` alarms may also be
  dismissed by monitoring staff and lab analysts.
* The administrator runs the platform, not cases: it reads alarms but takes no decision on them.
* Discipline inspectors read everything, including dismissal reasons, may comment, and may reopen
  a closed alarm (the new alarm names the one it supersedes).
* ``system`` is the platform itself (detectors, escalation runner); only it opens, extends and
  escalates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from envtrace.accounts import USER_ROLES
from envtrace.alarms.errors import NotPermitted
from envtrace.alarms.machine import Action, State

ROLES: tuple[str, ...] = tuple(str(role) for role in USER_ROLES)
"""The platform's user roles, as ``envtrace.accounts`` defines them."""

SYSTEM_ROLE = "system"
KINDS: tuple[str, ...] = ("fraud", "qc", "exceedance", "offline")
ENFORCEABLE_KINDS: frozenset[str] = frozenset({"fraud", "exceedance"})
QUALITY_KINDS: frozenset[str] = frozenset({"qc", "offline"})
INTERNAL_ROLES: frozenset[str] = frozenset(ROLES) - {"enterprise"}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user name, the user's role, and for enterprise users their enterprise."""

    user: str
    role: str
    enterprise_id: int | None = None


SYSTEM = Actor("system", SYSTEM_ROLE)


@dataclass(frozen=True, slots=True)
class ActionRule:
    action: Action
    roles: frozenset[str]
    kinds: frozenset[str] | None = None
    own_only: bool = False


@dataclass(frozen=True, slots=True)
class ReadRule:
    own_only: bool
    internal_notes: bool
    hidden_while: Mapping[str, frozenset[State]]


def _r(
    action: Action, roles: set[str], kinds: frozenset[str] | None = None, *, own_only: bool = False
) -> ActionRule:
    return ActionRule(action, frozenset(roles), kinds, own_only)


ACTION_RULES: tuple[ActionRule, ...] = (
    _r(Action.OPEN, {SYSTEM_ROLE}),
    _r(Action.EXTEND, {SYSTEM_ROLE}),
    _r(Action.ESCALATE, {SYSTEM_ROLE}),
    _r(Action.ACKNOWLEDGE, {"monitoring_staff", "enforcement_officer", "reviewer"}),
    _r(Action.ACKNOWLEDGE, {"lab_analyst"}, QUALITY_KINDS),
    _r(Action.ASSIGN, {"monitoring_staff", "enforcement_officer", "reviewer"}),
    _r(Action.VERIFY, {"monitoring_staff", "enforcement_officer", "reviewer"}),
    _r(Action.VERIFY, {"lab_analyst"}, QUALITY_KINDS),
    _r(Action.CONFIRM, {"enforcement_officer", "reviewer"}),
    _r(Action.DISMISS, {"enforcement_officer", "reviewer"}),
    _r(Action.DISMISS, {"monitoring_staff", "lab_analyst"}, QUALITY_KINDS),
    _r(Action.COMMENT, set(INTERNAL_ROLES - {"admin"})),
    _r(Action.COMMENT, {"enterprise"}, own_only=True),
    _r(Action.REOPEN, {"enforcement_officer", "reviewer", "discipline_inspector"}),
)

_NO_HIDING: Mapping[str, frozenset[State]] = {}
READ_RULES: Mapping[str, ReadRule] = {
    **{role: ReadRule(own_only=False, internal_notes=True, hidden_while=_NO_HIDING) for role in ROLES},
    "enterprise": ReadRule(
        own_only=True,
        internal_notes=False,
        hidden_while={"fraud": frozenset({State.NEW, State.ACKNOWLEDGED})},
    ),
    SYSTEM_ROLE: ReadRule(own_only=False, internal_notes=True, hidden_while=_NO_HIDING),
}
"""Per role: only its enterprise's alarms?, sees officials' reasons and notes?, alarms it does not
see while in these states (by kind)."""


def _owns(actor: Actor, enterprise_id: int | None) -> bool:
    return actor.enterprise_id is not None and actor.enterprise_id == enterprise_id


def check_action(actor: Actor, action: Action, kind: str, enterprise_id: int | None) -> None:
    """Raise :class:`NotPermitted` unless a rule lets ``actor`` take ``action`` on such an alarm."""
    why = f"no rule lets role {actor.role!r} {action}"
    for rule in ACTION_RULES:
        if rule.action is not action or actor.role not in rule.roles:
            continue
        if rule.kinds is not None and kind not in rule.kinds:
            why = f"role {actor.role!r} may {action} only {sorted(rule.kinds)} alarms"
            continue
        if rule.own_only and not _owns(actor, enterprise_id):
            why = "the alarm is not on one of the actor's own outlets"
            continue
        return
    raise NotPermitted(actor.user, actor.role, str(action), kind, why)


def may(actor: Actor, action: Action, kind: str, enterprise_id: int | None) -> bool:
    """Whether :func:`check_action` would pass (for showing or hiding buttons)."""
    try:
        check_action(actor, action, kind, enterprise_id)
    except NotPermitted:
        return False
    return True


def can_read(actor: Actor, kind: str, state: State, enterprise_id: int | None) -> bool:
    rule = READ_RULES.get(actor.role)
    if rule is None:
        return False
    if rule.own_only and not _owns(actor, enterprise_id):
        return False
    return state not in rule.hidden_while.get(kind, frozenset())


def sees_internal_notes(actor: Actor) -> bool:
    """Whether the actor sees officials' free-text reasons, references and comments."""
    rule = READ_RULES.get(actor.role)
    return rule is not None and rule.internal_notes
