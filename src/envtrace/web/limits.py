"""The limit that applies to a station's parameter, as the roll-up resolves it for exceedances.

Limit rows are the roll-up's (``envtrace.store.hourly.limit_rules``: permit, local and national
rows, national table assignments), resolved by ``envtrace.rollup.limits.StationLimits`` exactly as
the exceedance judgement does (permit > local > national, own row before general, latest
effective-from; two rows still tied are reported as ambiguous, never guessed). Ambient stations have
no emission limit; their charts show the GB 3095 class-2 one-hour limit instead (``air.ambient_limit``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from pydantic import BaseModel, Field
from sqlalchemy import Connection

from envtrace.rollup.limits import AVERAGING_OF, SCOPE_NAMES, StationLimits
from envtrace.rollup.units import canonical, factor
from envtrace.standards import AmbiguousLimit
from envtrace.store.hourly import limit_rules, station_contexts
from envtrace.web.air import ambient_limit


class LimitOut(BaseModel):
    parameter: str
    value: float | None = Field(description="In `unit` (converted to the values' unit when it can be)")
    unit: str | None
    averaging: str = Field(description="1h: hourly values; 24h: daily values")
    scope: str = Field(description="permit, local, national, or ambient (GB 3095 class 2, not judged)")
    source: str
    o2_ref_pct: float | None = Field(description="Reference O2 the limit applies at (corrected values)")
    ambiguous: bool = Field(False, description="two rows tie: no limit is applied (the roll-up logs it)")


def station_limits(conn: Connection, station_id: int) -> StationLimits | None:
    ctx = station_contexts(conn, [station_id]).get(station_id)
    if ctx is None:
        return None
    return StationLimits.build(ctx, limit_rules(conn, station_id=station_id))


class LimitsCache:
    """Each station's resolved limit rows for up to ``ttl_s`` seconds (one app's): a chart asks for
    them with every zoom, and limit rules change by a new row, rarely."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, StationLimits | None]] = {}

    def get(self, conn: Connection, station_id: int) -> StationLimits | None:
        with self._lock:
            hit = self._entries.get(station_id)
        if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        found = station_limits(conn, station_id)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[station_id] = (time.monotonic(), found)
        return found


def resolve(
    limits: StationLimits | None,
    parameter: str,
    at: int,
    granularity: str,
    *,
    kind: str | None = None,
    value_unit: str | None = None,
) -> LimitOut | None:
    """The limit of ``parameter`` for ``granularity`` values at time ``at`` (None: no limit)."""
    averaging = AVERAGING_OF.get(granularity, "1h")
    if limits is not None:
        try:
            applied = limits.applicable(parameter, at, averaging)
        except AmbiguousLimit as exc:
            return LimitOut(
                parameter=parameter,
                value=None,
                unit=None,
                averaging=averaging,
                scope="ambiguous",
                source=str(exc),
                o2_ref_pct=None,
                ambiguous=True,
            )
        if applied is not None:
            row = applied.row
            value = row.value
            unit: str | None = canonical(row.unit) or row.unit
            f = factor(row.unit, value_unit) if value_unit else None
            if f is not None:
                value, unit = row.value * f, canonical(value_unit) or value_unit
            return LimitOut(
                parameter=parameter,
                value=value,
                unit=unit,
                averaging=averaging,
                scope=SCOPE_NAMES.get(row.scope, str(row.scope)),
                source=row.source,
                o2_ref_pct=row.o2_ref_pct,
            )
    if kind == "ambient" and granularity == "hour":
        gb = ambient_limit(parameter, at)
        if gb is not None:
            return LimitOut(
                parameter=parameter,
                value=gb,
                unit="µg/m³" if parameter != "a21005" else "mg/m³",
                averaging="1h",
                scope="ambient",
                source="GB 3095 class 2, 1-hour",
                o2_ref_pct=None,
            )
    return None


def resolve_many(
    conn: Connection, station_id: int, parameters: Iterable[str], at: int, *, kind: str | None = None
) -> dict[str, LimitOut]:
    limits = station_limits(conn, station_id)
    out = {}
    for p in parameters:
        found = resolve(limits, p, at, "hour", kind=kind)
        if found is not None:
            out[p] = found
    return out
