"""``envtrace rollup`` and the worker's job factory."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from envtrace.cli.main import app
from envtrace.cli.rollup import parse_instant
from envtrace.cli.worker import JOB_FACTORIES
from envtrace.jobs import run_once
from envtrace.rollup.jobs import jobs as rollup_jobs
from envtrace.store import connect, hourly, migrate

from .feeding import Feed, cst

H = cst(2026, 10, 1, 8)


def test_parse_instant() -> None:
    assert parse_instant("2026-10-01T08:00:00") == H  # no offset: China Standard Time
    assert parse_instant("2026-10-01T00:00:00+00:00") == H
    assert parse_instant(str(H)) == H


def test_command_runs_and_recomputes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    engine = connect(url)
    migrate.upgrade(engine)
    feed = Feed(engine)
    sid = feed.station("CLI-A", "flue_gas")
    feed.minutes(sid, "a21026", H, [12.0] * 60, ["N"] * 60)
    runner = CliRunner()
    once = runner.invoke(app, ["rollup", "--db", url, "--once"])
    assert once.exit_code == 0, once.output
    assert "hour_versions=1" in once.output
    again = runner.invoke(app, ["rollup", "--db", url, "--recompute", "2026-10-01T08:00", "2026-10-01T09:00"])
    assert again.exit_code == 0, again.output
    assert "recompute" in again.output
    assert "hour_versions=0" in again.output
    bad = runner.invoke(app, ["rollup", "--db", url, "--recompute", "2026-10-01T09:00", "2026-10-01T08:00"])
    assert bad.exit_code != 0
    with engine.connect() as conn:
        assert [v.version for v in hourly.value_versions(conn, sid, "a21026", H)] == [1]
    engine.dispose()


def test_worker_collects_the_rollup_job(tmp_path: Path) -> None:
    assert ("envtrace.rollup.jobs", "jobs") in JOB_FACTORIES
    jobs = rollup_jobs(object())  # settings without rollup fields: the defaults
    assert [(j.name, j.interval_s) for j in jobs] == [("rollup", 30.0)]
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    migrate.upgrade(engine)
    (result,) = [r for r in run_once(engine, jobs, now_ts=H) if r.name == "rollup"]
    assert result.ok, result.error
    engine.dispose()


def test_the_command_and_the_job_judge_with_the_same_settings() -> None:
    from envtrace.config import Settings
    from envtrace.rollup.jobs import options_from_settings

    settings = Settings(rollup_standard_check_basis="platform", rollup_standard_check_scope="hour")
    options = options_from_settings(settings)
    assert (options.standard_check_basis, options.standard_check_scope) == ("platform", "hour")
    (job,) = rollup_jobs(settings)
    assert job.name == "rollup"
    # the command reads the same settings from the environment: a value outside the choices stops it
    bad = CliRunner().invoke(
        app,
        ["rollup", "--db", "sqlite:///unused.db", "--once"],
        env={"ENVTRACE_ROLLUP_STANDARD_CHECK_BASIS": "nobody"},
    )
    assert bad.exit_code != 0
    assert "rollup_standard_check_basis" in str(bad.exception) + bad.output
