"""Registry management (enterprises, monitoring points, stations: register, edit, approve), users,
login audit."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from envtrace.accounts import AccountError, create_user, set_locked, set_password
from envtrace.store import accounts as store_accounts
from envtrace.store import console
from envtrace.store.console import ALL
from envtrace.web.api.stations import StationIn, create
from envtrace.web.deps import Admin, Auditor, Ctx, ReadConn, RegistryEditor, Staff, WriteConn
from envtrace.web.errors import BadRequest, Conflict, NotFound
from envtrace.web.params import NO_CONTROL, Cursor, IdPath
from envtrace.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=200, pattern=NO_CONTROL)]
OptText = Annotated[str | None, Form(max_length=200, pattern=NO_CONTROL)]
KINDS = ("flue_gas", "water", "ambient", "noise", "surface_water", "vocs", "dust", "other")


def _blank(v: str | None) -> str | None:
    return v.strip() or None if v is not None else None


@router.get("/console/registry", response_class=HTMLResponse)
def registry_page(request: Request, principal: Staff, conn: ReadConn) -> HTMLResponse:
    return render(
        request,
        principal,
        "console/registry.html",
        enterprises=console.enterprises(conn, ALL),
        points=console.points(conn, ALL),
        pending=console.stations(conn, ALL, approved=False, limit=1000),
        stations=console.stations(conn, ALL, limit=5000),
        kinds=KINDS,
    )


@router.post("/console/registry/enterprises")
def add_enterprise(
    _: RegistryEditor,
    conn: WriteConn,
    code: Annotated[str, Form(min_length=1, max_length=32, pattern=NO_CONTROL)],
    name: Annotated[str, Form(min_length=1, max_length=200, pattern=NO_CONTROL)],
    city: OptText = None,
    county: OptText = None,
    industry: OptText = None,
    key_unit: Annotated[bool, Form()] = False,
) -> Response:
    try:
        with conn.begin_nested():
            console.insert_enterprise(
                conn,
                code=code.strip(),
                name=name.strip(),
                now_ts=int(time.time()),
                city=_blank(city),
                county=_blank(county),
                industry=_blank(industry),
                key_unit=key_unit,
            )
    except IntegrityError:
        raise Conflict(f"an enterprise with code {code!r} exists") from None
    return RedirectResponse("/console/registry", status_code=303)


@router.post("/console/registry/points")
def add_point(
    _: RegistryEditor,
    conn: WriteConn,
    code: Annotated[str, Form(min_length=1, max_length=64, pattern=NO_CONTROL)],
    name: Text,
    kind: Annotated[str, Form(max_length=16)],
    enterprise_id: Annotated[str | None, Form(max_length=20)] = None,
    city: OptText = None,
    county: OptText = None,
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Form(ge=-180, le=180)] = None,
) -> Response:
    if kind not in KINDS:
        raise BadRequest(f"unknown kind {kind!r}")
    ent = int(enterprise_id) if enterprise_id and enterprise_id.isdigit() else None
    if ent is not None and not console.enterprise_exists(conn, ent):
        raise BadRequest(f"no enterprise {ent}")
    try:
        with conn.begin_nested():
            console.insert_point(
                conn,
                code=code.strip(),
                name=name.strip(),
                kind=kind,
                now_ts=int(time.time()),
                enterprise_id=ent,
                city=_blank(city),
                county=_blank(county),
                lat=lat,
                lon=lon,
            )
    except IntegrityError:
        raise Conflict(f"a monitoring point with code {code!r} exists") from None
    return RedirectResponse("/console/registry", status_code=303)


@router.post("/console/registry/stations")
def add_station(
    principal: RegistryEditor,
    conn: WriteConn,
    ctx: Ctx,
    mn: Annotated[str, Form(min_length=1, max_length=32)],
    pw: Annotated[str, Form(min_length=1, max_length=64)],
    kind: Annotated[str, Form(max_length=16)],
    edition: Annotated[str, Form(max_length=4)] = "2017",
    name: OptText = None,
    st: Annotated[str | None, Form(max_length=2)] = None,
    point_id: Annotated[str | None, Form(max_length=20)] = None,
    encrypted: Annotated[bool, Form()] = False,
    sm4_key: Annotated[str | None, Form(max_length=32)] = None,
    tolerant: Annotated[bool, Form()] = False,
) -> Response:
    """Register a station from the console (the PW is hashed by the store, never kept in clear)."""
    try:
        body = StationIn(
            mn=mn.strip(),
            pw=pw,
            kind=kind,
            name=_blank(name),
            st=_blank(st),
            edition=edition,
            encrypted=encrypted,
            sm4_key=_blank(sm4_key),
            tolerant=tolerant,
            point_id=int(point_id) if point_id and point_id.isdigit() else None,
        )
    except ValidationError as exc:
        raise BadRequest(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        ) from None
    new_id = create(conn, body, ctx, by=principal.user.username if principal.user else None)
    return RedirectResponse(f"/console/stations/{new_id}", status_code=303)


@router.post("/console/registry/stations/{station_id}")
def edit_station(
    station_id: IdPath,
    principal: RegistryEditor,
    conn: WriteConn,
    name: OptText = None,
    point_id: Annotated[str | None, Form(max_length=20)] = None,
    enabled: Annotated[bool, Form()] = False,
) -> Response:
    values: dict[str, object] = {"name": _blank(name), "enabled": enabled}
    if point_id:
        if not point_id.isdigit() or not console.point_exists(conn, int(point_id)):
            raise BadRequest(f"no monitoring point {point_id}")
        values["point_id"] = int(point_id)
    by = principal.user.username if principal.user else None
    if not console.update_station(conn, station_id, values, by=by):
        raise NotFound(f"no station {station_id}")
    return RedirectResponse(f"/console/stations/{station_id}", status_code=303)


@router.post("/console/registry/stations/{station_id}/approve")
def approve_station(station_id: IdPath, principal: RegistryEditor, conn: WriteConn) -> Response:
    by = principal.user.username if principal.user else "?"
    if not console.approve_station(conn, station_id, by=by, now_ts=int(time.time())):
        raise NotFound(f"no pending station {station_id}")
    return RedirectResponse("/console/registry", status_code=303)


@router.get("/console/users", response_class=HTMLResponse)
def users_page(request: Request, principal: Admin, conn: ReadConn) -> HTMLResponse:
    return render(
        request,
        principal,
        "console/users.html",
        users=store_accounts.list_users(conn),
        enterprises=console.enterprises(conn, ALL),
        created=None,
    )


@router.post("/console/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    principal: Admin,
    conn: WriteConn,
    username: Annotated[str, Form(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")],
    role: Annotated[str, Form(max_length=24)],
    enterprise_id: Annotated[str | None, Form(max_length=20)] = None,
    display_name: OptText = None,
) -> HTMLResponse:
    ent = int(enterprise_id) if enterprise_id and enterprise_id.isdigit() and role == "enterprise" else None
    try:
        user, password = create_user(
            conn,
            username=username,
            role=role,
            now_ts=int(time.time()),
            display_name=_blank(display_name),
            enterprise_id=ent,
        )
    except AccountError as exc:
        raise BadRequest(str(exc)) from None
    return render(
        request,
        principal,
        "console/users.html",
        users=store_accounts.list_users(conn),
        enterprises=console.enterprises(conn, ALL),
        created=(user.username, password),
    )


@router.post("/console/users/{username}/{action}", response_class=HTMLResponse)
def user_action(
    request: Request,
    username: Annotated[str, Path(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")],
    action: Literal["lock", "unlock", "password"],
    principal: Admin,
    conn: WriteConn,
    ctx: Ctx,
) -> HTMLResponse:
    created = None
    try:
        if action == "lock":
            set_locked(conn, username, locked=True)
        elif action == "unlock":
            set_locked(conn, username, locked=False)
        else:
            created = (username, set_password(conn, username, now_ts=int(time.time())))
    except AccountError as exc:
        raise NotFound(str(exc)) from None
    ctx.sessions.clear()
    return render(
        request,
        principal,
        "console/users.html",
        users=store_accounts.list_users(conn),
        enterprises=console.enterprises(conn, ALL),
        created=created,
    )


@router.get("/console/audit", response_class=HTMLResponse)
def audit_page(request: Request, principal: Auditor, conn: ReadConn, cursor: Cursor = None) -> HTMLResponse:
    rows = store_accounts.recent_attempts(conn, limit=200, before_id=cursor)
    next_cursor = rows[-1].id if len(rows) == 200 else None
    return render(request, principal, "console/audit.html", rows=rows, next_cursor=next_cursor)
