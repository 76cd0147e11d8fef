"""``/api/v1/overview``: stations online, capture and effective-data rates by city, county and
enterprise, frames received and quarantined (an enterprise user sees its own outlets only)."""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from envtrace.store import console
from envtrace.store.console import Rate
from envtrace.web.deps import AnyUser, Ctx, ReadConn
from envtrace.web.models import ERROR_RESPONSES, OverviewOut, RateOut

router = APIRouter(prefix="/api/v1", tags=["overview"], responses=ERROR_RESPONSES)


def _rates(groups: dict[str, Rate]) -> list[RateOut]:
    return [
        RateOut(
            key=k,
            stations=r.stations,
            online=r.online,
            capture_rate=r.capture_rate,
            effective_rate=r.effective_rate,
        )
        for k, r in groups.items()
    ]


CACHE_S = 10.0


class OverviewCache:
    """One app's recent overviews by (scope, hours): one computation serves every caller of the
    same scope for up to ``CACHE_S`` seconds (the roll-ups it reads move every few seconds anyway)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.computing = threading.Lock()
        self.entries: dict[tuple[int | None, int], tuple[float, OverviewOut]] = {}

    def fresh(self, enterprise_id: int | None, hours: int) -> OverviewOut | None:
        with self.lock:
            hit = self.entries.get((enterprise_id, hours))
        if hit is None or time.monotonic() - hit[0] >= CACHE_S:
            return None
        return hit[1]


def build_overview(
    conn: ReadConn, principal: AnyUser, hours: int, cache: OverviewCache | None = None
) -> OverviewOut:
    if cache is None:
        return _compute(conn, principal, hours)
    key = (principal.scope.enterprise_id, hours)
    now = time.monotonic()
    with cache.lock:
        hit = cache.entries.get(key)
    if hit is not None and now - hit[0] < CACHE_S:
        return hit[1]
    out = _compute(conn, principal, hours)
    with cache.lock:
        if len(cache.entries) > 1000:
            cache.entries.clear()
        cache.entries[key] = (now, out)
    return out


def _compute(conn: ReadConn, principal: AnyUser, hours: int) -> OverviewOut:
    o = console.overview(conn, principal.scope, now_ts=int(time.time()), hours=hours)
    return OverviewOut(
        start=o.t0,
        end=o.t1,
        stations=o.stations,
        approved=o.approved,
        pending=o.pending,
        online=o.online,
        offline=o.stations - o.online,
        frames=o.frames,
        quarantined=o.quarantined,
        quarantined_window=o.quarantined_window,
        capture_rate=o.total.capture_rate,
        effective_rate=o.total.effective_rate,
        by_city=_rates(o.by_city),
        by_county=_rates(o.by_county),
        by_enterprise=_rates(o.by_enterprise),
    )


@router.get("/overview", response_model=OverviewOut)
async def overview(
    principal: AnyUser,
    ctx: Ctx,
    request: Request,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> OverviewOut:
    """Rates over the last ``hours`` complete hours (capture: minute values received / expected;
    effective: parameter-hours with >= 45 normal minute values / expected). Computed at most every
    10 s per scope; a cached answer needs no database and no worker thread."""
    cache: OverviewCache = request.app.state.overview_cache
    hit = cache.fresh(principal.scope.enterprise_id, hours)
    if hit is not None:
        return hit

    def compute() -> OverviewOut:
        with cache.computing:  # one computation at a time: the callers queued behind it reuse it
            again = cache.fresh(principal.scope.enterprise_id, hours)
            if again is not None:
                return again
            with ctx.engine.connect() as conn:
                return build_overview(conn, principal, hours, cache)

    return await run_in_threadpool(compute)
