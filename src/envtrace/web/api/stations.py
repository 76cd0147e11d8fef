"""``/api/v1/stations``: registry view with live state, parameters, chart series (raw readings and
raw statistics), validity-judged values and AQI from the roll-up; registration (the PW hashed by the
store), editing and approval of stations enrolled on first use (registry editors)."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator

from envtrace.hj212 import parse_key
from envtrace.store import KeyRefused, StationExists, console, register_station
from envtrace.store.console import StationRow
from envtrace.store.hourly import current_station_aqi, station_aqi
from envtrace.store.station_keys import KeyVault, register_key
from envtrace.web.air import ambient_limit
from envtrace.web.aqi import AqiList, aqi_list
from envtrace.web.context import WebContext
from envtrace.web.deps import AnyUser, Ctx, ReadConn, RegistryEditor, WriteConn
from envtrace.web.errors import BadRequest, Conflict, NotFound
from envtrace.web.judged import JudgedSeriesOut, judged_series
from envtrace.web.limits import LimitsCache
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
from envtrace.web.params import MAX_ID, MAX_TS, NO_CONTROL, IdPath, OptTs, ParamCode, SearchText

router = APIRouter(prefix="/api/v1/stations", tags=["stations"], responses=ERROR_RESPONSES)

Kind = Literal["flue_gas", "water", "ambient", "noise", "surface_water", "vocs", "dust", "other"]
Granularity = Literal["hour", "day"]
From = Annotated[
    int | None, Query(alias="from", ge=0, le=MAX_TS, description="Unix seconds (UTC), inclusive")
]
To = Annotated[int | None, Query(alias="to", ge=0, le=MAX_TS, description="Unix seconds (UTC), exclusive")]
MAX_JUDGED_SPAN = {"hour": 400 * 86400, "day": 20 * 366 * 86400}


class StationIn(BaseModel):
    """A station registered by staff (approved at once). The PW is hashed by the store (salted
    scrypt) and never stored or shown in clear; the SM4 key of an HJ 212-2025 encrypted station is
    kept in the registry for the gateway."""

    mn: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    pw: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL)
    kind: Kind
    name: str | None = Field(None, max_length=200, pattern=NO_CONTROL)
    st: str | None = Field(None, pattern=r"^[0-9]{2}$", description="HJ 212 system code it sends")
    edition: Literal["2005", "2017", "2025"] = "2017"
    encrypted: bool = False
    sm4_key: str | None = Field(None, max_length=32, description="16 ASCII characters or 32 hex digits")
    tolerant: bool = Field(False, description="accept the known deviations of real devices from it")
    point_id: int | None = Field(None, ge=1, le=MAX_ID)
    utc_offset_min: int = Field(480, ge=-720, le=840)

    @field_validator("sm4_key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        parse_key(v)  # ValueError names the expected forms
        return v


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


def create(conn: WriteConn, body: StationIn, ctx: WebContext, *, by: str | None = None) -> int:
    """Register a station (shared by the API and the registry form); errors are API errors.

    The SM4 key goes to the key store (``store.station_keys``: sealed under the master key of the
    state folder, policy-checked, its registration a ledger record), never into the registry row."""
    if body.encrypted and body.sm4_key is None:
        raise BadRequest("an encrypted (HJ 212-2025 SM4) station needs its SM4 key")
    if body.point_id is not None and not console.point_exists(conn, body.point_id):
        raise BadRequest(f"no monitoring point {body.point_id}")
    try:
        with conn.begin_nested():
            sid = register_station(
                conn,
                mn=body.mn,
                pw=body.pw,
                kind=body.kind,
                name=body.name,
                st=body.st,
                edition=body.edition,
                point_id=body.point_id,
                encrypted=body.encrypted,
                tolerant=body.tolerant,
                utc_offset_min=body.utc_offset_min,
                by=by,
            )
            if body.sm4_key is not None:
                register_key(
                    conn,
                    KeyVault.open(ctx.evidence.state_dir),
                    mn=body.mn,
                    key_text=body.sm4_key,
                    actor=by or "web",
                    now_us=time.time_ns() // 1000,
                    overlap_s=ctx.settings.key_overlap_s,
                    context=(body.mn, body.pw),
                    encrypt=body.encrypted,
                )
            return sid
    except KeyRefused as exc:
        raise BadRequest(str(exc)) from None
    except StationExists:
        raise Conflict(f"a station with MN {body.mn!r} exists") from None
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


@router.post("", response_model=StationOut, status_code=201)
def create_station(body: StationIn, principal: RegistryEditor, conn: WriteConn, ctx: Ctx) -> StationOut:
    """Register a station (approved): MN, PW (hashed by the store), kind, HJ 212 edition, SM4
    encryption and key, tolerance of device deviations, monitoring point."""
    new_id = create(conn, body, ctx, by=principal.user.username if principal.user else None)
    return station_out(_station(conn, principal, new_id))


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


@router.get("/{station_id}/judged", response_model=JudgedSeriesOut)
async def judged(
    station_id: IdPath,
    principal: AnyUser,
    ctx: Ctx,
    request: Request,
    parameter: ParamCode,
    granularity: Granularity = "hour",
    start: OptTs = None,
    end: OptTs = None,
) -> Response:
    """Validity-judged hourly or daily values of one parameter in [start, end) (default: the last
    7 days) as the roll-up computed them: verdict and reason of each period, the platform's
    corrected value beside the station's own, the applicable limit, exceedances and disagreements."""
    t1 = end if end is not None else min(MAX_TS, int(time.time()) + 3600)
    t0 = start if start is not None else t1 - 7 * 86400
    if t0 >= t1:
        raise BadRequest(f"start {t0} must be before end {t1}")
    if t1 - t0 > MAX_JUDGED_SPAN[granularity]:
        days = MAX_JUDGED_SPAN[granularity] // 86400
        raise BadRequest(f"{granularity} values are served for at most {days} days")

    cache: LimitsCache = request.app.state.limits_cache

    def answer() -> bytes:  # one worker-thread hop, serialised once: the chart's second request
        with ctx.engine.connect() as conn:
            kind = console.visible_kind(conn, principal.scope, station_id)
            if kind is None:
                raise NotFound(f"no station {station_id}")
            limits = cache.get(conn, station_id)
            out = judged_series(conn, station_id, parameter, granularity, t0, t1, kind=kind, limits=limits)
        return out.model_dump_json().encode()

    return Response(await run_in_threadpool(answer), media_type="application/json")


def aqi_history(conn: ReadConn, station_id: int, granularity: str, t0: int | None, t1: int | None) -> AqiList:
    return aqi_list(
        lambda: current_station_aqi(conn, station_id, granularity=granularity),
        lambda a, b: station_aqi(conn, station_id, granularity=granularity, start=a, end=b, limit=20_000),
        t0,
        t1,
    )


@router.get("/{station_id}/aqi", response_model=AqiList)
def aqi(
    station_id: IdPath,
    principal: AnyUser,
    conn: ReadConn,
    from_: From = None,
    to: To = None,
    granularity: Granularity = "hour",
) -> AqiList:
    """The station's AQI as the roll-up computed it (HJ 633 edition of each period, category name
    and colour, primary pollutants, IAQI and concentrations); without ``from``/``to`` the newest."""
    if console.visible_kind(conn, principal.scope, station_id) is None:
        raise NotFound(f"no station {station_id}")
    return aqi_history(conn, station_id, granularity, from_, to)


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
    by = principal.user.username if principal.user else None
    if not console.update_station(conn, station_id, values, by=by):
        raise NotFound(f"no station {station_id}")
    return station_out(_station(conn, principal, station_id))


@router.post("/{station_id}/approve", response_model=OkOut)
def approve(station_id: IdPath, principal: RegistryEditor, conn: WriteConn) -> OkOut:
    """Approve a station the gateway enrolled on first use (pending)."""
    by = principal.user.username if principal.user else "?"
    if not console.approve_station(conn, station_id, by=by, now_ts=int(time.time())):
        raise NotFound(f"no pending station {station_id}")
    return OkOut()
