"""A small scheduler for the platform's periodic jobs.

Jobs run one after another in one thread (they share one database writer on SQLite); a job that
raises is logged with its traceback and retried at its next interval, and never stops the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

log = logging.getLogger("envtrace.jobs")

JobFunction = Callable[[Engine, int], Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class Job:
    """A named function and how often to run it."""

    name: str
    interval_s: float
    run: JobFunction


@dataclass(slots=True)
class JobResult:
    name: str
    ok: bool
    duration_s: float
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


def run_once(engine: Engine, jobs: Sequence[Job], now_ts: int | None = None) -> list[JobResult]:
    """Run every job once, in order; failures are reported, not raised."""
    results = []
    for job in jobs:
        started = time.monotonic()
        now = int(time.time()) if now_ts is None else now_ts
        try:
            counts = dict(job.run(engine, now))
        except Exception as exc:
            log.exception("job %s failed", job.name)
            results.append(JobResult(job.name, False, time.monotonic() - started, error=repr(exc)))
            continue
        results.append(JobResult(job.name, True, time.monotonic() - started, counts))
    return results


def run_forever(engine: Engine, jobs: Sequence[Job], stop: threading.Event) -> None:
    """Run each job at its interval until ``stop`` is set."""
    due = {job.name: 0.0 for job in jobs}
    while not stop.is_set():
        now = time.monotonic()
        for job in jobs:
            if now >= due[job.name] and not stop.is_set():
                run_once(engine, [job])
                due[job.name] = time.monotonic() + job.interval_s
        next_due = min(due.values()) - time.monotonic()
        stop.wait(max(0.05, min(next_due, 1.0)))
