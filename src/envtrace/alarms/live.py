"""Live detection: arriving data turned into alarms by the background worker, incrementally.

``jobs(settings)`` gives ``envtrace worker`` (``envtrace.cli.worker.JOB_FACTORIES``) these jobs:

``live_detect`` (every ``live_detect_interval_s``, 60 s)
    1. *take in*: the judged hourly values the roll-up appended since the cursor ``values``
       (``rollup_value`` ids) name station-hours; each station -- and each station that reads it as a
       neighbour -- is queued in ``detect_pending`` with the span of hours to feed; the cursor moves
       in the same transaction. Never a re-scan of history.
    2. *feed*: per queued station (oldest data first, within a time budget), its
       ``envtrace.detect.StationDetectorState`` is loaded, given only the queued hours of itself and
       its neighbours, and saved again; the evidence it reports as new or grown is raised as alarms
       in the **same** short write transaction (``raise_alarms_in``), so a crash leaves both or
       neither. The detector work runs outside any transaction (SQLite's single writer -- the
       gateway -- never waits on it); an optimistic counter refuses a save if another worker saved
       the station in between.
    3. *warm-up*: a station's state is fitted once its judged hours span ``live_warmup_days``
       (30 days): the baseline is learned from its own history (and, for ambient stations, from the
       ``live_neighbour_candidates`` nearest ambient stations of the province, among which the
       detector suite picks neighbours by correlation). No fraud or quality alarm comes from a
       station before then. The baseline is refitted every ``live_refit_days`` of data (30 days) on
       up to ``live_lookback_days`` (180) of history; evidence inside a fitting history is never
       raised (it was judged -- or could not be -- when it arrived). A station with an open
       suspected-falsification alarm is not refitted: a manipulation still going on must not become
       its baseline (a manipulation that is in progress when a refit happens stops extending its
       alarm, which stays open for people to judge).
``alarm_intake`` (every ``alarm_intake_interval_s``, 30 s)
    new roll-up exceedances (cursor ``exceedances``), ZsAvg disagreements (cursor
    ``disagreements``), stations silent for ``offline_after_s`` (one finding per silence) and data
    loggers swapped behind an MN (CN 1001 bindings not yet reported) -- see
    ``envtrace.alarms.live_facts``.
``alarm_escalation`` and ``alarm_notify``
    ``escalation_job(policy)`` and, when ``notify_config`` names a TOML file,
    ``notification_job(config)`` of this package.

Latency: a station-hour is judged by the roll-up once it is over plus ``rollup_hour_grace_s``
(600 s) at the next roll-up run (30 s); the next ``live_detect`` run (60 s) feeds it and raises what
it reveals; the next ``alarm_notify`` run (30 s) mails it. About 12 minutes after the end of the
revealing hour with the defaults (``docs/live-detection.md``).

Which evidence becomes an alarm: every ``fraud`` finding; ``qc`` findings except the routine
patterns of ``live_qc_ignore`` (calibration, stopped-unit and maintenance flags, start-up and
shut-down, ordinary gaps, runs near the detection limit, single spikes), which the console shows in
the station's data anyway.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from envtrace.alarms.intake import RaiseReport, raise_alarms_in
from envtrace.alarms.live_facts import run_intake
from envtrace.alarms.live_feed import (
    HOUR,
    build_series,
    neighbour_candidates,
    station_limits,
)
from envtrace.alarms.live_options import DEFAULT_OPTIONS, DEFAULT_QC_IGNORE, LiveOptions
from envtrace.alarms.worker import escalation_job, notification_job
from envtrace.detect import Evidence, StationDetectorState, StationSeries
from envtrace.jobs import Job
from envtrace.store import detect_state as ds
from envtrace.store.engine import write_transaction
from envtrace.store.hourly import limit_rules, station_values

log = logging.getLogger("envtrace.alarms.live")

DAY = 86400


def jobs(settings: object) -> list[Job]:
    """The live-detection, intake, escalation and (when configured) notification jobs."""
    options = LiveOptions.from_settings(settings)

    def live_detect(engine: Engine, now_ts: int) -> Mapping[str, int]:
        return run_detection(engine, now_ts, options)

    def alarm_intake(engine: Engine, now_ts: int) -> Mapping[str, int]:
        return run_intake(engine, now_ts, options)

    out = [
        Job("live_detect", options.interval_s, live_detect),
        Job("alarm_intake", options.intake_interval_s, alarm_intake),
        Job("alarm_escalation", options.escalation_interval_s, escalation_job(options.policy)),
    ]
    if options.notify is not None:
        out.append(Job("alarm_notify", options.notify_interval_s, notification_job(options.notify)))
    return out


# ------------------------------------------------------------------------------------ live_detect


def run_detection(engine: Engine, now: int, options: LiveOptions = DEFAULT_OPTIONS) -> dict[str, int]:
    """One run of ``live_detect`` (idempotent; see the module docstring). Returns counts."""
    started = time.monotonic()
    counts: Counter[str] = Counter()
    counts["taken_in"] = take_in(engine, now, options)
    with engine.connect() as conn:
        facts = ds.station_facts(conn)
        queue = ds.pending(conn, now=now)
        queue = _note_warming(engine, conn, queue, facts, now, options, counts)
    for item in queue:
        if time.monotonic() - started > options.time_budget_s:
            counts["deferred"] += 1
            continue
        try:
            feed_station(engine, item, facts, now, options, counts)
        except Exception as exc:  # one station's failure must not stop the others
            log.exception("live detection failed for station %s", item.station_id)
            with write_transaction(engine) as conn:
                ds.record_failure(
                    conn,
                    item.station_id,
                    now=now,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_ts=now + options.retry_s,
                )
            counts["errors"] += 1
    with engine.connect() as conn:
        counts["pending"] = ds.count_pending(conn)
    return dict(counts)


def _note_warming(
    engine: Engine,
    conn: Connection,
    queue: Sequence[ds.Pending],
    facts: Mapping[int, ds.StationFacts],
    now: int,
    options: LiveOptions,
    counts: Counter[str],
) -> list[ds.Pending]:
    """Record the span of the stations still warming up (all in one short write transaction);
    return the queue items that need the detectors (a fit, a refit or an update)."""
    rows = {r.station_id: r for r in ds.states(conn)}
    busy: list[ds.Pending] = []
    notes: list[tuple[ds.Pending, ds.DetectState | None, int | None, int]] = []
    for item in queue:
        row = rows.get(item.station_id)
        if row is not None and row.phase == "live":
            busy.append(item)
            continue
        first = row.first_ts if row is not None and row.first_ts is not None else None
        first = first if first is not None else ds.first_hour(conn, item.station_id)
        last = max(item.to_ts, row.last_ts or 0) if row is not None else item.to_ts
        me = facts.get(item.station_id)
        ready = me is not None and me.enabled and first is not None
        if ready and first is not None and last - first >= _days(options.warmup_days):
            busy.append(item)
        else:
            notes.append((item, row, first, last))
    if notes:
        with write_transaction(engine) as wconn:
            for item, row, first, last in notes:
                saved = ds.save_state(
                    wconn,
                    item.station_id,
                    expected_updates=None if row is None else row.updates,
                    now=now,
                    phase="warming",
                    first_ts=first,
                    last_ts=last,
                    fitted_ts=None,
                    neighbours=(),
                    state=None,
                )
                if saved:
                    ds.done_pending(wconn, item)
                    counts["warming"] += 1
    return busy


def take_in(engine: Engine, now: int, options: LiveOptions) -> int:
    """Queue the stations whose judged hours changed since the cursor; returns how many were queued."""
    queued = 0
    while True:
        with engine.connect() as conn:
            after = ds.cursor_position(conn, "values")
            touched = ds.touched_hours(conn, after_id=after, limit=options.take_in_rows)
            if not touched.spans:
                return queued
            facts = ds.station_facts(conn)
            readers = _readers(ds.states(conn), facts)
        spans: dict[int, tuple[int, int]] = dict(touched.spans)
        for sid, (lo, hi) in touched.spans.items():
            mn = facts[sid].mn if sid in facts else None
            for reader in readers.get(mn or "", ()):
                old = spans.get(reader, (lo, hi))
                spans[reader] = (min(old[0], lo), max(old[1], hi))
        with write_transaction(engine) as conn:
            if ds.cursor_position(conn, "values") != after:
                continue  # another worker took these in meanwhile
            ds.add_pending(conn, spans)
            ds.set_cursor(conn, "values", touched.last_id, now=now)
        queued += len(spans)


def _readers(rows: Sequence[ds.DetectState], facts: Mapping[int, ds.StationFacts]) -> dict[str, list[int]]:
    """MN -> the stations whose live state reads it as a neighbour."""
    out: dict[str, list[int]] = {}
    for row in rows:
        if row.phase == "live":
            for mn in row.neighbours:
                out.setdefault(mn, []).append(row.station_id)
    return out


class _Conflict(Exception):
    """Another worker saved the station's state meanwhile: roll this run's work back."""


def feed_station(
    engine: Engine,
    item: ds.Pending,
    facts: Mapping[int, ds.StationFacts],
    now: int,
    options: LiveOptions,
    counts: Counter[str],
) -> None:
    """Fit, refit or update one queued station; raise what it reveals; save; drop the queue row."""
    me = facts.get(item.station_id)
    with engine.connect() as conn:
        row = ds.load_state(conn, item.station_id)
        first = row.first_ts if row is not None and row.first_ts is not None else None
        if first is None:
            first = ds.first_hour(conn, item.station_id)
        last = max(item.to_ts, row.last_ts or 0) if row is not None else item.to_ts
        if me is None or not me.enabled or first is None:
            work = None
        elif row is None or row.state is None or row.fitted_ts is None:
            work = (
                _fit(conn, me, facts, first, last, now, options)
                if last - first >= _days(options.warmup_days)
                else None
            )
        elif last - row.fitted_ts >= _days(options.refit_days) and not ds.open_fraud_alarm(conn, me.id):
            work = _fit(conn, me, facts, first, last, now, options)
            counts["refitted"] += 1
        else:
            work = _update(conn, me, facts, row, item, now, options)
    try:
        with write_transaction(engine) as conn:
            report = _save(conn, item, row, work, first, last, now, options)
    except _Conflict:
        counts["conflicts"] += 1
        return
    if work is None:
        counts["warming"] += 1
        return
    counts["fitted" if work.fitted else "updated"] += 1
    counts["evidence"] += len(work.evidence)
    if report is not None:
        counts["opened"] += len(report.opened)
        counts["extended"] += len(report.extended)


@dataclass(frozen=True, slots=True)
class _Work:
    """The outcome of one station's detector run, to be saved."""

    state: StationDetectorState
    fitted: bool
    fitted_ts: int
    evidence: tuple[Evidence, ...]


def _days(days: float) -> int:
    return int(days * DAY)


def _series(
    conn: Connection,
    station: ds.StationFacts,
    start: int,
    end: int,
    registry: Mapping[int, Mapping[str, ds.ParameterFacts]],
    now: int,
) -> StationSeries | None:
    rows = station_values(conn, station.id, granularity="hour", start=start, end=end)
    if not rows:
        return None
    limits = station_limits(limit_rules(conn, station_id=station.id), station.id, end)
    return build_series(
        station, rows, start=start, end=end, registry=registry.get(station.id, {}), limits=limits
    )


def _fit(
    conn: Connection,
    me: ds.StationFacts,
    facts: Mapping[int, ds.StationFacts],
    first: int,
    last: int,
    now: int,
    options: LiveOptions,
) -> _Work | None:
    end = last - last % HOUR
    start = max(first - first % HOUR, end - options.lookback_days * DAY)
    candidates = neighbour_candidates(me, facts.values(), options.neighbour_candidates)
    registry = ds.parameter_facts(conn, [me.id, *(c.id for c in candidates)])
    network: dict[str, StationSeries] = {}
    for station in (me, *candidates):
        series = _series(conn, station, start, end, registry, now)
        if series is not None:
            network[station.mn] = series
    if me.mn not in network:
        return None
    state = StationDetectorState.fit(network, me.mn, lookback_days=options.lookback_days)
    return _Work(state, True, end, ())


def _update(
    conn: Connection,
    me: ds.StationFacts,
    facts: Mapping[int, ds.StationFacts],
    row: ds.DetectState,
    item: ds.Pending,
    now: int,
    options: LiveOptions,
) -> _Work:
    if row.state is None or row.fitted_ts is None:  # pragma: no cover - checked by the caller
        raise ValueError(f"station {me.id} has no fitted state")
    state = StationDetectorState.from_bytes(row.state)
    window_start = (row.last_ts or item.to_ts) - (options.lookback_days - 1) * DAY
    start = max(item.from_ts, row.fitted_ts, window_start)
    start -= start % HOUR
    end = item.to_ts
    by_mn = {f.mn: f for f in facts.values()}
    readers = [me, *(by_mn[mn] for mn in state.baseline.neighbour_ids if mn in by_mn)]
    registry = ds.parameter_facts(conn, [s.id for s in readers])
    parts = [
        p for s in readers if end > start and (p := _series(conn, s, start, end, registry, now)) is not None
    ]
    if not parts:
        return _Work(state, False, row.fitted_ts, ())
    update = state.update(parts)
    return _Work(state, False, row.fitted_ts, tuple(e for e in update.new if _raises(e, options)))


def _raises(e: Evidence, options: LiveOptions) -> bool:
    return e.kind == "fraud" or e.pattern not in options.qc_ignore


def _save(
    conn: Connection,
    item: ds.Pending,
    row: ds.DetectState | None,
    work: _Work | None,
    first: int | None,
    last: int,
    now: int,
    options: LiveOptions,
) -> RaiseReport | None:
    report = None
    if work is not None and work.evidence:
        report = raise_alarms_in(conn, work.evidence, now=now, policy=options.policy)
    neighbours: tuple[str, ...] = ()
    if work is None:
        phase, blob, fitted = "warming", None, None
        if row is not None and row.state is not None:
            phase, blob, fitted, neighbours = "live", row.state, row.fitted_ts, row.neighbours
    else:
        phase, blob, fitted = "live", work.state.to_bytes(), work.fitted_ts
        neighbours = work.state.baseline.neighbour_ids
    saved = ds.save_state(
        conn,
        item.station_id,
        expected_updates=None if row is None else row.updates,
        now=now,
        phase=phase,
        first_ts=first,
        last_ts=last,
        fitted_ts=fitted,
        neighbours=neighbours,
        state=blob,
    )
    if not saved:
        raise _Conflict(item.station_id)
    ds.done_pending(conn, item)
    return report


__all__ = [
    "DEFAULT_QC_IGNORE",
    "LiveOptions",
    "feed_station",
    "jobs",
    "run_detection",
    "run_intake",
    "take_in",
]
