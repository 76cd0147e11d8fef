"""Periodic background jobs of the platform, run by ``envtrace worker`` (spawned by ``serve``).

A job is a plain function ``run(engine, now_ts) -> Mapping[str, int]`` owned by the service package
that knows the work (rollups, alarm escalation, live detection, checkpoint signing); this package
only schedules them. Each job is idempotent and incremental: it keeps its own cursor in the store,
so running it twice, or after a crash, neither skips nor repeats work.
"""

from envtrace.jobs.schedule import Job, JobResult, run_forever, run_once

__all__ = ["Job", "JobResult", "run_forever", "run_once"]
