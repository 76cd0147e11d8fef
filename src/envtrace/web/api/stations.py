"""``/api/v1/stations``: registry view with live state, parameters and chart series; editing and
approval of stations enrolled on first use (registry editors)."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from envtrace.store import console
from envtrace.store.console import StationRow
from envtrace.web.air import ambient_limit
from envtrace.web.deps import AnyUser, Ctx, ReadConn, RegistryEditor, WriteConn
from envtrace.web.errors import BadRequest, NotFound
from envtrace.web.models import (
    ERROR_RESPONSES,
    OkOut,
    ParameterList,
    ParameterOut,
    SeriesOut,
    StationList,
    StationOut,
    StationPatch,
    StationState,
    StationStates,
)
from envtrace.web.params import MAX_TS, IdPath, OptTs, ParamCode, SearchText

router = APIRouter(prefix="/api/v1/stations", tags=["stations"], responses=ERROR_RESPONSES)

Kind = Literal["flue_gas", "water", "ambient", "noise", "surface_water", "vocs", "dust", "other"]


def station_out(s: StationRow) -> StationOut:
    return StationOut.model_validate(s, from_attributes=True)


@router.get("", response_model=StationList)
def list_stations(
    *,
    principal: AnyUser,
    conn: ReadConn,
    approved: bool | None = None,
    kind: Kind | None = None,
    q: SearchText = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> StationList:
    rows = console.stations(
        conn, principal.scope, approved=approved, kind=kind, search=q, limit=limit, offset=offset
    )
    return StationList(data=[station_out(s) for s in rows], count=len(rows))


@router.get("/states", response_model=StationStates)
def states(principal: AnyUser, conn: ReadConn) -> StationStates:
    """Online state of every station the caller may see (polled by the console)."""
    rows = console.station_states(conn, principal.scope)
    data = [StationState.model_validate(r, from_attributes=True) for r in rows]
    return StationStates(data=data, count=len(data))


def _station(conn: ReadConn, principal: AnyUser, station_id: int) -> StationRow:
    found = console.station_by_id(conn, principal.scope, station_id)
    if found is None:
        raise NotFound(f"no station {station_id}")
    return found


@router.get("/{station_id}", response_model=StationOut)
def get_station(station_id: IdPath, principal: AnyUser, conn: ReadConn) -> StationOut:
    return station_out(_station(conn, principal, station_id))


@router.get("/{station_id}/parameters", response_model=ParameterList)
def parameters(station_id: IdPath, principal: AnyUser, conn: ReadConn) -> ParameterList:
    _station(conn, principal, station_id)
    rows = [
        ParameterOut.model_validate(p, from_attributes=True)
        for p in console.station_parameters(conn, station_id)
    ]
    return ParameterList(data=rows, count=len(rows))


@router.get("/{station_id}/series", response_model=SeriesOut)
async def series(
    station_id: IdPath,
    principal: AnyUser,
    ctx: Ctx,
    parameter: ParamCode,
    start: OptTs = None,
    end: OptTs = None,
    resolution: Literal["auto", "raw", "hour", "day"] = "auto",
) -> Response:
    """Readings of one parameter in [start, end) (default: the last 7 days): raw up to ~2 days,
    hourly roll-ups (mean, min, max, counts) up to ~4 months, daily (CST days) beyond. Ambient
    pollutants carry their GB 3095 class-2 one-hour limit in ``limit``."""
    t1 = end if end is not None else min(MAX_TS, int(time.time()) + 3600)
    t0 = start if start is not None else t1 - 7 * 86400
    if t0 >= t1:
        raise BadRequest(f"start {t0} must be before end {t1}")
    if resolution == "raw" and t1 - t0 > 31 * 86400:
        raise BadRequest("raw resolution is limited to 31 days: use hour or day")

    def answer() -> bytes:  # one worker-thread hop for the whole query: this is the hot path
        with ctx.engine.connect() as conn:
            kind = console.visible_kind(conn, principal.scope, station_id)
            if kind is None:
                raise NotFound(f"no station {station_id}")
            s = console.series(conn, station_id, parameter, max(0, t0), t1, resolution=resolution)
        out = SeriesOut.model_construct(
            station_id=station_id,
            parameter=parameter,
            start=t0,
            end=t1,
            resolution=s.resolution,  # type: ignore[arg-type]
            granularity=s.granularity,
            ts=s.ts,
            value=s.value,
            low=s.low,
            high=s.high,
            zs=s.zs,
            flag=s.flag,
            n=s.n,
            n_normal=s.n_normal,
            limit=ambient_limit(parameter, t1) if kind == "ambient" else None,
        )
        return out.model_dump_json().encode()

    return Response(await run_in_threadpool(answer), media_type="application/json")


@router.patch("/{station_id}", response_model=StationOut)
def patch_station(
    station_id: IdPath, body: StationPatch, principal: RegistryEditor, conn: WriteConn
) -> StationOut:
    """Edit registry fields; never the station's password or keys (those stay with the gateway)."""
    values = body.model_dump(exclude_unset=True)
    if (
        "point_id" in values
        and values["point_id"] is not None
        and not console.point_exists(conn, values["point_id"])
    ):
        raise BadRequest(f"no monitoring point {values['point_id']}")
    if not console.update_station(conn, station_id, values):
        raise NotFound(f"no station {station_id}")
    return station_out(_station(conn, principal, station_id))


@router.post("/{station_id}/approve", response_model=OkOut)
def approve(station_id: IdPath, principal: RegistryEditor, conn: WriteConn) -> OkOut:
    """Approve a station the gateway enrolled on first use (pending)."""
    by = principal.user.username if principal.user else "?"
    if not console.approve_station(conn, station_id, by=by, now_ts=int(time.time())):
        raise NotFound(f"no pending station {station_id}")
    return OkOut()
