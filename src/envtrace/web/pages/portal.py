"""The public portal (no login): air quality now (map, cities, stations: the roll-up's AQI), a
station's AQI and pollutant history, key enterprises against their limits, the signed ledger with
each checkpoint proven consistent with the one before, the open-data API guide."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from envtrace.store import console
from envtrace.store.hourly import current_cities_aqi
from envtrace.web.air import POLLUTANTS
from envtrace.web.api.ledger import ledger_page
from envtrace.web.api.public import air_current, public_stations
from envtrace.web.aqi import aqi_out
from envtrace.web.deps import Ctx, Public, ReadConn
from envtrace.web.emissions import EmissionsCache
from envtrace.web.errors import NotFound
from envtrace.web.params import Cursor, IdPath
from envtrace.web.templating import render

router = APIRouter(include_in_schema=False)


def provisional_city_rows(stations: list[object]) -> list[tuple[str, int, int | None]]:
    """(city, stations reporting, mean of station AQIs): only while the roll-up has produced no city
    AQI yet, and said so on the page (the official city AQI averages concentrations first)."""
    by_city: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    for s in stations:
        city = getattr(s, "city", None) or "—"
        counts[city] = counts.get(city, 0) + 1
        aqi = getattr(s, "aqi", None)
        if aqi is not None:
            by_city.setdefault(city, []).append(aqi)
    return [
        (c, counts[c], round(sum(by_city[c]) / len(by_city[c])) if by_city.get(c) else None)
        for c in sorted(counts)
    ]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, principal: Public, conn: ReadConn, ctx: Ctx) -> HTMLResponse:
    air = air_current(conn, offline_after_s=ctx.options.offline_after_s)
    cities = [aqi_out(v) for v in current_cities_aqi(conn)]
    return render(
        request,
        principal,
        "public/home.html",
        air=air,
        cities=cities,
        provisional_cities=[] if cities else provisional_city_rows(list(air.data)),
        pollutants=POLLUTANTS,
        province=ctx.options.province,
    )


@router.get("/air/stations/{station_id}", response_class=HTMLResponse)
def station_history(
    station_id: IdPath,
    request: Request,
    principal: Public,
    conn: ReadConn,
    parameter: Annotated[str, Query(max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")] = "a34004",
) -> HTMLResponse:
    found = next((s for s in public_stations(conn) if s.id == station_id), None)
    if found is None:
        raise NotFound(f"no public station {station_id}")
    params = console.station_parameters(conn, station_id)
    now = int(time.time())
    return render(
        request,
        principal,
        "public/station.html",
        s=found,
        params=params,
        chosen=parameter,
        pollutants=POLLUTANTS,
        now=now - now % 3600 + 3600,
    )


@router.get("/enterprises", response_class=HTMLResponse)
def enterprises(request: Request, principal: Public, conn: ReadConn) -> HTMLResponse:
    cache: EmissionsCache = request.app.state.emissions_cache
    data = cache.get(conn, console.ALL, key_only=True)
    return render(request, principal, "public/enterprises.html", e=data, console_view=False)


@router.get("/ledger", response_class=HTMLResponse)
def ledger(
    request: Request, principal: Public, conn: ReadConn, ctx: Ctx, cursor: Cursor = None
) -> HTMLResponse:
    rows, next_cursor = ledger_page(conn, ctx, before_id=cursor, limit=50)
    return render(request, principal, "public/ledger.html", checkpoints=rows, next_cursor=next_cursor)


@router.get("/open-data", response_class=HTMLResponse)
def open_data(request: Request, principal: Public) -> HTMLResponse:
    return render(request, principal, "public/open_data.html")
