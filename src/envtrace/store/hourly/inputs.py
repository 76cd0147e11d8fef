"""What the computation reads: station registry facts, the primary readings, the city's stations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    Connection,
    case,
    select,
)

from envtrace.store.readings import reading
from envtrace.store.registry import enterprise, monitoring_point, parameter, station, station_parameter


@dataclass(frozen=True, slots=True)
class StationContext:
    """What the computation needs to know about a station (registry facts, read once per run)."""

    id: int
    mn: str
    kind: str
    edition: str
    utc_offset_min: int
    city: str | None
    industry: str | None
    configured_units: Mapping[str, str]
    registry_units: Mapping[str, str]
    o2_ref: Mapping[str, float]
    spans: Mapping[str, float] = field(default_factory=dict)  # analyser full range by parameter


def station_contexts(conn: Connection, station_ids: Iterable[int]) -> dict[int, StationContext]:
    ids = sorted(set(station_ids))
    if not ids:
        return {}
    s, p, e = station.c, monitoring_point.c, enterprise.c
    q = (
        select(s.id, s.mn, s.kind, s.edition, s.utc_offset_min, p.city, e.industry)
        .select_from(
            station.outerjoin(monitoring_point, p.id == s.point_id).outerjoin(
                enterprise, e.id == p.enterprise_id
            )
        )
        .where(s.id.in_(ids))
    )
    rows = conn.execute(q).mappings().all()
    units: dict[int, dict[str, str]] = {}
    o2: dict[int, dict[str, float]] = {}
    spans: dict[int, dict[str, float]] = {}
    sp = station_parameter.c
    for r in conn.execute(select(station_parameter).where(sp.station_id.in_(ids))).mappings():
        if r["unit"]:
            units.setdefault(r["station_id"], {})[r["parameter"]] = r["unit"]
        if r["o2_ref"] is not None:
            o2.setdefault(r["station_id"], {})[r["parameter"]] = float(r["o2_ref"])
        if r["span"] is not None:
            spans.setdefault(r["station_id"], {})[r["parameter"]] = float(r["span"])
    registry = {
        r["code"]: r["unit"]
        for r in conn.execute(select(parameter.c.code, parameter.c.unit)).mappings()
        if r["unit"]
    }
    return {
        int(r["id"]): StationContext(
            id=int(r["id"]),
            mn=r["mn"],
            kind=r["kind"],
            edition=r["edition"],
            utc_offset_min=int(r["utc_offset_min"]),
            city=r["city"],
            industry=r["industry"],
            configured_units=units.get(r["id"], {}),
            registry_units=registry,
            o2_ref=o2.get(r["id"], {}),
            spans=spans.get(r["id"], {}),
        )
        for r in rows
    }


def city_stations(conn: Connection, city: str, *, kind: str = "ambient") -> list[int]:
    """Enabled stations of a kind whose monitoring point is in ``city``."""
    s, p = station.c, monitoring_point.c
    q = (
        select(s.id)
        .select_from(station.join(monitoring_point, p.id == s.point_id))
        .where(p.city == city, s.kind == kind, s.enabled.is_(True))
        .order_by(s.id)
    )
    return [int(x) for x in conn.execute(q).scalars()]


@dataclass(frozen=True, slots=True)
class PrimaryReading:
    parameter: str
    granularity: str
    data_ts: int
    value: float | None
    min: float | None
    max: float | None
    cou: float | None
    zs_value: float | None
    flag: str | None
    frame_id: int


def primary_readings(
    conn: Connection,
    station_id: int,
    *,
    granularities: Sequence[str],
    parameters: Sequence[str],
    start: int,
    end: int,
) -> list[PrimaryReading]:
    """Readings of a station with ``start <= data_ts < end``, by parameter, granularity, time.

    The parameter and granularity lists keep the lookup on the reading key's index.
    """
    if not parameters or not granularities:
        return []
    r = reading.c
    q = (
        select(
            r.parameter,
            r.granularity,
            r.data_ts,
            r.value,
            r.min,
            r.max,
            r.cou,
            r.zs_value,
            r.flag,
            r.frame_id,
        )
        .where(
            r.station_id == station_id,
            r.granularity.in_(list(granularities)),
            r.parameter.in_(list(parameters)),
            r.data_ts >= start,
            r.data_ts < end,
        )
        .order_by(r.parameter, r.granularity, r.data_ts)
    )
    return [
        PrimaryReading(
            parameter=r.parameter,
            granularity=r.granularity,
            data_ts=int(r.data_ts),
            value=r.value,
            min=r.min,
            max=r.max,
            cou=r.cou,
            zs_value=r.zs_value,
            flag=r.flag,
            frame_id=int(r.frame_id),
        )
        for r in conn.execute(q)
    ]


def periods_with_data(
    conn: Connection,
    station_id: int,
    *,
    granularities: Sequence[str],
    parameters: Sequence[str],
    start: int,
    end: int,
) -> list[tuple[str, int]]:
    """(granularity, data time truncated to the hour; day readings as they are) with readings in the range."""
    if not parameters or not granularities:
        return []
    r = reading.c
    period = case((r.granularity == "day", r.data_ts), else_=r.data_ts - r.data_ts % 3600)
    q = (
        select(r.granularity, period)
        .where(
            r.station_id == station_id,
            r.granularity.in_(list(granularities)),
            r.parameter.in_(list(parameters)),
            r.data_ts >= start,
            r.data_ts < end,
        )
        .distinct()
    )
    return [(g, int(t)) for g, t in conn.execute(q)]
