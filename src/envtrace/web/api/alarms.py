"""``/api/v1/alarms``: the alarm inbox and every decision on an alarm, through ``envtrace.alarms``.

Who may read which alarm, and who may take which decision on which kind of alarm, is the alarms
package's rule table (``envtrace.alarms.permissions``); each route here declares the roles that
some rule admits for its action, and the alarms service refuses the rest (403). The service's
errors become HTTP errors with a precise code: ``stale`` and ``illegal_transition`` and
``already_superseded`` 409, ``not_permitted`` 403, ``invalid_decision`` and ``unknown_user`` 400,
``not_found`` 404.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from envtrace.accounts import Role
from envtrace.alarms import (
    ACTION_RULES,
    DISMISS_REASONS,
    ENFORCEMENT_TYPES,
    KINDS,
    OPEN_STATES,
    ROLES,
    Action,
    Actor,
    AlarmDetail,
    AlarmError,
    AlarmNotFound,
    AlarmStatus,
    AlreadySuperseded,
    EvidenceItem,
    IllegalTransition,
    InvalidDecision,
    NotPermitted,
    StaleAlarm,
    State,
    UnknownUser,
    acknowledge,
    alarm_evidence,
    assign,
    comment,
    confirm,
    dismiss,
    get_alarm,
    list_alarms,
    may,
    reopen,
    start_verification,
)
from envtrace.store import accounts as store_accounts
from envtrace.web.access import require
from envtrace.web.context import Principal
from envtrace.web.deps import AnyUser, ReadConn, WriteConn
from envtrace.web.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound
from envtrace.web.models import ERROR_RESPONSES
from envtrace.web.params import MAX_ID, NO_CONTROL, Cursor, IdPath

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"], responses=ERROR_RESPONSES)


def roles_for(action: Action) -> tuple[Role, ...]:
    """Every user role some rule of ``envtrace.alarms`` lets take ``action`` (on some alarm)."""
    names = {r for rule in ACTION_RULES if rule.action is action for r in rule.roles}
    return tuple(sorted((Role(n) for n in names if n in Role.__members__.values()), key=str))


Acknowledger = Annotated[Principal, require(*roles_for(Action.ACKNOWLEDGE))]
Verifier = Annotated[Principal, require(*roles_for(Action.VERIFY))]
Confirmer = Annotated[Principal, require(*roles_for(Action.CONFIRM))]
Dismisser = Annotated[Principal, require(*roles_for(Action.DISMISS))]
Assigner = Annotated[Principal, require(*roles_for(Action.ASSIGN))]
Commenter = Annotated[Principal, require(*roles_for(Action.COMMENT))]
Reopener = Annotated[Principal, require(*roles_for(Action.REOPEN))]

StateFilter = Literal["open", "all", "new", "acknowledged", "under_verification", "confirmed", "dismissed"]
KindFilter = Literal["fraud", "qc", "exceedance", "offline"]
Refs = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)]], Field(max_length=20)
]
SeqIn = Annotated[int | None, Field(ge=0, le=2**31, description="refuse (409) if the alarm changed since")]


class AlarmOut(BaseModel):
    id: int
    station_id: int
    enterprise_id: int | None
    pattern: str
    kind: str
    detector: str
    parameters: list[str]
    start_ts: int
    end_ts: int
    severity: str
    score: float
    state: str
    owner_user: str | None
    owner_role: str
    escalation_level: int
    due_ts: int | None
    overdue: bool
    opened_ts: int
    updated_ts: int
    closed_ts: int | None
    supersedes_id: int | None
    superseded_by_id: int | None
    enforcement_type: str | None
    enforcement_ref: str | None
    dismiss_reason: str | None
    last_seq: int


class AlarmList(BaseModel):
    data: list[AlarmOut]
    count: int
    next_cursor: int | None


class AlarmEventOut(BaseModel):
    seq: int
    ts: int
    action: str
    actor: str
    role: str
    state: str
    reason_code: str | None
    reason: str | None
    enforcement_type: str | None
    enforcement_ref: str | None
    refs: list[str]


class PlotOut(BaseModel):
    label: str
    times: list[int]
    values: list[float | None]


class EvidenceOut(BaseModel):
    seq: int
    source: str
    detector: str
    pattern: str
    kind: str
    parameters: list[str]
    start_ts: int
    end_ts: int
    score: float
    statistic: float | None
    baseline: float | None
    threshold: float | None
    reason_zh: str
    reason_en: str
    plots: list[PlotOut]
    extra: dict[str, Any] = Field(description="Further fields, e.g. unit and standard of an exceedance")


class EvidenceList(BaseModel):
    data: list[EvidenceOut]
    count: int


class Assignee(BaseModel):
    username: str
    role: str
    display_name: str | None


class AlarmDetailOut(AlarmOut):
    station_mn: str
    station_name: str | None
    actions: list[str] = Field(description="The decisions the caller may take now")
    events: list[AlarmEventOut]
    evidence: list[EvidenceOut]
    assignable_roles: list[str] = Field(description="Role queues the caller may assign it to")
    assignable_users: list[Assignee] = Field(description="Users the caller may assign it to")


class Label(BaseModel):
    code: str
    zh: str
    en: str


class AlarmOptions(BaseModel):
    dismiss_reasons: list[Label]
    enforcement_types: list[Label]
    kinds: list[str]
    states: list[str]


class DecisionIn(BaseModel):
    note: str | None = Field(None, max_length=2000, pattern=NO_CONTROL)
    expected_seq: SeqIn = None


class VerifyIn(DecisionIn):
    refs: Refs = Field(default_factory=list)


class ConfirmIn(BaseModel):
    enforcement_type: str = Field(min_length=1, max_length=64, description="one of the options' codes")
    enforcement_ref: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL)
    note: str | None = Field(None, max_length=2000, pattern=NO_CONTROL)
    refs: Refs = Field(default_factory=list)
    expected_seq: SeqIn = None


class DismissIn(BaseModel):
    reason_code: str = Field(min_length=1, max_length=64, description="one of the options' codes")
    reason: str = Field(min_length=1, max_length=4000, pattern=NO_CONTROL)
    refs: Refs = Field(default_factory=list)
    expected_seq: SeqIn = None


class AssignIn(BaseModel):
    to_user: str | None = Field(None, min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    to_role: str | None = Field(None, max_length=32, pattern=r"^[a-z_]+$")
    note: str | None = Field(None, max_length=2000, pattern=NO_CONTROL)
    expected_seq: SeqIn = None


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000, pattern=NO_CONTROL)
    refs: Refs = Field(default_factory=list)
    expected_seq: SeqIn = None


class ReopenIn(BaseModel):
    reason: str = Field(min_length=1, max_length=4000, pattern=NO_CONTROL)
    refs: Refs = Field(default_factory=list)


def actor(principal: Principal) -> Actor:
    user = principal.user
    if user is None:  # require() has let only users through
        raise Forbidden("log in first")
    return Actor(user.username, user.role, user.enterprise_id)


def is_overdue(s: AlarmStatus, now: int) -> bool:
    return s.is_open and s.due_ts is not None and s.due_ts <= now


def alarm_out(s: AlarmStatus, now: int) -> AlarmOut:
    return AlarmOut(
        id=s.id,
        station_id=s.station_id,
        enterprise_id=s.enterprise_id,
        pattern=s.pattern,
        kind=s.kind,
        detector=s.detector,
        parameters=list(s.parameters),
        start_ts=s.start_ts,
        end_ts=s.end_ts,
        severity=s.severity,
        score=s.score,
        state=str(s.state),
        owner_user=s.owner_user,
        owner_role=s.owner_role,
        escalation_level=s.escalation_level,
        due_ts=s.due_ts,
        overdue=is_overdue(s, now),
        opened_ts=s.opened_ts,
        updated_ts=s.updated_ts,
        closed_ts=s.closed_ts,
        supersedes_id=s.supersedes_id,
        superseded_by_id=s.superseded_by_id,
        enforcement_type=s.enforcement_type,
        enforcement_ref=s.enforcement_ref,
        dismiss_reason=s.dismiss_reason,
        last_seq=s.last_seq,
    )


class AlarmApiError(ApiError):
    """An error of the alarms service, with the service's own code (``stale``, ``not_permitted`` ...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def translate(exc: AlarmError) -> ApiError:
    """The alarms package's errors as HTTP errors (status and a code a client can act on)."""
    if isinstance(exc, AlarmNotFound):
        return NotFound(str(exc))
    if isinstance(exc, NotPermitted):
        return AlarmApiError(Forbidden.status, "not_permitted", str(exc))
    if isinstance(exc, StaleAlarm):
        return AlarmApiError(Conflict.status, "stale", str(exc))
    if isinstance(exc, IllegalTransition):
        return AlarmApiError(Conflict.status, "illegal_transition", str(exc))
    if isinstance(exc, AlreadySuperseded):
        return AlarmApiError(Conflict.status, "already_superseded", str(exc))
    if isinstance(exc, UnknownUser):
        return AlarmApiError(BadRequest.status, "unknown_user", str(exc))
    if isinstance(exc, InvalidDecision):
        return AlarmApiError(BadRequest.status, "invalid_decision", str(exc))
    return BadRequest(str(exc))


def inbox(
    conn: Connection,
    principal: Principal,
    *,
    state: StateFilter = "open",
    kind: str | None = None,
    station_id: int | None = None,
    mine: bool = False,
    overdue_at: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AlarmStatus]:
    states: frozenset[State] | tuple[State, ...] | None
    if state == "open":
        states = OPEN_STATES
    elif state == "all":
        states = None
    else:
        states = (State(state),)
    return list_alarms(
        conn,
        actor(principal),
        states=states,
        kinds=None if kind is None else (kind,),
        station_id=station_id,
        mine=mine,
        overdue_at=overdue_at,
        before_id=before_id,
        limit=limit,
    )


def evidence_out(v: EvidenceItem) -> EvidenceOut:
    return EvidenceOut(
        seq=v.seq,
        source=v.source,
        detector=v.detector,
        pattern=v.pattern,
        kind=v.kind,
        parameters=list(v.parameters),
        start_ts=v.start_ts,
        end_ts=v.end_ts,
        score=v.score,
        statistic=v.statistic,
        baseline=v.baseline,
        threshold=v.threshold,
        reason_zh=v.reason_zh,
        reason_en=v.reason_en,
        plots=[PlotOut(label=p.label, times=list(p.times), values=list(p.values)) for p in v.plots],
        extra=dict(v.extra),
    )


def assignees(conn: Connection, d: AlarmDetail) -> tuple[list[str], list[Assignee]]:
    """The role queues and the (unlocked) users that may verify this alarm's kind: whom it can go to."""
    s = d.status
    roles = [r for r in ROLES if may(Actor(f"(queue {r})", r), Action.VERIFY, s.kind, s.enterprise_id)]
    users = [
        Assignee(username=u.username, role=u.role, display_name=u.display_name)
        for u in store_accounts.list_users(conn)
        if not u.locked
        and may(Actor(u.username, u.role, u.enterprise_id), Action.VERIFY, s.kind, s.enterprise_id)
    ]
    return roles, users


def detail(conn: Connection, principal: Principal, alarm_id: int) -> AlarmDetailOut:
    now = int(time.time())
    try:
        d = get_alarm(conn, alarm_id, actor(principal), now=now)
    except AlarmError as exc:
        raise translate(exc) from None
    roles, users = assignees(conn, d) if Action.ASSIGN in d.actions else ([], [])
    base = alarm_out(d.status, now).model_dump()
    return AlarmDetailOut(
        **base,
        station_mn=d.station_mn,
        station_name=d.station_name,
        actions=[str(a) for a in d.actions],
        events=[
            AlarmEventOut(
                seq=e.seq,
                ts=e.ts,
                action=str(e.action),
                actor=e.actor,
                role=e.role,
                state=str(e.state),
                reason_code=e.reason_code,
                reason=e.reason,
                enforcement_type=e.enforcement_type,
                enforcement_ref=e.enforcement_ref,
                refs=list(e.refs),
            )
            for e in d.events
        ],
        evidence=[evidence_out(v) for v in d.evidence],
        assignable_roles=roles,
        assignable_users=users,
    )


@router.get("", response_model=AlarmList)
def list_(
    *,
    principal: AnyUser,
    conn: ReadConn,
    state: StateFilter = "open",
    kind: KindFilter | None = None,
    station_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    queue: Literal["all", "mine"] = "all",
    overdue: bool = False,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlarmList:
    """The alarms the caller may read (enterprise users: their own outlets'), newest first.
    ``queue=mine``: owned by the caller or waiting in its role's queue; ``overdue``: past deadline."""
    now = int(time.time())
    rows = inbox(
        conn,
        principal,
        state=state,
        kind=kind,
        station_id=station_id,
        mine=queue == "mine",
        overdue_at=now if overdue else None,
        before_id=cursor,
        limit=limit,
    )
    data = [alarm_out(s, now) for s in rows]
    return AlarmList(data=data, count=len(data), next_cursor=data[-1].id if len(data) == limit else None)


def options() -> AlarmOptions:
    return AlarmOptions(
        dismiss_reasons=[Label(code=k, zh=v[0], en=v[1]) for k, v in DISMISS_REASONS.items()],
        enforcement_types=[Label(code=k, zh=v[0], en=v[1]) for k, v in ENFORCEMENT_TYPES.items()],
        kinds=list(KINDS),
        states=[str(s) for s in State],
    )


@router.get("/options", response_model=AlarmOptions)
def options_(_: AnyUser) -> AlarmOptions:
    """The controlled lists of decisions: dismissal reasons and enforcement types (zh/en labels)."""
    return options()


@router.get("/{alarm_id}", response_model=AlarmDetailOut)
def get_(alarm_id: IdPath, principal: AnyUser, conn: ReadConn) -> AlarmDetailOut:
    """One alarm with its history (as the caller may see it), evidence, deadline and the decisions
    the caller may take now (``actions``)."""
    return detail(conn, principal, alarm_id)


@router.get("/{alarm_id}/evidence", response_model=EvidenceList)
def evidence_(alarm_id: IdPath, principal: AnyUser, conn: ReadConn) -> EvidenceList:
    """The evidence behind an alarm (and the closed alarms it reopens): the detector's statistic,
    baseline, threshold, reasons in Chinese and English, and the series it plotted."""
    try:
        items = alarm_evidence(conn, alarm_id, actor(principal))
    except AlarmError as exc:
        raise translate(exc) from None
    data = [evidence_out(v) for v in items]
    return EvidenceList(data=data, count=len(data))


def run_decision(
    conn: Connection, principal: Principal, alarm_id: int, action: Action, body: BaseModel
) -> AlarmStatus:
    """Take one decision as ``principal`` (inside the caller's write transaction, in a savepoint:
    a refused decision writes nothing). Raises the alarms service's errors."""
    now = int(time.time())
    who = actor(principal)
    with conn.begin_nested():
        if isinstance(body, ConfirmIn):
            return confirm(
                conn,
                alarm_id,
                who,
                now=now,
                enforcement_type=body.enforcement_type,
                enforcement_ref=body.enforcement_ref,
                note=body.note,
                refs=body.refs,
                expected_seq=body.expected_seq,
            )
        if isinstance(body, DismissIn):
            return dismiss(
                conn,
                alarm_id,
                who,
                now=now,
                reason_code=body.reason_code,
                reason=body.reason,
                refs=body.refs,
                expected_seq=body.expected_seq,
            )
        if isinstance(body, AssignIn):
            return assign(
                conn,
                alarm_id,
                who,
                now=now,
                to_user=body.to_user,
                to_role=body.to_role,
                note=body.note,
                expected_seq=body.expected_seq,
            )
        if isinstance(body, CommentIn):
            return comment(
                conn, alarm_id, who, now=now, text=body.text, refs=body.refs, expected_seq=body.expected_seq
            )
        if isinstance(body, ReopenIn):
            return reopen(conn, alarm_id, who, now=now, reason=body.reason, refs=body.refs)
        if isinstance(body, VerifyIn) and action is Action.VERIFY:
            return start_verification(
                conn, alarm_id, who, now=now, note=body.note, refs=body.refs, expected_seq=body.expected_seq
            )
        if isinstance(body, DecisionIn) and action is Action.ACKNOWLEDGE:
            return acknowledge(conn, alarm_id, who, now=now, note=body.note, expected_seq=body.expected_seq)
    raise ValueError(f"no decision {action} with {type(body).__name__}")


def decide(
    conn: Connection, principal: Principal, alarm_id: int, action: Action, body: BaseModel
) -> AlarmOut:
    try:
        status = run_decision(conn, principal, alarm_id, action, body)
    except AlarmError as exc:
        raise translate(exc) from None
    return alarm_out(status, int(time.time()))


@router.post("/{alarm_id}/acknowledge", response_model=AlarmOut)
def acknowledge_(alarm_id: IdPath, body: DecisionIn, principal: Acknowledger, conn: WriteConn) -> AlarmOut:
    """``new -> acknowledged``: the caller takes the alarm (sealed in the ledger)."""
    return decide(conn, principal, alarm_id, Action.ACKNOWLEDGE, body)


@router.post("/{alarm_id}/verify", response_model=AlarmOut)
def verify_(alarm_id: IdPath, body: VerifyIn, principal: Verifier, conn: WriteConn) -> AlarmOut:
    """``acknowledged -> under_verification`` (on-site check, data review, lab analysis ...)."""
    return decide(conn, principal, alarm_id, Action.VERIFY, body)


@router.post("/{alarm_id}/confirm", response_model=AlarmOut)
def confirm_(alarm_id: IdPath, body: ConfirmIn, principal: Confirmer, conn: WriteConn) -> AlarmOut:
    """``under_verification -> confirmed``, naming the enforcement it led to (type and case or
    decision reference)."""
    return decide(conn, principal, alarm_id, Action.CONFIRM, body)


@router.post("/{alarm_id}/dismiss", response_model=AlarmOut)
def dismiss_(alarm_id: IdPath, body: DismissIn, principal: Dismisser, conn: WriteConn) -> AlarmOut:
    """``under_verification -> dismissed`` with a controlled reason code and an explanation."""
    return decide(conn, principal, alarm_id, Action.DISMISS, body)


@router.post("/{alarm_id}/assign", response_model=AlarmOut)
def assign_(alarm_id: IdPath, body: AssignIn, principal: Assigner, conn: WriteConn) -> AlarmOut:
    """Give an open alarm to a user (``to_user``) or put it in a role's queue (``to_role``)."""
    return decide(conn, principal, alarm_id, Action.ASSIGN, body)


@router.post("/{alarm_id}/comment", response_model=AlarmOut)
def comment_(alarm_id: IdPath, body: CommentIn, principal: Commenter, conn: WriteConn) -> AlarmOut:
    """Add a comment (an enterprise user's explanation on its own alarm)."""
    return decide(conn, principal, alarm_id, Action.COMMENT, body)


@router.post("/{alarm_id}/reopen", response_model=AlarmOut, status_code=201)
def reopen_(alarm_id: IdPath, body: ReopenIn, principal: Reopener, conn: WriteConn) -> AlarmOut:
    """Reopen a confirmed or dismissed alarm: answers the **new** alarm, which names the closed one."""
    return decide(conn, principal, alarm_id, Action.REOPEN, body)
