"""The alarm inbox and one alarm's page, with the decisions the viewer may take."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from envtrace.alarms import Action, AlarmError, comment
from envtrace.web.api.alarms import (
    Acknowledger,
    Commenter,
    DecisionIn,
    Verifier,
    actor,
    decide,
    detail,
    inbox,
    translate,
)
from envtrace.web.deps import AnyUser, ReadConn, WriteConn
from envtrace.web.params import NO_CONTROL, Cursor, IdPath
from envtrace.web.templating import render

router = APIRouter(include_in_schema=False)
Note = Annotated[str | None, Form(max_length=2000, pattern=NO_CONTROL)]


@router.get("/console/alarms", response_class=HTMLResponse)
def alarms_page(
    request: Request,
    principal: AnyUser,
    conn: ReadConn,
    state: Literal["open", "all"] = "open",
    queue: Literal["all", "mine"] = "all",
    cursor: Cursor = None,
) -> HTMLResponse:
    rows = inbox(
        conn, principal, open_only=state == "open", mine=queue == "mine", before_id=cursor, limit=100
    )
    next_cursor = rows[-1].id if len(rows) == 100 else None
    return render(
        request,
        principal,
        "console/alarms.html",
        alarms=rows,
        state=state,
        queue=queue,
        next_cursor=next_cursor,
        now=int(time.time()),
    )


@router.get("/console/alarms/{alarm_id}", response_class=HTMLResponse)
def alarm_page(alarm_id: IdPath, request: Request, principal: AnyUser, conn: ReadConn) -> HTMLResponse:
    return render(request, principal, "console/alarm.html", a=detail(conn, principal, alarm_id))


def _back(alarm_id: int) -> Response:
    return RedirectResponse(f"/console/alarms/{alarm_id}", status_code=303)


@router.post("/console/alarms/{alarm_id}/acknowledge")
def acknowledge_form(
    alarm_id: IdPath, principal: Acknowledger, conn: WriteConn, note: Note = None
) -> Response:
    decide(conn, principal, alarm_id, Action.ACKNOWLEDGE, DecisionIn(note=note or None))
    return _back(alarm_id)


@router.post("/console/alarms/{alarm_id}/verify")
def verify_form(alarm_id: IdPath, principal: Verifier, conn: WriteConn, note: Note = None) -> Response:
    decide(conn, principal, alarm_id, Action.VERIFY, DecisionIn(note=note or None))
    return _back(alarm_id)


@router.post("/console/alarms/{alarm_id}/comment")
def comment_form(
    alarm_id: IdPath,
    principal: Commenter,
    conn: WriteConn,
    text: Annotated[str, Form(min_length=1, max_length=4000, pattern=NO_CONTROL)],
) -> Response:
    try:
        comment(conn, alarm_id, actor(principal), now=int(time.time()), text=text)
    except AlarmError as exc:
        raise translate(exc) from None
    return _back(alarm_id)
