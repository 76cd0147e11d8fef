"""``/api/v1/alarms``: the alarm inbox and decisions, through ``envtrace.alarms``.

Who may read which alarm, and who may take which decision on which kind of alarm, is the alarms
package's rule table (``envtrace.alarms.permissions``); each route here declares the roles that
some rule admits for its action, and the alarms service refuses the rest (403).
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from envtrace.accounts import Role
from envtrace.alarms import (
    ACTION_RULES,
    OPEN_STATES,
    Action,
    Actor,
    AlarmError,
    AlarmNotFound,
    AlarmStatus,
    IllegalTransition,
    InvalidDecision,
    NotPermitted,
    StaleAlarm,
    acknowledge,
    comment,
    get_alarm,
    list_alarms,
    start_verification,
)
from envtrace.web.access import require
from envtrace.web.context import Principal
from envtrace.web.deps import AnyUser, ReadConn, WriteConn
from envtrace.web.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound
from envtrace.web.models import ERROR_RESPONSES
from envtrace.web.params import NO_CONTROL, Cursor, IdPath

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"], responses=ERROR_RESPONSES)


def roles_for(action: Action) -> tuple[Role, ...]:
    """Every user role some rule of ``envtrace.alarms`` lets take ``action`` (on some alarm)."""
    names = {r for rule in ACTION_RULES if rule.action is action for r in rule.roles}
    return tuple(sorted((Role(n) for n in names if n in Role.__members__.values()), key=str))


Acknowledger = Annotated[Principal, require(*roles_for(Action.ACKNOWLEDGE))]
Verifier = Annotated[Principal, require(*roles_for(Action.VERIFY))]
Commenter = Annotated[Principal, require(*roles_for(Action.COMMENT))]


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
    due_ts: int | None
    opened_ts: int
    updated_ts: int
    closed_ts: int | None
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
    reason: str | None


class EvidenceOut(BaseModel):
    detector: str
    pattern: str
    start_ts: int
    end_ts: int
    score: float
    reason_zh: str
    reason_en: str


class AlarmDetailOut(AlarmOut):
    station_mn: str
    station_name: str | None
    overdue: bool
    actions: list[str]
    events: list[AlarmEventOut]
    evidence: list[EvidenceOut]


class DecisionIn(BaseModel):
    note: str | None = Field(None, max_length=2000, pattern=NO_CONTROL)
    expected_seq: int | None = Field(None, ge=0, le=2**31, description="refuse if the alarm changed since")


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000, pattern=NO_CONTROL)
    expected_seq: int | None = Field(None, ge=0, le=2**31)


def actor(principal: Principal) -> Actor:
    user = principal.user
    if user is None:  # require() has let only users through
        raise Forbidden("log in first")
    return Actor(user.username, user.role, user.enterprise_id)


def alarm_out(s: AlarmStatus) -> AlarmOut:
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
        due_ts=s.due_ts,
        opened_ts=s.opened_ts,
        updated_ts=s.updated_ts,
        closed_ts=s.closed_ts,
        last_seq=s.last_seq,
    )


def translate(exc: AlarmError) -> ApiError:
    """The alarms package's errors as HTTP errors."""
    if isinstance(exc, AlarmNotFound):
        return NotFound(str(exc))
    if isinstance(exc, NotPermitted):
        return Forbidden(str(exc))
    if isinstance(exc, IllegalTransition | StaleAlarm):
        return Conflict(str(exc))
    if isinstance(exc, InvalidDecision):
        return BadRequest(str(exc))
    return BadRequest(str(exc))


def inbox(
    conn: Connection, principal: Principal, *, open_only: bool, mine: bool, before_id: int | None, limit: int
) -> list[AlarmStatus]:
    states = OPEN_STATES if open_only else None
    return list_alarms(conn, actor(principal), states=states, mine=mine, before_id=before_id, limit=limit)


def detail(conn: Connection, principal: Principal, alarm_id: int) -> AlarmDetailOut:
    try:
        d = get_alarm(conn, alarm_id, actor(principal), now=int(time.time()))
    except AlarmError as exc:
        raise translate(exc) from None
    base = alarm_out(d.status).model_dump()
    return AlarmDetailOut(
        **base,
        station_mn=d.station_mn,
        station_name=d.station_name,
        overdue=d.overdue,
        actions=[str(a) for a in d.actions],
        events=[
            AlarmEventOut(
                seq=e.seq,
                ts=e.ts,
                action=str(e.action),
                actor=e.actor,
                role=e.role,
                state=str(e.state),
                reason=e.reason,
            )
            for e in d.events
        ],
        evidence=[
            EvidenceOut(
                detector=v.detector,
                pattern=v.pattern,
                start_ts=v.start_ts,
                end_ts=v.end_ts,
                score=v.score,
                reason_zh=v.reason_zh,
                reason_en=v.reason_en,
            )
            for v in d.evidence
        ],
    )


@router.get("", response_model=AlarmList)
def list_(
    principal: AnyUser,
    conn: ReadConn,
    state: Literal["open", "all"] = "open",
    queue: Literal["all", "mine"] = "all",
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlarmList:
    """The alarms the caller may read (enterprise users: their own outlets'), newest first."""
    rows = inbox(
        conn, principal, open_only=state == "open", mine=queue == "mine", before_id=cursor, limit=limit
    )
    data = [alarm_out(s) for s in rows]
    return AlarmList(data=data, count=len(data), next_cursor=data[-1].id if len(data) == limit else None)


@router.get("/{alarm_id}", response_model=AlarmDetailOut)
def get_(alarm_id: IdPath, principal: AnyUser, conn: ReadConn) -> AlarmDetailOut:
    return detail(conn, principal, alarm_id)


def decide(
    conn: Connection, principal: Principal, alarm_id: int, action: Action, body: DecisionIn
) -> AlarmOut:
    now = int(time.time())
    who = actor(principal)
    try:
        if action is Action.ACKNOWLEDGE:
            status = acknowledge(conn, alarm_id, who, now=now, note=body.note, expected_seq=body.expected_seq)
        else:
            status = start_verification(
                conn, alarm_id, who, now=now, note=body.note, expected_seq=body.expected_seq
            )
    except AlarmError as exc:
        raise translate(exc) from None
    return alarm_out(status)


@router.post("/{alarm_id}/acknowledge", response_model=AlarmOut)
def acknowledge_(alarm_id: IdPath, body: DecisionIn, principal: Acknowledger, conn: WriteConn) -> AlarmOut:
    """``new -> acknowledged``: the caller takes the alarm (sealed in the ledger)."""
    return decide(conn, principal, alarm_id, Action.ACKNOWLEDGE, body)


@router.post("/{alarm_id}/verify", response_model=AlarmOut)
def verify_(alarm_id: IdPath, body: DecisionIn, principal: Verifier, conn: WriteConn) -> AlarmOut:
    """``acknowledged -> under_verification``."""
    return decide(conn, principal, alarm_id, Action.VERIFY, body)


@router.post("/{alarm_id}/comment", response_model=AlarmOut)
def comment_(alarm_id: IdPath, body: CommentIn, principal: Commenter, conn: WriteConn) -> AlarmOut:
    """Add a comment (an enterprise user's explanation on its own alarm)."""
    try:
        status = comment(
            conn,
            alarm_id,
            actor(principal),
            now=int(time.time()),
            text=body.text,
            expected_seq=body.expected_seq,
        )
    except AlarmError as exc:
        raise translate(exc) from None
    return alarm_out(status)
