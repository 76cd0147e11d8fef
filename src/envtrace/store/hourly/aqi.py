"""Station and city AQI rows: append a version when changed, the queries of current AQI."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    RowMapping,
    func,
    insert,
    select,
)

from envtrace.store.hourly.tables import canonical, latest, rollup_aqi, rollup_city_aqi


@dataclass(frozen=True, slots=True)
class AqiDraft:
    """AQI of a station (``station_id``) or of a city (``city``, ``stations`` averaged) for a period.

    ``aqi`` None = NA (a pollutant missing and the others at most 100: HJ 633-2026 §5.3). ``primary``:
    the primary pollutants (``PM2.5``, ``O3`` ...: those whose IAQI is the AQI, when above 50; ties all
    listed). ``iaqi`` and ``inputs``: the IAQI and the concentration (µg/m³, CO mg/m³; None =
    missing) of each item of the report (``PM2.5_1h``, ``O3_8h``, ``SO2_24h`` ...). ``level``:
    category 1-6 (0 = none); :func:`envtrace.standards.categories` gives names and colours.
    """

    station_id: int | None
    city: str | None
    stations: tuple[int, ...]
    granularity: str
    period_ts: int
    edition: str
    report: str
    aqi: int | None
    aqi_available: int | None
    complete: bool
    level: int
    primary: tuple[str, ...]
    iaqi: Mapping[str, int]
    inputs: Mapping[str, float | None]
    rules: str

    def content(self) -> tuple[object, ...]:
        return (
            self.station_id,
            self.city,
            tuple(self.stations),
            self.granularity,
            self.period_ts,
            self.edition,
            self.report,
            self.aqi,
            self.aqi_available,
            self.complete,
            self.level,
            tuple(self.primary),
            canonical(dict(self.iaqi)),
            canonical(dict(self.inputs)),
            self.rules,
        )


@dataclass(frozen=True, slots=True)
class AqiValue(AqiDraft):
    id: int
    version: int
    computed_ts: int


def _aqi_value(row: RowMapping, *, city: bool) -> AqiValue:
    return AqiValue(
        station_id=None if city else int(row["station_id"]),
        city=row["city"] if city else None,
        stations=tuple(json.loads(row["stations"])) if city else (int(row["station_id"]),),
        granularity=row["granularity"],
        period_ts=int(row["period_ts"]),
        edition=row["edition"],
        report=row["report"],
        aqi=row["aqi"],
        aqi_available=row["aqi_available"],
        complete=bool(row["complete"]),
        level=int(row["level"]),
        primary=tuple(p for p in row["primary_items"].split(",") if p),
        iaqi=json.loads(row["iaqi"]),
        inputs=json.loads(row["inputs"]),
        rules=row["rules"],
        id=int(row["id"]),
        version=int(row["version"]),
        computed_ts=int(row["computed_ts"]),
    )


def _aqi_row(d: AqiDraft) -> dict[str, object]:
    row: dict[str, object] = {
        "granularity": d.granularity,
        "period_ts": d.period_ts,
        "edition": d.edition,
        "report": d.report,
        "aqi": d.aqi,
        "aqi_available": d.aqi_available,
        "complete": d.complete,
        "level": d.level,
        "primary_items": ",".join(d.primary),
        "iaqi": canonical(dict(d.iaqi)),
        "inputs": canonical(dict(d.inputs)),
        "rules": d.rules,
    }
    if d.city is not None:
        row.update(city=d.city, stations=canonical(list(d.stations)))
    else:
        row["station_id"] = d.station_id
    return row


def append_aqi(conn: Connection, drafts: Sequence[AqiDraft], *, computed_ts: int) -> list[AqiValue]:
    """Append a new version for each station or city AQI whose content changed; returns them."""
    out: list[AqiValue] = []
    for d in drafts:
        city = d.city is not None
        table = rollup_city_aqi if city else rollup_aqi
        owner = table.c.city == d.city if city else table.c.station_id == d.station_id
        q = (
            select(table)
            .where(owner, table.c.granularity == d.granularity, table.c.period_ts == d.period_ts)
            .order_by(table.c.version.desc())
            .limit(1)
        )
        old_row = conn.execute(q).mappings().first()
        old = None if old_row is None else _aqi_value(old_row, city=city)
        if old is not None and old.content() == d.content():
            continue
        row = _aqi_row(d)
        row.update(version=1 if old is None else old.version + 1, computed_ts=computed_ts)
        conn.execute(insert(table).values(**row))
        new_row = conn.execute(q).mappings().one()
        out.append(_aqi_value(new_row, city=city))
    return out


def station_aqi(
    conn: Connection,
    station_id: int,
    *,
    granularity: str = "hour",
    start: int | None = None,
    end: int | None = None,
    limit: int = 10_000,
) -> list[AqiValue]:
    """Current AQI of a station with ``start <= period_ts < end``, by time.

    Proposed route: ``GET /api/v1/stations/{id}/aqi?from=&to=&granularity=hour|day``.
    """
    a = rollup_aqi.c
    where = [a.station_id == station_id, a.granularity == granularity]
    if start is not None:
        where.append(a.period_ts >= start)
    if end is not None:
        where.append(a.period_ts < end)
    q = latest(rollup_aqi, ("station_id", "granularity", "period_ts"), *where).order_by(a.period_ts)
    return [_aqi_value(r, city=False) for r in conn.execute(q.limit(limit)).mappings()]


def current_station_aqi(conn: Connection, station_id: int, *, granularity: str = "hour") -> AqiValue | None:
    """The station's AQI of its newest period (current version), or None."""
    a = rollup_aqi.c
    q = (
        select(rollup_aqi)
        .where(a.station_id == station_id, a.granularity == granularity)
        .order_by(a.period_ts.desc(), a.version.desc())
        .limit(1)
    )
    row = conn.execute(q).mappings().first()
    return None if row is None else _aqi_value(row, city=False)


def city_aqi(
    conn: Connection,
    city: str,
    *,
    granularity: str = "hour",
    start: int | None = None,
    end: int | None = None,
    limit: int = 10_000,
) -> list[AqiValue]:
    """Current AQI of a city with ``start <= period_ts < end``, by time."""
    a = rollup_city_aqi.c
    where = [a.city == city, a.granularity == granularity]
    if start is not None:
        where.append(a.period_ts >= start)
    if end is not None:
        where.append(a.period_ts < end)
    q = latest(rollup_city_aqi, ("city", "granularity", "period_ts"), *where).order_by(a.period_ts)
    return [_aqi_value(r, city=True) for r in conn.execute(q.limit(limit)).mappings()]


def current_city_aqi(conn: Connection, city: str, *, granularity: str = "hour") -> AqiValue | None:
    """The city's AQI of its newest period (current version), or None."""
    a = rollup_city_aqi.c
    q = (
        select(rollup_city_aqi)
        .where(a.city == city, a.granularity == granularity)
        .order_by(a.period_ts.desc(), a.version.desc())
        .limit(1)
    )
    row = conn.execute(q).mappings().first()
    return None if row is None else _aqi_value(row, city=True)


def current_cities_aqi(conn: Connection, *, granularity: str = "hour") -> list[AqiValue]:
    """Every city's AQI of its newest period, by city."""
    a = rollup_city_aqi.c
    newest = (
        select(a.city, func.max(a.period_ts).label("top"))
        .where(a.granularity == granularity)
        .group_by(a.city)
        .subquery()
    )
    q = latest(
        rollup_city_aqi,
        ("city", "granularity", "period_ts"),
        a.granularity == granularity,
        a.period_ts == select(newest.c.top).where(newest.c.city == a.city).scalar_subquery(),
    ).order_by(a.city)
    return [_aqi_value(r, city=True) for r in conn.execute(q).mappings()]


def station_aqi_at(
    conn: Connection, station_ids: Sequence[int], *, granularity: str, period_ts: int
) -> list[AqiValue]:
    """Current AQI rows of the given stations at one period."""
    if not station_ids:
        return []
    a = rollup_aqi.c
    q = latest(
        rollup_aqi,
        ("station_id", "granularity", "period_ts"),
        a.station_id.in_(list(station_ids)),
        a.granularity == granularity,
        a.period_ts == period_ts,
    ).order_by(a.station_id)
    return [_aqi_value(r, city=False) for r in conn.execute(q).mappings()]
