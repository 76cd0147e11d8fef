"""Hourly and daily AQI of ambient stations and cities, by the HJ 633 edition in force at the period.

Station, hourly
    from the current judged hourly means of the six pollutants (valid hours only; NaN otherwise),
    converted to µg/m³ (CO mg/m³). ``standards.aqi_hourly_items`` builds the items (1-h means, 24-h
    moving means from >= 20 hours, O3 8-h moving means from >= 6 hours) and ``standards.aqi_table``
    the AQI, primary pollutant and category under each hour's edition (HJ 633-2012 before
    2026-03-01 00:00 CST, HJ 633-2026 from then), with the report of ``RollupOptions.aqi_report``:
    ``realtime`` (the standards' texts: 2012 uses the O3 8-h and PM 24-h moving means, 2026 the six
    1-h means) or ``release`` (the national release's practice). An hour's AQI depends on the 23
    hours before it, so a changed hour re-opens the AQI of the next 24 hours (a new version only
    where it changes).
Station, daily
    from the station's judged daily values (24-h means from >= 20 hours; O3 daily maximum 1-h and
    8-h) with the daily report of the edition in force at the day's start (2012: seven items with
    the O3 maximum 1-h; 2026: six).
City
    HJ 633 / HJ 663: the city's concentration of each item is the arithmetic mean of its stations'
    concentrations for that item (stations whose monitoring point is in the city; those without the
    item are left out), then the AQI of those means under the same edition and report. HJ 663's
    minimum share of valid stations is not applied (its text was not available): ``stations`` lists
    who contributed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection

from envtrace.rollup import rules, units
from envtrace.standards import (
    AqiTable,
    Family,
    aqi_hourly_items,
    aqi_table,
    edition_at,
    edition_codes_at,
    editions,
    report_items,
)
from envtrace.store import hourly as store
from envtrace.store.hourly import AqiDraft, AqiValue, JudgedValue, StationContext, clean

HOUR = 3600
DAY = 86400


def _concentration(v: JudgedValue, x: float | None) -> float:
    if x is None or not v.valid:
        return math.nan
    f = units.factor(v.unit, rules.AQI_UNITS[v.parameter])
    return math.nan if f is None else x * f


def _draft(
    table: AqiTable,
    i: int,
    items: dict[str, np.ndarray],
    *,
    report: str,
    granularity: str,
    period_ts: int,
    station_id: int | None = None,
    city: str | None = None,
    stations: Sequence[int] = (),
    labels: list[str] | None = None,
) -> AqiDraft:
    edition = editions(Family.AQI)[int(table.edition_code[i])]
    names = [s.item for s in report_items(edition, report)]
    aqi = int(table.aqi[i])
    avail = int(table.aqi_available[i])
    primary = (labels if labels is not None else table.primary_labels("code"))[i]
    return AqiDraft(
        station_id=station_id,
        city=city,
        stations=tuple(stations) if city is not None else ((station_id,) if station_id is not None else ()),
        granularity=granularity,
        period_ts=period_ts,
        edition=edition,
        report=report,
        aqi=aqi if aqi >= 0 else None,
        aqi_available=avail if avail >= 0 else None,
        complete=bool(table.complete[i]),
        level=int(table.level[i]),
        primary=tuple(p for p in primary.split(",") if p),
        iaqi={k: int(table.iaqi[k][i]) for k in names if k in table.iaqi},
        inputs={k: clean(float(items[k][i])) if k in items else None for k in names},
        rules=rules.RULES,
    )


def station_hours(
    conn: Connection, ctx: StationContext, changed: Sequence[int], report: str
) -> list[AqiDraft]:
    """AQI drafts of the hours whose AQI the changed hours may move (those with data)."""
    if not changed:
        return []
    lo, hi = min(changed) - 23 * HOUR, max(changed) + 24 * HOUR
    values = [
        v
        for v in store.station_values(conn, ctx.id, granularity="hour", start=lo, end=hi)
        if v.parameter in rules.AMBIENT_POLLUTANTS
    ]
    with_data = sorted({v.period_ts for v in values})
    targets = [t for t in with_data if any(h <= t < h + 24 * HOUR for h in changed)]
    if not targets:
        return []
    grid = np.arange(lo, hi, HOUR, dtype=np.int64)
    hourly: dict[str, np.ndarray] = {}
    for v in values:
        name = rules.AMBIENT_POLLUTANTS[v.parameter]
        series = hourly.setdefault(name, np.full(len(grid), np.nan))
        series[(v.period_ts - lo) // HOUR] = _concentration(v, v.value)
    times, items = aqi_hourly_items(grid, hourly)
    table = aqi_table(items, edition=edition_codes_at(Family.AQI, times), report=report)
    labels = table.primary_labels("code")
    return [
        _draft(
            table,
            int((t - lo) // HOUR),
            items,
            report=report,
            granularity="hour",
            period_ts=t,
            station_id=ctx.id,
            labels=labels,
        )
        for t in targets
    ]


def station_day(conn: Connection, ctx: StationContext, day_ts: int) -> AqiDraft | None:
    """The daily AQI draft of one station-day (None when it has no pollutant day value)."""
    values = [
        v
        for v in store.station_values(conn, ctx.id, granularity="day", start=day_ts, end=day_ts + 1)
        if v.parameter in rules.AMBIENT_POLLUTANTS
    ]
    if not values:
        return None
    items: dict[str, np.ndarray] = {}
    for v in values:
        name = rules.AMBIENT_POLLUTANTS[v.parameter]
        if name == "O3":
            items["O3_8h_max"] = np.array([_concentration(v, v.max_8h)])
            items["O3_1h_max"] = np.array([_concentration(v, v.max_1h)])
        else:
            items[f"{name}_24h"] = np.array([_concentration(v, v.value)])
    edition = edition_at(Family.AQI, day_ts)
    table = aqi_table(items, edition=edition, report="daily")
    return _draft(table, 0, items, report="daily", granularity="day", period_ts=day_ts, station_id=ctx.id)


def city(conn: Connection, name: str, granularity: str, period_ts: int) -> AqiDraft | None:
    """The city AQI draft of one period from its stations' current AQI inputs (None without any)."""
    rows: list[AqiValue] = store.station_aqi_at(
        conn, store.city_stations(conn, name), granularity=granularity, period_ts=period_ts
    )
    if not rows:
        return None
    report = rows[0].report
    edition = rows[0].edition
    keys = sorted({k for r in rows for k in r.inputs})
    items: dict[str, np.ndarray] = {}
    contributed: set[int] = set()
    for k in keys:
        got = [
            (r.station_id, r.inputs[k]) for r in rows if r.inputs.get(k) is not None and r.report == report
        ]
        if got:
            items[k] = np.array([float(np.mean([float(x) for _, x in got if x is not None]))])
            contributed.update(s for s, _ in got if s is not None)
        else:
            items[k] = np.array([np.nan])
    table = aqi_table(items, edition=edition, report=report)
    return _draft(
        table,
        0,
        items,
        report=report,
        granularity=granularity,
        period_ts=period_ts,
        city=name,
        stations=sorted(contributed),
    )
