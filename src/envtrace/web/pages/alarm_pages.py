"""The alarm inbox and one alarm's page: evidence plotted, history, deadline, and a form for each
decision the viewer may take (the alarm's ``actions``: nothing else is offered).

A refused decision (the alarm changed meanwhile, the state moved on, the role may not, a reason is
missing) re-renders the alarm with the reason in the viewer's language and the HTTP status of the
API (409, 403, 400); nothing is written.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection

from envtrace.alarms import Action, AlarmError
from envtrace.store import console
from envtrace.web.api.alarms import (
    Acknowledger,
    Assigner,
    AssignIn,
    Commenter,
    CommentIn,
    Confirmer,
    ConfirmIn,
    DecisionIn,
    Dismisser,
    DismissIn,
    KindFilter,
    Reopener,
    ReopenIn,
    StateFilter,
    Verifier,
    VerifyIn,
    alarm_out,
    detail,
    inbox,
    options,
    run_decision,
    translate,
)
from envtrace.web.context import Principal
from envtrace.web.deps import AnyUser, ReadConn, WriteConn
from envtrace.web.params import MAX_ID, NO_CONTROL, Cursor, IdPath
from envtrace.web.templating import render

router = APIRouter(include_in_schema=False)
Note = Annotated[str | None, Form(max_length=2000, pattern=NO_CONTROL)]
LongText = Annotated[str, Form(min_length=1, max_length=4000, pattern=NO_CONTROL)]
RefsText = Annotated[str | None, Form(max_length=4000)]
Seq = Annotated[int | None, Form(ge=0, le=2**31)]
Code = Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]


def _refs(text: str | None) -> list[str]:
    """References typed one per line (or separated by ';')."""
    return [r.strip() for r in (text or "").replace(";", "\n").splitlines() if r.strip()]


@router.get("/console/alarms", response_class=HTMLResponse)
def alarms_page(
    *,
    request: Request,
    principal: AnyUser,
    conn: ReadConn,
    state: StateFilter = "open",
    kind: KindFilter | Literal[""] = "",
    station: Annotated[str, Query(alias="station_id", max_length=19, pattern=r"^[0-9]*$")] = "",
    queue: Literal["all", "mine"] = "all",
    overdue: bool = False,
    cursor: Cursor = None,
) -> HTMLResponse:
    """The inbox (the filter form sends empty values for "all")."""
    now = int(time.time())
    station_id = int(station) if station and 1 <= int(station) <= MAX_ID else None
    rows = inbox(
        conn,
        principal,
        state=state,
        kind=kind or None,
        station_id=station_id,
        mine=queue == "mine",
        overdue_at=now if overdue else None,
        before_id=cursor,
        limit=100,
    )
    next_cursor = rows[-1].id if len(rows) == 100 else None
    names = {s.id: s for s in console.stations(conn, principal.scope, limit=100_000)}
    return render(
        request,
        principal,
        "console/alarms.html",
        alarms=[alarm_out(a, now) for a in rows],
        stations=names,
        state=state,
        kind=kind,
        station_id=station_id,
        queue=queue,
        overdue=overdue,
        next_cursor=next_cursor,
        opts=options(),
    )


def _page(
    request: Request,
    principal: Principal,
    conn: Connection,
    alarm_id: int,
    *,
    status: int = 200,
    error: AlarmError | str | None = None,
    submitted: dict[str, str] | None = None,
) -> HTMLResponse:
    message = None
    if error is not None:
        if isinstance(error, AlarmError):
            api = translate(error)
            message = (f"alarm.err.{api.code}", api.message)
        else:
            message = ("alarm.err.invalid_decision", error)
    a = detail(conn, principal, alarm_id)
    return render(
        request,
        principal,
        "console/alarm.html",
        status=status,
        a=a,
        opts=options(),
        error=message,
        sub=submitted or {},
        now=int(time.time()),
        evidence_json=[e.model_dump(mode="json") for e in a.evidence],
    )


@router.get("/console/alarms/{alarm_id}", response_class=HTMLResponse)
def alarm_page(alarm_id: IdPath, request: Request, principal: AnyUser, conn: ReadConn) -> HTMLResponse:
    return _page(request, principal, conn, alarm_id)


def _submitted(action: Action, body: BaseModel | Mapping[str, object]) -> dict[str, str]:
    """What the viewer typed, to show it again with the refusal (refs one per line)."""
    values = body.model_dump() if isinstance(body, BaseModel) else body
    out = {"_action": str(action)}
    for k, v in values.items():
        if isinstance(v, list):
            out[k] = "; ".join(str(x) for x in v)
        elif v is not None:
            out[k] = str(v).strip()
    for kind in ("user", "role"):
        if out.get(f"to_{kind}"):
            out["target"] = f"{kind}:{out[f'to_{kind}']}"
    return out


def _act(
    request: Request, principal: Principal, conn: Connection, alarm_id: int, action: Action, body: BaseModel
) -> Response:
    try:
        status = run_decision(conn, principal, alarm_id, action, body)
    except AlarmError as exc:
        return _page(
            request,
            principal,
            conn,
            alarm_id,
            status=translate(exc).status,
            error=exc,
            submitted=_submitted(action, body),
        )
    target = status.id if action is Action.REOPEN else alarm_id
    return RedirectResponse(f"/console/alarms/{target}", status_code=303)


def _invalid(
    request: Request,
    principal: Principal,
    conn: Connection,
    alarm_id: int,
    exc: ValidationError,
    action: Action,
    typed: Mapping[str, object],
) -> Response:
    why = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
    return _page(
        request, principal, conn, alarm_id, status=400, error=why, submitted=_submitted(action, typed)
    )


@router.post("/console/alarms/{alarm_id}/acknowledge")
def acknowledge_form(
    alarm_id: IdPath,
    request: Request,
    principal: Acknowledger,
    conn: WriteConn,
    note: Note = None,
    expected_seq: Seq = None,
) -> Response:
    body = DecisionIn(note=note or None, expected_seq=expected_seq)
    return _act(request, principal, conn, alarm_id, Action.ACKNOWLEDGE, body)


@router.post("/console/alarms/{alarm_id}/verify")
def verify_form(
    alarm_id: IdPath,
    request: Request,
    principal: Verifier,
    conn: WriteConn,
    note: Note = None,
    refs: RefsText = None,
    expected_seq: Seq = None,
) -> Response:
    typed: dict[str, object] = {"note": note, "refs": refs}
    try:
        body = VerifyIn(note=note or None, refs=_refs(refs), expected_seq=expected_seq)
    except ValidationError as exc:
        return _invalid(request, principal, conn, alarm_id, exc, Action.VERIFY, typed)
    return _act(request, principal, conn, alarm_id, Action.VERIFY, body)


@router.post("/console/alarms/{alarm_id}/confirm")
def confirm_form(
    alarm_id: IdPath,
    request: Request,
    principal: Confirmer,
    conn: WriteConn,
    enforcement_type: Code,
    enforcement_ref: Annotated[str, Form(max_length=200)] = "",
    note: Note = None,
    refs: RefsText = None,
    expected_seq: Seq = None,
) -> Response:
    try:
        body = ConfirmIn(
            enforcement_type=enforcement_type,
            enforcement_ref=enforcement_ref.strip() or " ",
            note=note or None,
            refs=_refs(refs),
            expected_seq=expected_seq,
        )
    except ValidationError as exc:
        typed: dict[str, object] = {"enforcement_type": enforcement_type, "enforcement_ref": enforcement_ref}
        return _invalid(
            request, principal, conn, alarm_id, exc, Action.CONFIRM, {**typed, "note": note, "refs": refs}
        )
    return _act(request, principal, conn, alarm_id, Action.CONFIRM, body)


@router.post("/console/alarms/{alarm_id}/dismiss")
def dismiss_form(
    alarm_id: IdPath,
    request: Request,
    principal: Dismisser,
    conn: WriteConn,
    reason_code: Code,
    reason: Annotated[str, Form(max_length=4000)] = "",
    refs: RefsText = None,
    expected_seq: Seq = None,
) -> Response:
    try:
        body = DismissIn(
            reason_code=reason_code, reason=reason or " ", refs=_refs(refs), expected_seq=expected_seq
        )
    except ValidationError as exc:
        typed = {"reason_code": reason_code, "reason": reason, "refs": refs}
        return _invalid(request, principal, conn, alarm_id, exc, Action.DISMISS, typed)
    return _act(request, principal, conn, alarm_id, Action.DISMISS, body)


@router.post("/console/alarms/{alarm_id}/assign")
def assign_form(
    alarm_id: IdPath,
    request: Request,
    principal: Assigner,
    conn: WriteConn,
    target: Annotated[str, Form(min_length=3, max_length=80, pattern=r"^(user|role):[A-Za-z0-9_.@-]+$")],
    note: Note = None,
    expected_seq: Seq = None,
) -> Response:
    kind, _, name = target.partition(":")
    try:
        body = AssignIn(
            to_user=name if kind == "user" else None,
            to_role=name if kind == "role" else None,
            note=note or None,
            expected_seq=expected_seq,
        )
    except ValidationError as exc:
        return _invalid(
            request, principal, conn, alarm_id, exc, Action.ASSIGN, {"target": target, "note": note}
        )
    return _act(request, principal, conn, alarm_id, Action.ASSIGN, body)


@router.post("/console/alarms/{alarm_id}/comment")
def comment_form(
    alarm_id: IdPath,
    request: Request,
    principal: Commenter,
    conn: WriteConn,
    text: LongText,
    refs: RefsText = None,
) -> Response:
    try:
        body = CommentIn(text=text, refs=_refs(refs))
    except ValidationError as exc:
        return _invalid(request, principal, conn, alarm_id, exc, Action.COMMENT, {"text": text, "refs": refs})
    return _act(request, principal, conn, alarm_id, Action.COMMENT, body)


@router.post("/console/alarms/{alarm_id}/reopen")
def reopen_form(
    alarm_id: IdPath,
    request: Request,
    principal: Reopener,
    conn: WriteConn,
    reason: LongText,
    refs: RefsText = None,
) -> Response:
    try:
        body = ReopenIn(reason=reason, refs=_refs(refs))
    except ValidationError as exc:
        return _invalid(
            request, principal, conn, alarm_id, exc, Action.REOPEN, {"reason": reason, "refs": refs}
        )
    return _act(request, principal, conn, alarm_id, Action.REOPEN, body)
