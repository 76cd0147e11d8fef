"""The incremental roll-up: take in new raw frames, (re)compute the periods they touch, and only those.

One run
    1. *Take in*: the readings of raw frames past the cursor (frames commit in id order) name the
       station-hours (and, for daily data, station-days) they touch; each is queued in
       ``rollup_pending``, due at the period's end plus a grace (so an hour in progress is computed
       once, when over, and a late reading re-opens a closed period at once), and the cursor moves,
       all in one transaction. Automatic standard-sample checks (CN 2062) of those frames queue the
       hours with data they can change: from the check's hour to the hour of the parameter's next
       check (``envtrace.rollup.checks``).
    2. *Hours due*: each queued station-hour is recomputed from its primary data
       (``envtrace.rollup.hours``); a result that differs from the current version is appended as a
       new version, with its exceedance (``limits.judge``) and disagreements (``compare``); a changed
       hour queues its day, and for ambient stations re-opens the AQI of the hours it moves and
       queues the city.
    3. *Days due*: likewise from the day's current hours (``envtrace.rollup.days``), daily AQI.
    4. *Cities due*: city AQI from the stations' current AQI (``envtrace.rollup.air``), once the
       station queues are drained, so that one hour's city value is computed once.

Each chunk of ``chunk_periods`` periods is one write transaction, so a crash leaves every period
either done or still queued; running twice changes nothing the second time (idempotent). A station
whose computation fails is rolled back to a savepoint, logged and retried an hour later; the others
go on.

``recompute`` re-judges a time range from the primary data (after a rule-table correction, say):
new versions where the result differs, nothing where it does not.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import Connection, Engine

from envtrace.rollup import air, compare, days, hours, limits, rules
from envtrace.rollup import checks as standard_checks
from envtrace.rollup.errors import BadRange
from envtrace.rollup.minutes import infer_interval
from envtrace.rollup.options import RollupOptions
from envtrace.standards import AmbiguousLimit
from envtrace.store import hourly as store
from envtrace.store.engine import write_transaction
from envtrace.store.hourly import JudgedValue, Pending, StationContext
from envtrace.store.payloads import checks_of_frames

log = logging.getLogger("envtrace.rollup")

CURSOR = "rollup"
HOUR = 3600
DAY = 86400
RETRY_AFTER_S = 3600
PRIMARY = ("rtd", "min", "hour")


def run(engine: Engine, now_ts: int, options: RollupOptions | None = None) -> dict[str, int]:
    """One incremental run (the ``rollup`` job). Returns what it did, by name."""
    opts = options or RollupOptions()
    started = time.monotonic()
    counts: Counter[str] = Counter()
    frames: list[int] = []
    while time.monotonic() - started < opts.time_budget_s:
        taken = _take_in(engine, now_ts, opts, counts)
        if taken is None:
            break
        frames.extend(taken)
    drained = True
    for granularity in ("hour", "day"):
        while True:
            if time.monotonic() - started >= opts.time_budget_s:
                drained = False
                break
            if _process_due(engine, granularity, now_ts, opts, counts) == 0:
                break
    if drained:
        while time.monotonic() - started < opts.time_budget_s and _process_cities(
            engine, now_ts, opts, counts
        ):
            pass
    if any(counts.values()):
        with write_transaction(engine) as conn:
            store.record_run(
                conn,
                kind="job",
                started_ts=now_ts,
                counts=counts,
                rules=rules.RULES,
                frames_from=min(frames) if frames else None,
                frames_to=max(frames) if frames else None,
            )
    with engine.connect() as conn:
        counts["pending"] = store.count_pending(conn)
    return dict(counts)


def _take_in(
    engine: Engine, now_ts: int, opts: RollupOptions, counts: Counter[str]
) -> tuple[int, int] | None:
    with engine.connect() as conn:  # a read first: an idle run takes no write lock
        if store.newest_frame(conn) <= store.cursor_value(conn, CURSOR):
            return None
    with write_transaction(engine) as conn:
        cursor = store.cursor(conn, CURSOR, lock=True)
        top = store.newest_frame(conn)
        if top <= cursor:
            return None
        hi = min(top, cursor + opts.batch_frames)
        touched = store.touched(conn, cursor, hi)
        store.add_series(conn, ((t.station_id, t.granularity, t.parameter) for t in touched))
        queue: dict[tuple[int, str, int], Pending] = {}
        for t in touched:
            gran = "day" if t.granularity == "day" else "hour"
            length, grace = (DAY, opts.day_grace_s) if gran == "day" else (HOUR, opts.hour_grace_s)
            key = (t.station_id, gran, t.period_ts)
            old = queue.get(key)
            frame = max(t.frame_id, old.touched_frame if old else 0)
            queue[key] = Pending(t.station_id, gran, t.period_ts, t.period_ts + length + grace, frame)
        _queue_checked_hours(conn, cursor + 1, hi, opts, queue, counts)
        store.add_pending(conn, queue.values())
        store.set_cursor(conn, CURSOR, hi, updated_ts=now_ts)
        counts["frames"] += hi - cursor
        counts["queued"] += len(queue)
        return cursor + 1, hi


def _queue_checked_hours(
    conn: Connection,
    first: int,
    last: int,
    opts: RollupOptions,
    queue: dict[tuple[int, str, int], Pending],
    counts: Counter[str],
) -> None:
    """Queue the hours with data that the standard-sample checks of frames ``first..last`` decide."""
    found = checks_of_frames(conn, first, last)
    if not found:
        return
    contexts = store.station_contexts(conn, {c.station_id for c in found})
    for c in found:
        ctx = contexts.get(c.station_id)
        if ctx is None or ctx.kind not in opts.standard_check_kinds:
            continue
        nxt = store.next_check_ts(conn, c.station_id, c.parameter, c.data_ts)
        start, end = standard_checks.hours_to_requeue(c, nxt, opts.standard_check_scope)
        periods = store.periods_with_data(
            conn, c.station_id, granularities=PRIMARY, parameters=[c.parameter], start=start, end=end
        )
        for _, h in periods:
            key = (c.station_id, "hour", h)
            old = queue.get(key)
            frame = max(c.frame_id, old.touched_frame if old else 0)
            queue[key] = Pending(c.station_id, "hour", h, h + HOUR + opts.hour_grace_s, frame)
        counts["checks"] += 1
        counts["check_hours"] += len(periods)


def _process_due(
    engine: Engine, granularity: str, now_ts: int, opts: RollupOptions, counts: Counter[str]
) -> int:
    with write_transaction(engine) as conn:
        due = store.due_pending(conn, granularity=granularity, now_ts=now_ts, limit=opts.chunk_periods)
        if not due:
            return 0
        by_station: dict[int, list[Pending]] = {}
        for p in due:
            by_station.setdefault(p.station_id, []).append(p)
        contexts = store.station_contexts(conn, by_station)
        done: list[Pending] = []
        for sid, items in by_station.items():
            ctx = contexts.get(sid)
            if ctx is None or ctx.kind not in rules.KINDS:
                done.extend(items)
                counts["skipped"] += len(items)
                continue
            periods = sorted(p.period_ts for p in items)
            frame = max(p.touched_frame for p in items)
            if _station_periods(conn, ctx, granularity, periods, frame, now_ts, opts, counts):
                done.extend(items)
            else:
                store.postpone_pending(conn, items, due_ts=now_ts + RETRY_AFTER_S)
        store.done_pending(conn, done)
        return len(due)


def _station_periods(
    conn: Connection,
    ctx: StationContext,
    granularity: str,
    periods: Sequence[int],
    frame: int,
    now_ts: int,
    opts: RollupOptions,
    counts: Counter[str],
) -> bool:
    """Compute one station's periods inside a savepoint; False (rolled back, logged) on failure."""
    try:
        with conn.begin_nested():
            if granularity == "hour":
                _hours(conn, ctx, periods, frame, now_ts, opts, counts)
            else:
                _days(conn, ctx, periods, now_ts, opts, counts)
    except Exception:
        log.exception(
            "rollup of station %s (%s) %s %s failed", ctx.id, ctx.mn, granularity, list(periods)[:5]
        )
        counts["errors"] += 1
        return False
    return True


def _runs(periods: Sequence[int], *, gap: int) -> list[list[int]]:
    """Sorted periods grouped where consecutive ones are at most ``gap`` apart."""
    out: list[list[int]] = []
    for p in sorted(periods):
        if out and p - out[-1][-1] <= gap:
            out[-1].append(p)
        else:
            out.append([p])
    return out


def _hours(
    conn: Connection,
    ctx: StationContext,
    hours_due: Sequence[int],
    frame: int,
    now_ts: int,
    opts: RollupOptions,
    counts: Counter[str],
) -> None:
    series = store.series(conn, ctx.id)
    params = sorted({p for g in PRIMARY for p in series.get(g, [])})
    lims = limits.StationLimits.build(ctx, store.limit_rules(conn, station_id=ctx.id))
    judge_checks = ctx.kind in opts.standard_check_kinds
    drafts = []
    for group in _runs(hours_due, gap=3 * HOUR):
        readings = store.primary_readings(
            conn,
            ctx.id,
            granularities=PRIMARY,
            parameters=params,
            start=group[0] - HOUR,
            end=group[-1] + 2 * HOUR,
        )
        by_param: dict[str, list[int]] = {}
        for r in readings:
            if r.granularity == "min":
                by_param.setdefault(r.parameter, []).append(r.data_ts)
        cover = infer_interval(np.asarray(t, dtype=np.int64) for t in by_param.values())
        checks = None
        if judge_checks:
            deciding = store.checks_deciding(
                conn,
                ctx.id,
                parameters=params,
                start=group[0],
                end=group[-1] + HOUR,
                verdict_only=opts.standard_check_basis == "station",
            )
            checks = standard_checks.StationChecks(ctx, deciding, opts) if deciding else None
        for h in group:
            data = hours.split_readings(h, readings)
            if data.by_parameter:
                drafts.extend(
                    hours.station_hour(ctx, data, cover_min_s=cover, limits=lims, options=opts, checks=checks)
                )
    new = store.append_values(conn, drafts, computed_ts=now_ts)
    counts["hours"] += len(drafts)
    counts["hour_versions"] += len(new)
    _judge(conn, new, lims, now_ts, opts, counts)
    changed = sorted({v.period_ts for v in new})
    day_starts = {days.local_day(h, ctx.utc_offset_min) for h in changed}
    store.add_pending(
        conn, (Pending(ctx.id, "day", d, d + DAY + opts.day_grace_s, frame) for d in sorted(day_starts))
    )
    if ctx.kind == "ambient":
        moved = sorted({v.period_ts for v in new if v.parameter in rules.AMBIENT_POLLUTANTS})
        _aqi(conn, ctx, air.station_hours(conn, ctx, moved, opts.aqi_report), now_ts, counts)


def _days(
    conn: Connection,
    ctx: StationContext,
    days_due: Sequence[int],
    now_ts: int,
    opts: RollupOptions,
    counts: Counter[str],
) -> None:
    series = store.series(conn, ctx.id)
    lims = limits.StationLimits.build(ctx, store.limit_rules(conn, station_id=ctx.id))
    drafts = []
    for d in days_due:
        judged = store.station_values(conn, ctx.id, granularity="hour", start=d, end=d + DAY)
        reported = store.primary_readings(
            conn, ctx.id, granularities=("day",), parameters=series.get("day", []), start=d, end=d + 1
        )
        drafts.extend(days.station_day(ctx, d, judged, reported))
    new = store.append_values(conn, drafts, computed_ts=now_ts)
    counts["days"] += len(drafts)
    counts["day_versions"] += len(new)
    _judge(conn, new, lims, now_ts, opts, counts)
    if ctx.kind == "ambient":
        moved = sorted({v.period_ts for v in new if v.parameter in rules.AMBIENT_POLLUTANTS})
        found = [air.station_day(conn, ctx, d) for d in moved]
        _aqi(conn, ctx, [a for a in found if a is not None], now_ts, counts)


def _judge(
    conn: Connection,
    new: Iterable[JudgedValue],
    lims: limits.StationLimits,
    now_ts: int,
    opts: RollupOptions,
    counts: Counter[str],
) -> None:
    found = []
    disagree = []
    for v in new:
        try:
            e = limits.judge(v, lims)
        except AmbiguousLimit as exc:
            log.warning("station %s %s %s: %s", v.station_id, v.parameter, v.period_ts, exc)
            counts["ambiguous_limits"] += 1
            e = None
        if e is not None:
            found.append(e)
        disagree.extend(compare.disagreements(v, opts))
    counts["exceedances"] += len(store.add_exceedances(conn, found, detected_ts=now_ts))
    counts["disagreements"] += len(store.add_disagreements(conn, disagree, detected_ts=now_ts))


def _aqi(
    conn: Connection, ctx: StationContext, drafts: Sequence[store.AqiDraft], now_ts: int, counts: Counter[str]
) -> None:
    new = store.append_aqi(conn, drafts, computed_ts=now_ts)
    counts["aqi_versions"] += len(new)
    if ctx.city and new:
        store.add_city_pending(conn, ((ctx.city, a.granularity, a.period_ts) for a in new), due_ts=now_ts)


def _process_cities(engine: Engine, now_ts: int, opts: RollupOptions, counts: Counter[str]) -> int:
    with write_transaction(engine) as conn:
        due = store.due_city_pending(conn, now_ts=now_ts, limit=opts.chunk_periods)
        drafts = [d for d in (air.city(conn, c, g, p) for c, g, p in due) if d is not None]
        counts["city_aqi_versions"] += len(store.append_aqi(conn, drafts, computed_ts=now_ts))
        store.done_city_pending(conn, due)
        return len(due)


def recompute(
    engine: Engine,
    start: int,
    end: int,
    *,
    now_ts: int,
    station_ids: Sequence[int] | None = None,
    options: RollupOptions | None = None,
) -> dict[str, int]:
    """Re-judge every station-hour with data in ``[start, end)`` and the days they fall in."""
    if end <= start:
        raise BadRange(start, end)
    opts = options or RollupOptions()
    counts: Counter[str] = Counter()
    with engine.connect() as conn:
        ids = list(station_ids) if station_ids is not None else store.stations_with_series(conn)
        contexts = store.station_contexts(conn, ids)
    for sid in ids:
        ctx = contexts.get(sid)
        if ctx is None or ctx.kind not in rules.KINDS:
            continue
        with engine.connect() as conn:
            series = store.series(conn, sid)
            params = sorted({p for ps in series.values() for p in ps})
            found = store.periods_with_data(
                conn, sid, granularities=(*PRIMARY, "day"), parameters=params, start=start, end=end
            )
        hour_list = sorted({t for g, t in found if g != "day"})
        day_list = sorted(
            {t for g, t in found if g == "day"} | {days.local_day(h, ctx.utc_offset_min) for h in hour_list}
        )
        for i in range(0, len(hour_list), opts.chunk_periods):
            with write_transaction(engine) as conn:
                _station_periods(
                    conn, ctx, "hour", hour_list[i : i + opts.chunk_periods], 0, now_ts, opts, counts
                )
        for i in range(0, len(day_list), opts.chunk_periods):
            with write_transaction(engine) as conn:
                _station_periods(
                    conn, ctx, "day", day_list[i : i + opts.chunk_periods], now_ts, now_ts, opts, counts
                )
    while _process_cities(engine, now_ts, opts, counts):
        pass
    with write_transaction(engine) as conn:
        store.record_run(
            conn,
            kind="recompute",
            started_ts=now_ts,
            counts=counts,
            rules=rules.RULES,
            from_ts=start,
            to_ts=end,
        )
    return dict(counts)
