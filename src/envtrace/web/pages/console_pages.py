"""The staff console: overview (live), stations, a station's charts (raw readings at fine zoom,
validity-judged values at coarse zoom, limits, exceedances, disagreements), key enterprises against
their limits, raw frames (decoded again, proof, evidence bundle), quarantine, export."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from envtrace.store import console
from envtrace.store.hourly import current_station_aqi, disagreements, exceedances
from envtrace.web.api.frames import detail
from envtrace.web.api.overview import build_overview
from envtrace.web.aqi import aqi_out
from envtrace.web.deps import AnyUser, Ctx, QuarantineReader, ReadConn
from envtrace.web.emissions import EmissionsCache
from envtrace.web.errors import NotFound
from envtrace.web.evidence import hex_dump
from envtrace.web.judged import disagreement_out
from envtrace.web.limits import resolve_many
from envtrace.web.params import MAX_ID, Cursor, IdPath, SearchText
from envtrace.web.templating import render

FACTS_DAYS = 30

router = APIRouter(include_in_schema=False)


@router.get("/console", response_class=HTMLResponse)
def overview_page(request: Request, principal: AnyUser, conn: ReadConn, ctx: Ctx) -> HTMLResponse:
    data = build_overview(conn, principal, 24, request.app.state.overview_cache)
    rows = console.stations(conn, principal.scope, limit=2000)
    return render(
        request,
        principal,
        "console/overview.html",
        o=data,
        stations=rows,
        poll=ctx.options.live_poll_s,
        now=int(time.time()),
    )


@router.get("/console/live", response_class=HTMLResponse)
def live_fragment(request: Request, principal: AnyUser, conn: ReadConn, ctx: Ctx) -> HTMLResponse:
    """The stations table of the overview, polled by htmx every few seconds."""
    rows = console.stations(conn, principal.scope, limit=2000)
    return render(request, principal, "console/_live.html", stations=rows, poll=ctx.options.live_poll_s)


@router.get("/console/stations", response_class=HTMLResponse)
def stations_page(
    *,
    request: Request,
    principal: AnyUser,
    conn: ReadConn,
    q: SearchText = None,
    pending: bool = False,
) -> HTMLResponse:
    rows = console.stations(conn, principal.scope, search=q, approved=False if pending else None, limit=2000)
    return render(request, principal, "console/stations.html", stations=rows, q=q or "", pending=pending)


@router.get("/console/stations/{station_id}", response_class=HTMLResponse)
def station_page(
    station_id: IdPath,
    request: Request,
    principal: AnyUser,
    conn: ReadConn,
    parameter: Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")] = None,
) -> HTMLResponse:
    s = console.station_by_id(conn, principal.scope, station_id)
    if s is None:
        raise NotFound(f"no station {station_id}")
    params = console.station_parameters(conn, station_id)
    chosen = parameter or (params[0].code if params else None)
    recent = console.frames(conn, principal.scope, station_id=station_id, limit=10)
    now = int(time.time())
    since = now - FACTS_DAYS * 86400
    facts = exceedances(conn, station_id=station_id, start=since, current_only=True)
    newest = {(e.parameter, e.granularity, e.period_ts): e for e in facts}
    found = disagreements(conn, station_id=station_id, start=since, current_only=True)
    dis = {(d.parameter, d.granularity, d.period_ts, d.field): d for d in found}
    aqi = current_station_aqi(conn, station_id) if s.kind == "ambient" else None
    return render(
        request,
        principal,
        "console/station.html",
        s=s,
        params=params,
        chosen=chosen,
        frames=recent,
        now=now,
        limits=resolve_many(conn, station_id, [p.code for p in params], now, kind=s.kind),
        exceedances=sorted(newest.values(), key=lambda e: -e.period_ts)[:200],
        disagreements=[
            (d.parameter, d.granularity, disagreement_out(d))
            for d in sorted(dis.values(), key=lambda d: -d.period_ts)[:200]
        ],
        facts_days=FACTS_DAYS,
        aqi=None if aqi is None else aqi_out(aqi),
    )


@router.get("/console/enterprises", response_class=HTMLResponse)
def enterprises_page(
    request: Request, principal: AnyUser, conn: ReadConn, show: Literal["key", "all"] = "key"
) -> HTMLResponse:
    """Enterprises (key units, or all) with each outlet's valid hourly values against its limit.
    An enterprise user sees its own enterprise, key unit or not."""
    cache: EmissionsCache = request.app.state.emissions_cache
    key_only = show == "key" and principal.scope.enterprise_id is None
    data = cache.get(conn, principal.scope, key_only=key_only)
    return render(request, principal, "public/enterprises.html", e=data, console_view=True, show=show)


@router.get("/console/frames", response_class=HTMLResponse)
def frames_page(
    request: Request,
    principal: AnyUser,
    conn: ReadConn,
    cursor: Cursor = None,
    status: Literal["accepted", "duplicate", "command", "partial", "quarantined", "refused"] | None = None,
    station_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    rows = console.frames(
        conn, principal.scope, station_id=station_id, status=status, before_id=cursor, limit=100
    )
    next_cursor = rows[-1].id if len(rows) == 100 else None
    return render(
        request,
        principal,
        "console/frames.html",
        frames=rows,
        next_cursor=next_cursor,
        status_filter=status or "",
    )


@router.get("/console/frames/{frame_id}", response_class=HTMLResponse)
def frame_page(
    frame_id: IdPath, request: Request, principal: AnyUser, conn: ReadConn, ctx: Ctx
) -> HTMLResponse:
    d = detail(conn, principal, frame_id, ctx.evidence.state_dir)
    raw = bytes.fromhex(d.raw_hex)
    return render(request, principal, "console/frame.html", f=d, dump=hex_dump(raw))


@router.get("/console/quarantine", response_class=HTMLResponse)
def quarantine_page(
    request: Request, principal: QuarantineReader, conn: ReadConn, cursor: Cursor = None
) -> HTMLResponse:
    rows = console.quarantined(conn, before_id=cursor, limit=100)
    next_cursor = rows[-1].id if len(rows) == 100 else None
    return render(request, principal, "console/quarantine.html", rows=rows, next_cursor=next_cursor)


@router.get("/console/export", response_class=HTMLResponse)
def export_page(request: Request, principal: AnyUser, conn: ReadConn) -> HTMLResponse:
    rows = console.stations(conn, principal.scope, limit=5000)
    return render(request, principal, "console/export.html", stations=rows, now=int(time.time()))
