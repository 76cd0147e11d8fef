"""``/api/v1/overview``: the province's state in one answer: stations online, capture and
effective-data rates (valid judged hours / expected hours) by city, county and enterprise, frames
received and quarantined in the last 24 h, open alarms by severity and overdue, the age of the newest
signed ledger checkpoint (an enterprise user sees its own outlets and alarms only)."""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection

from envtrace.alarms import OPEN_STATES, SEVERITIES, list_alarms
from envtrace.evidence.queries import latest_checkpoint
from envtrace.store import console
from envtrace.store.console import Rate
from envtrace.web.api.alarms import actor
from envtrace.web.context import Principal
from envtrace.web.deps import AnyUser, Ctx
from envtrace.web.models import (
    ERROR_RESPONSES,
    AlarmSummary,
    CheckpointAge,
    OverviewOut,
    RateOut,
    SeverityCount,
)

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
    conn: Connection, principal: Principal, hours: int, cache: OverviewCache | None = None
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


MAX_COUNTED_ALARMS = 100_000


def alarm_summary(conn: Connection, principal: Principal, now: int) -> AlarmSummary:
    """Open alarms the caller may read, by severity, and how many are past their deadline."""
    rows = list_alarms(conn, actor(principal), states=OPEN_STATES, limit=MAX_COUNTED_ALARMS)
    counts = {sev: [0, 0] for sev in SEVERITIES}
    for a in rows:
        entry = counts.setdefault(a.severity, [0, 0])
        entry[0] += 1
        if a.due_ts is not None and a.due_ts <= now:
            entry[1] += 1
    return AlarmSummary(
        open=len(rows),
        overdue=sum(v[1] for v in counts.values()),
        by_severity=[SeverityCount(severity=k, open=v[0], overdue=v[1]) for k, v in counts.items()],
    )


def _checkpoint_age(conn: Connection, now: int) -> CheckpointAge | None:
    cp = latest_checkpoint(conn)
    return None if cp is None else CheckpointAge(size=cp.size, ts=cp.ts, age_s=max(0, now - cp.ts))


def _compute(conn: Connection, principal: Principal, hours: int) -> OverviewOut:
    now = int(time.time())
    o = console.overview(conn, principal.scope, now_ts=now, hours=hours)
    return OverviewOut(
        start=o.t0,
        end=o.t1,
        stations=o.stations,
        approved=o.approved,
        pending=o.pending,
        online=o.online,
        offline=o.stations - o.online,
        frames=o.frames,
        frames_window=o.frames_window,
        quarantined=o.quarantined,
        quarantined_window=o.quarantined_window,
        capture_rate=o.total.capture_rate,
        effective_rate=o.total.effective_rate,
        effective_basis="judged" if o.effective_basis == "judged" else "minutes",
        alarms=alarm_summary(conn, principal, now),
        checkpoint=_checkpoint_age(conn, now),
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
    """Rates over the last ``hours`` complete hours the roll-up has judged (capture: minute values
    received / expected; effective: valid judged parameter-hours / expected, see
    ``effective_basis``), open alarms by severity, last-24-h frame counts, the newest checkpoint.
    Computed at most every 10 s per scope; a cached answer needs no database and no worker thread."""
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
