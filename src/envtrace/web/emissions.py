"""Key pollutant-discharge units against their limits (portal and console).

For each outlet of an enterprise: the valid judged hourly values of the last 24 hours (the
platform's corrected value where the outlet is corrected to a reference O2, else the measured
value), the limit the roll-up applies (``envtrace.web.limits``), the ratio of the newest valid hour
to it, and how many periods were judged exceedances in the last 24 hours and 30 days. Everything is
the roll-up's: an outlet whose hours have not been judged yet shows no value, and says so.

The answer is cached per scope for ``CACHE_S`` seconds (the roll-up moves every 30 s anyway).
"""

from __future__ import annotations

import threading
import time

from pydantic import BaseModel, Field
from sqlalchemy import Connection

from envtrace.store import console
from envtrace.store.console import Scope, StationRow
from envtrace.store.hourly import JudgedValue, exceedances, station_values
from envtrace.web.limits import LimitOut, resolve, station_limits

CACHE_S = 60.0
WINDOW_H = 24
EXCEEDANCE_DAYS = 30
OUTLET_KINDS = frozenset({"flue_gas", "water", "vocs", "dust", "other"})


class OutletValue(BaseModel):
    parameter: str
    name_zh: str
    name_en: str
    unit: str | None
    hour_ts: int | None = Field(description="Newest valid hour in the window (null: none)")
    value: float | None
    basis: str = Field(description="corrected (platform's, at the reference O2) or measured")
    limit: LimitOut | None
    ratio: float | None = Field(description="value / limit")
    valid_hours: int
    judged_hours: int
    recent: list[tuple[int, float | None]] = Field(description="(hour, valid value or null), oldest first")
    exceedances_24h: int
    exceedances_30d: int


class Outlet(BaseModel):
    station_id: int
    name: str | None
    mn: str
    kind: str
    judged: bool = Field(description="False: the roll-up has judged no hour of it in the window yet")
    values: list[OutletValue]
    exceedances_24h: int
    exceedances_30d: int


class KeyEnterprise(BaseModel):
    id: int
    name: str
    name_en: str | None
    city: str | None
    industry: str | None
    key_unit: bool
    outlets: list[Outlet]
    exceedances_24h: int
    exceedances_30d: int


class KeyEnterpriseList(BaseModel):
    start: int
    end: int
    data: list[KeyEnterprise]
    count: int


def _shown(v: JudgedValue) -> tuple[float | None, str]:
    if v.zs_value is not None:
        return v.zs_value, "corrected"
    return v.value, "measured"


def outlet(conn: Connection, s: StationRow, t0: int, t1: int) -> Outlet:
    rows = station_values(conn, s.id, granularity="hour", start=t0, end=t1)
    names = {p.code: p for p in console.station_parameters(conn, s.id)}
    limits = station_limits(conn, s.id)
    facts = exceedances(conn, station_id=s.id, start=t1 - EXCEEDANCE_DAYS * 86400, end=t1, current_only=True)
    periods = {(e.parameter, e.granularity, e.period_ts) for e in facts}
    by_param: dict[str, list[JudgedValue]] = {}
    for r in rows:
        by_param.setdefault(r.parameter, []).append(r)
    out: list[OutletValue] = []
    for code, items in sorted(by_param.items()):
        unit = next((r.unit for r in reversed(items) if r.unit), None)
        valid = [r for r in items if r.valid]
        newest = valid[-1] if valid else None
        value, basis = _shown(newest) if newest is not None else (None, "measured")
        limit = resolve(limits, code, t1 - 1, "hour", kind=s.kind, value_unit=unit)
        info = names.get(code)
        out.append(
            OutletValue(
                parameter=code,
                name_zh=info.name_zh if info else code,
                name_en=info.name_en if info else code,
                unit=unit,
                hour_ts=None if newest is None else newest.period_ts,
                value=value,
                basis=basis,
                limit=limit,
                ratio=None if value is None or limit is None or not limit.value else value / limit.value,
                valid_hours=len(valid),
                judged_hours=len(items),
                recent=[(r.period_ts, _shown(r)[0] if r.valid else None) for r in items],
                exceedances_24h=sum(1 for p, _, ts in periods if p == code and ts >= t0),
                exceedances_30d=sum(1 for p, _, _ in periods if p == code),
            )
        )
    limited = [v for v in out if v.limit is not None and v.limit.value is not None]
    return Outlet(
        station_id=s.id,
        name=s.name,
        mn=s.mn,
        kind=s.kind,
        judged=bool(rows),
        values=limited or out,
        exceedances_24h=sum(1 for _, _, ts in periods if ts >= t0),
        exceedances_30d=len(periods),
    )


def outlet_series(o: Outlet) -> list[dict[str, object]]:
    """Chart series of an outlet: each limited parameter's valid hourly values in % of its limit."""
    out: list[dict[str, object]] = []
    for v in o.values:
        lim = None if v.limit is None else v.limit.value
        if not lim:
            continue
        points = [[ts, None if x is None else round(100.0 * x / lim, 2)] for ts, x in v.recent]
        out.append({"name": f"{v.name_en} ({v.parameter})", "name_zh": v.name_zh, "data": points})
    return out


def key_enterprises(conn: Connection, scope: Scope, *, now: int, key_only: bool) -> KeyEnterpriseList:
    """Enterprises (key units only, or every one in ``scope``) with their outlets against limits."""
    t1 = now - now % 3600
    t0 = t1 - WINDOW_H * 3600
    units = console.enterprises(conn, scope, key_only=key_only)
    stations = [
        s
        for s in console.stations(conn, scope, approved=True, limit=1_000_000)
        if s.enabled and s.enterprise_id is not None and s.kind in OUTLET_KINDS
    ]
    by_enterprise: dict[int, list[StationRow]] = {}
    for s in stations:
        by_enterprise.setdefault(int(s.enterprise_id or 0), []).append(s)
    data = []
    for e in units:
        outlets = [outlet(conn, s, t0, t1) for s in by_enterprise.get(e.id, [])]
        data.append(
            KeyEnterprise(
                id=e.id,
                name=e.name,
                name_en=e.name_en,
                city=e.city,
                industry=e.industry,
                key_unit=e.key_unit,
                outlets=outlets,
                exceedances_24h=sum(o.exceedances_24h for o in outlets),
                exceedances_30d=sum(o.exceedances_30d for o in outlets),
            )
        )
    return KeyEnterpriseList(start=t0, end=t1, data=data, count=len(data))


class EmissionsCache:
    """Recent answers by (enterprise scope, key_only), each for up to ``CACHE_S`` seconds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[tuple[int | None, bool], tuple[float, KeyEnterpriseList]] = {}

    def get(self, conn: Connection, scope: Scope, *, key_only: bool) -> KeyEnterpriseList:
        key = (scope.enterprise_id, key_only)
        with self.lock:
            hit = self.entries.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        out = key_enterprises(conn, scope, now=int(time.time()), key_only=key_only)
        with self.lock:
            if len(self.entries) > 1000:
                self.entries.clear()
            self.entries[key] = (time.monotonic(), out)
        return out
