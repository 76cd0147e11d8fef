"""``/api/v1/public``: open data, no login. Approved stations only; times are Unix seconds UTC.

Cursor pagination: each page answers ``next_cursor``; pass it back as ``cursor`` for the next page
(an opaque keyset cursor, stable under inserts). ``format=csv`` gives the same page as CSV with the
cursor in the ``X-Next-Cursor`` header.
"""

from __future__ import annotations

import base64
import csv
import io
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import Connection

from envtrace.store import console
from envtrace.store.console import ALL, StationRow
from envtrace.web.air import AQI_PARAMETERS, station_aqi
from envtrace.web.deps import Ctx, Public, ReadConn
from envtrace.web.errors import BadRequest
from envtrace.web.models import (
    ERROR_RESPONSES,
    AirCurrent,
    AirStation,
    AirValue,
    CheckpointList,
    CheckpointOut,
    EmissionValue,
    KeyEnterprise,
    KeyEnterpriseList,
    OpenReading,
    OpenReadingPage,
    PublicStation,
    PublicStationList,
)
from envtrace.web.params import MAX_ID, MAX_TS, Cursor, IdPath, OptTs, ParamCode

router = APIRouter(prefix="/api/v1/public", tags=["open data"], responses=ERROR_RESPONSES)


def public_stations(conn: Connection, *, kind: str | None = None) -> list[StationRow]:
    """Approved, enabled stations: ambient sites and the outlets of key pollutant-discharge units."""
    key_units = {e.id for e in console.enterprises(conn, ALL, key_only=True)}
    rows = console.stations(conn, ALL, approved=True, kind=kind, limit=1_000_000)
    return [s for s in rows if s.enabled and (s.kind == "ambient" or s.enterprise_id in key_units)]


@router.get("/stations", response_model=PublicStationList)
def stations(
    _: Public, conn: ReadConn, kind: Literal["ambient", "flue_gas", "water"] | None = None
) -> PublicStationList:
    data = [PublicStation.model_validate(s, from_attributes=True) for s in public_stations(conn, kind=kind)]
    return PublicStationList(data=data, count=len(data))


def air_current(conn: Connection, *, offline_after_s: int) -> AirCurrent:
    rows = public_stations(conn, kind="ambient")
    since = int(time.time()) - max(offline_after_s, 3 * 3600)
    values = console.latest_hour_values(conn, [s.id for s in rows], AQI_PARAMETERS, since_ts=since)
    by_station: dict[int, list[console.HourValue]] = {}
    for v in values:
        by_station.setdefault(v.station_id, []).append(v)
    data = []
    for s in rows:
        mine = by_station.get(s.id, [])
        result = station_aqi(mine)
        data.append(
            AirStation(
                id=s.id,
                name=s.name,
                city=s.city,
                lat=s.lat,
                lon=s.lon,
                hour_ts=None if result is None else result.hour_ts,
                values=[
                    AirValue(parameter=v.parameter, hour_ts=v.hour_ts, value=v.value, source=v.source)
                    for v in mine
                ],
                aqi=None if result is None else result.aqi,
                primary=[] if result is None else result.primary,
                level=0 if result is None else result.level,
            )
        )
    return AirCurrent(data=data, count=len(data), aqi_available=True)


@router.get("/air/current", response_model=AirCurrent)
def current_air(_: Public, conn: ReadConn, ctx: Ctx) -> AirCurrent:
    """Newest hourly concentrations of the six AQI pollutants per ambient station, with the hourly
    AQI (HJ 633, national release rule) and primary pollutants."""
    return air_current(conn, offline_after_s=ctx.options.offline_after_s)


def _encode_cursor(r: console.ExportRow) -> str:
    return base64.urlsafe_b64encode(f"{r.station_id}|{r.parameter}|{r.data_ts}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        sid, param, ts = text.split("|")
        out = (int(sid), param, int(ts))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("invalid cursor") from None
    if not (0 <= out[0] <= MAX_ID and 0 <= out[2] <= MAX_TS and len(param) <= 32):
        raise BadRequest("invalid cursor")
    return out


@router.get(
    "/readings",
    response_model=OpenReadingPage,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON page, or CSV with format=csv"}},
)
def readings(
    _: Public,
    conn: ReadConn,
    station: Annotated[list[int], Query(min_length=1, max_length=50, description="station ids")],
    granularity: Literal["min", "hour", "day"] = "hour",
    start: OptTs = None,
    end: OptTs = None,
    parameter: ParamCode | None = None,
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    format: Literal["json", "csv"] = "json",
) -> OpenReadingPage | Response:
    """Readings of public stations in [start, end) (default: the last 7 days), one page at a time."""
    if any(not 1 <= s <= MAX_ID for s in station):
        raise BadRequest("station ids must be positive")
    allowed = {s.id for s in public_stations(conn)}
    ids = [s for s in station if s in allowed]
    t1 = end if end is not None else min(MAX_TS, int(time.time()) + 3600)
    t0 = start if start is not None else t1 - 7 * 86400
    if t0 >= t1:
        raise BadRequest(f"start {t0} must be before end {t1}")
    rows = list(
        console.export_rows(
            conn,
            ALL,
            station_ids=ids,
            granularity=granularity,
            t0=t0,
            t1=t1,
            parameters=[parameter] if parameter else None,
            after=None if cursor is None else _decode_cursor(cursor),
            limit=limit,
        )
    )
    next_cursor = _encode_cursor(rows[-1]) if len(rows) == limit else None
    data = [
        OpenReading(
            station_id=r.station_id,
            parameter=r.parameter,
            granularity=r.granularity,
            data_ts=r.data_ts,
            value=r.value,
            zs_value=r.zs_value,
            flag=r.flag,
        )
        for r in rows
    ]
    if format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["station_id", "parameter", "granularity", "data_ts", "value", "zs_value", "flag"])
        for d in data:
            w.writerow([d.station_id, d.parameter, d.granularity, d.data_ts, d.value, d.zs_value, d.flag])
        headers = {"x-next-cursor": next_cursor} if next_cursor else {}
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    return OpenReadingPage(data=data, count=len(data), next_cursor=next_cursor)


def key_enterprises(conn: Connection, *, since_ts: int) -> list[KeyEnterprise]:
    units = console.enterprises(conn, ALL, key_only=True)
    rows = [
        s
        for s in console.stations(conn, ALL, approved=True, limit=1_000_000)
        if s.enabled and s.enterprise_id
    ]
    by_enterprise: dict[int, list[StationRow]] = {}
    for s in rows:
        by_enterprise.setdefault(int(s.enterprise_id or 0), []).append(s)
    out = []
    for e in units:
        mine = by_enterprise.get(e.id, [])
        params: set[str] = set()
        for s in mine:
            params.update(p.code for p in console.station_parameters(conn, s.id))
        values = console.latest_hour_values(conn, [s.id for s in mine], sorted(params), since_ts=since_ts)
        names = {s.id: s.name for s in mine}
        out.append(
            KeyEnterprise(
                id=e.id,
                name=e.name,
                name_en=e.name_en,
                city=e.city,
                industry=e.industry,
                values=[
                    EmissionValue(
                        station_id=v.station_id,
                        station_name=names.get(v.station_id),
                        parameter=v.parameter,
                        hour_ts=v.hour_ts,
                        value=v.value,
                        limit=None,
                    )
                    for v in values
                ],
            )
        )
    return out


@router.get("/enterprises", response_model=KeyEnterpriseList)
def enterprises(_: Public, conn: ReadConn) -> KeyEnterpriseList:
    """Key pollutant-discharge units and the newest hourly values of their outlets (last 48 h)."""
    data = key_enterprises(conn, since_ts=int(time.time()) - 48 * 3600)
    return KeyEnterpriseList(data=data, count=len(data))


@router.get("/stations/{station_id}/series", response_model=OpenReadingPage)
def station_history(
    station_id: IdPath,
    _: Public,
    conn: ReadConn,
    parameter: ParamCode,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
) -> OpenReadingPage:
    """Hourly values of a public station over the last ``days`` days (for the history chart)."""
    if station_id not in {s.id for s in public_stations(conn)}:
        return OpenReadingPage(data=[], count=0, next_cursor=None)
    t1 = int(time.time()) + 3600
    s = console.series(conn, station_id, parameter, t1 - days * 86400, t1, resolution="hour")
    data = [
        OpenReading(
            station_id=station_id,
            parameter=parameter,
            granularity="hour",
            data_ts=ts,
            value=v,
            zs_value=z,
            flag=None,
        )
        for ts, v, z in zip(s.ts, s.value, s.zs, strict=True)
    ]
    return OpenReadingPage(data=data, count=len(data), next_cursor=None)


@router.get("/checkpoints", response_model=CheckpointList)
def checkpoints(
    _: Public, conn: ReadConn, cursor: Cursor = None, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> CheckpointList:
    """Signed ledger checkpoints (newest first): anyone can check that the log only grows."""
    rows = console.checkpoints(conn, before_id=cursor, limit=limit)
    data = [
        CheckpointOut(id=c.id, size=c.size, root_hex=c.root.hex(), ts=c.ts, key_id=c.key_id, note=c.note)
        for c in rows
    ]
    return CheckpointList(data=data, count=len(data), next_cursor=data[-1].id if len(data) == limit else None)
