"""`envtrace worker`: the platform's periodic background jobs (spawned by `envtrace serve`)."""

from __future__ import annotations

import importlib
import signal
import threading
from typing import Annotated, Any

import typer

# (module, attribute) of each job factory ``jobs(settings) -> list[Job]``; each service package that
# has periodic work adds one line here.
JOB_FACTORIES: tuple[tuple[str, str], ...] = (
    ("envtrace.rollup.jobs", "jobs"),
    ("envtrace.evidence.jobs", "jobs"),
    ("envtrace.alarms.live", "jobs"),  # live detection, alarm intake, escalation, notifications
)


def collect_jobs(settings: Any) -> list[Any]:
    jobs: list[Any] = []
    for module_name, attr in JOB_FACTORIES:
        factory = getattr(importlib.import_module(module_name), attr)
        jobs.extend(factory(settings))
    return jobs


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        db: Annotated[str, typer.Option("--db", help="Database URL.", envvar="ENVTRACE_DB_URL")],
        once: Annotated[bool, typer.Option("--once", help="Run every job once and exit.")] = False,
    ) -> None:
        """Run the platform's background jobs (roll-ups, live detection, escalation, checkpoints)."""
        from envtrace.config import Settings
        from envtrace.jobs import run_forever, run_once
        from envtrace.store.engine import connect

        settings = Settings(db_url=db)
        engine = connect(settings.db_url, sqlite_synchronous=settings.sqlite_synchronous)
        jobs = collect_jobs(settings)
        if once:
            for result in run_once(engine, jobs):
                status = "ok" if result.ok else f"FAILED {result.error}"
                counts = " ".join(f"{k}={v}" for k, v in result.counts.items())
                typer.echo(f"{result.name}: {status} {result.duration_s:.2f}s {counts}".rstrip())
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        run_forever(engine, jobs, stop)
