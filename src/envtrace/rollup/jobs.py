"""The periodic job of this package for ``envtrace worker``: ``jobs(settings) -> list[Job]``."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine

from envtrace.jobs import Job
from envtrace.rollup.options import RollupOptions
from envtrace.rollup.run import run

INTERVAL_S = 30.0


def jobs(settings: object) -> list[Job]:
    """The roll-up job, every ``rollup_interval_s`` seconds of the settings (30 s when unset).

    Reads ``rollup_interval_s``, ``rollup_hour_grace_s``, ``rollup_aqi_report``,
    ``rollup_standard_check_basis`` and ``rollup_standard_check_scope`` from the settings when they
    exist, so the platform's settings can grow them without this package importing them.
    """
    interval = float(getattr(settings, "rollup_interval_s", INTERVAL_S) or INTERVAL_S)
    options = options_from_settings(settings, time_budget_s=interval * 0.8)

    def rollup(engine: Engine, now_ts: int) -> Mapping[str, int]:
        return run(engine, now_ts, options)

    return [Job("rollup", interval, rollup)]


def options_from_settings(settings: object, *, time_budget_s: float | None = None) -> RollupOptions:
    """The roll-up options the platform's settings ask for (``rollup_hour_grace_s``,
    ``rollup_aqi_report``, ``rollup_standard_check_basis``, ``rollup_standard_check_scope``), the
    defaults for those it does not have; the job and ``envtrace rollup`` judge alike."""
    defaults = RollupOptions()
    return RollupOptions(
        hour_grace_s=int(getattr(settings, "rollup_hour_grace_s", defaults.hour_grace_s)),
        aqi_report=str(getattr(settings, "rollup_aqi_report", defaults.aqi_report)),
        standard_check_basis=str(
            getattr(settings, "rollup_standard_check_basis", defaults.standard_check_basis)
        ),
        standard_check_scope=str(
            getattr(settings, "rollup_standard_check_scope", defaults.standard_check_scope)
        ),
        time_budget_s=(
            defaults.time_budget_s
            if time_budget_s is None
            else max(1.0, min(defaults.time_budget_s, time_budget_s))
        ),
    )
