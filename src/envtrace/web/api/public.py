"""``/api/v1/public``: open data, no login. Approved stations only; times are Unix seconds UTC.

Air quality comes from the roll-up (``rollup_aqi``, ``rollup_city_aqi``: validity-judged hours, the
HJ 633 edition of each period); a station the roll-up has not reached yet gets a provisional AQI
computed here from its newest hour, marked ``aqi_source="provisional"`` and announced on the page.

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

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from envtrace.store import console
from envtrace.store.console import ALL, StationRow
from envtrace.store.hourly import AqiValue, city_aqi, current_cities_aqi, current_city_aqi
from envtrace.web.air import AQI_PARAMETERS, POLLUTANTS, station_aqi
from envtrace.web.api.stations import From, Granularity, To, aqi_history
from envtrace.web.aqi import AqiList, aqi_list, aqi_out, category, colour_hex
from envtrace.web.deps import Ctx, Public, ReadConn
from envtrace.web.emissions import EmissionsCache, KeyEnterpriseList
from envtrace.web.errors import BadRequest, NotFound
from envtrace.web.models import (
    ERROR_RESPONSES,
    AirCurrent,
    AirStation,
    AirValue,
    CheckpointList,
    CheckpointOut,
    OpenReading,
    OpenReadingPage,
    PublicStation,
    PublicStationList,
)
from envtrace.web.params import MAX_ID, MAX_TS, NO_CONTROL, Cursor, IdPath, OptTs, ParamCode

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


ITEM_PARAMETER = {f"{name}_1h": code for code, name in POLLUTANTS.items()}


def _rollup_station(s: StationRow, v: AqiValue) -> AirStation:
    cat = category(v.edition, v.level)
    values = [
        AirValue(parameter=ITEM_PARAMETER[item], hour_ts=v.period_ts, value=float(c), source="rollup")
        for item, c in sorted(v.inputs.items())
        if item in ITEM_PARAMETER and c is not None
    ]
    return AirStation(
        id=s.id,
        name=s.name,
        city=s.city,
        lat=s.lat,
        lon=s.lon,
        hour_ts=v.period_ts,
        values=values,
        aqi=v.aqi,
        primary=list(v.primary),
        level=v.level,
        category_zh=None if cat is None else cat.name_zh,
        category_en=None if cat is None else cat.name_en,
        colour=colour_hex(cat),
        edition=v.edition,
        aqi_source="rollup",
    )


def _provisional_station(s: StationRow, mine: list[console.HourValue]) -> AirStation:
    result = station_aqi(mine)
    cat = None if result is None else category(result.edition, result.level)
    return AirStation(
        id=s.id,
        name=s.name,
        city=s.city,
        lat=s.lat,
        lon=s.lon,
        hour_ts=None if result is None else result.hour_ts,
        values=[
            AirValue(parameter=v.parameter, hour_ts=v.hour_ts, value=v.value, source=v.source) for v in mine
        ],
        aqi=None if result is None else result.aqi,
        primary=[] if result is None else result.primary,
        level=0 if result is None else result.level,
        category_zh=None if cat is None else cat.name_zh,
        category_en=None if cat is None else cat.name_en,
        colour=colour_hex(cat),
        edition=None if result is None else result.edition,
        aqi_source="none" if result is None else "provisional",
    )


def air_current(conn: Connection, *, offline_after_s: int) -> AirCurrent:
    """Every public ambient station's newest hourly AQI: the roll-up's where it has one (newer
    than ``max(offline_after_s, 3 h)``), else provisional from the newest hour's concentrations."""
    rows = public_stations(conn, kind="ambient")
    since = int(time.time()) - max(offline_after_s, 3 * 3600)
    rolled = console.newest_station_aqi(conn, [s.id for s in rows], since_ts=since)
    missing = [s.id for s in rows if s.id not in rolled]
    values = console.latest_hour_values(conn, missing, AQI_PARAMETERS, since_ts=since) if missing else []
    by_station: dict[int, list[console.HourValue]] = {}
    for hv in values:
        by_station.setdefault(hv.station_id, []).append(hv)
    data = [
        _rollup_station(s, rolled[s.id])
        if s.id in rolled
        else _provisional_station(s, by_station.get(s.id, []))
        for s in rows
    ]
    provisional = sum(1 for d in data if d.aqi_source == "provisional")
    return AirCurrent(data=data, count=len(data), aqi_available=True, provisional=provisional)


@router.get("/air/current", response_model=AirCurrent)
def current_air(_: Public, conn: ReadConn, ctx: Ctx) -> AirCurrent:
    """Newest hourly AQI of every public ambient station, from the roll-up (HJ 633 edition of the
    hour, category colour, primary pollutants, the concentrations used); stations the roll-up has
    not reached yet are marked ``aqi_source="provisional"``."""
    return air_current(conn, offline_after_s=ctx.options.offline_after_s)


@router.get("/air/cities", response_model=AqiList)
def current_cities(_: Public, conn: ReadConn, granularity: Granularity = "hour") -> AqiList:
    """Every city's newest AQI: for each item the mean of its ambient stations' concentrations,
    then the AQI of those means (HJ 633 / HJ 663); ``stations`` lists who contributed."""
    data = [aqi_out(v) for v in current_cities_aqi(conn, granularity=granularity)]
    return AqiList(data=data, count=len(data))


CityName = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_CONTROL)]


@router.get("/cities/{city}/aqi", response_model=AqiList)
def city_history(
    city: CityName,
    _: Public,
    conn: ReadConn,
    from_: From = None,
    to: To = None,
    granularity: Granularity = "hour",
) -> AqiList:
    """A city's AQI in [from, to) (without them: the newest)."""
    return aqi_list(
        lambda: current_city_aqi(conn, city, granularity=granularity),
        lambda a, b: city_aqi(conn, city, granularity=granularity, start=a, end=b, limit=20_000),
        from_,
        to,
    )


@router.get("/stations/{station_id}/aqi", response_model=AqiList)
def station_aqi_history(
    station_id: IdPath,
    _: Public,
    conn: ReadConn,
    from_: From = None,
    to: To = None,
    granularity: Granularity = "hour",
) -> AqiList:
    """A public ambient station's AQI as the roll-up computed it, in [from, to) (default: newest)."""
    if station_id not in {s.id for s in public_stations(conn, kind="ambient")}:
        raise NotFound(f"no public ambient station {station_id}")
    return aqi_history(conn, station_id, granularity, from_, to)


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


@router.get("/enterprises", response_model=KeyEnterpriseList)
def enterprises(_: Public, conn: ReadConn, request: Request) -> KeyEnterpriseList:
    """Key pollutant-discharge units: each outlet's valid judged hourly values of the last 24 h
    (corrected where the outlet corrects to a reference O2) against the limit the roll-up applies,
    and the periods judged exceedances in the last 24 h and 30 days."""
    cache: EmissionsCache = request.app.state.emissions_cache
    return cache.get(conn, ALL, key_only=True)


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
