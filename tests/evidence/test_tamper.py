"""At least a thousand random tamperings of databases built through the real ingest path, on SQLite
and PostgreSQL, each detected by ``envtrace verify`` (in process, inside a transaction that is
rolled back; a sample also through the real command line on a tampered copy).

Every kind of change an operator with write access could make is drawn: values, flags, times and
stations of readings; fields and bytes of raw frames; quarantine records; leaves, nodes and the
head; deletions, insertions, swaps; the tail truncated and the tree rebuilt; a record rewritten or
removed and the whole tree recomputed (a fork, seen only by the published checkpoints); the
checkpoint file removed, rolled back, forged or spoiled; checkpoint rows; station enrolments and
approvals; sealed alarm events.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from envtrace.evidence import verify_database
from envtrace.store import connect
from envtrace.store.ledger_log import forget_cache

from .builder import Built
from .tampering import TAMPERS, Applied, Scene

SQLITE_ROUNDS = 12
POSTGRES_ROUNDS = 10
KINDS = sorted(TAMPERS)


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[str, Engine]]:
    made: dict[str, Engine] = {}
    yield made
    for engine in made.values():
        engine.dispose()
    forget_cache()


def _tamper_and_verify(built: Built, engines: dict[str, Engine], kind: str, seed: int, scratch: Path) -> None:
    engine = engines.get(built.url)
    if engine is None:
        engine = engines[built.url] = connect(built.url)
    rng = random.Random(f"{kind}/{seed}")
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            applied: Applied = TAMPERS[kind](Scene(conn, rng, built, scratch))
            report = verify_database(conn, built.context(**applied.context))
        finally:
            trans.rollback()
    forget_cache()
    assert not report.ok, f"{kind}: {applied.what} was not detected:\n" + "\n".join(report.lines())
    assert applied.expect & set(report.counts), (
        f"{kind}: {applied.what}: expected one of {sorted(applied.expect)}, got {dict(report.counts)}"
    )


def test_the_built_databases_verify_clean(built: Built) -> None:
    from envtrace.evidence import verify_url

    report = verify_url(built.url, built.context())
    assert report.ok, report.lines()
    assert not report.findings, report.lines()  # no warning, no note either
    assert report.checked["frames"] > 100
    assert report.checked["readings"] > 1000
    assert report.checked["checkpoints"] >= 2
    assert report.checked["records"] >= 1


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(SQLITE_ROUNDS))
@pytest.mark.parametrize("kind", KINDS)
def test_tampering_sqlite_is_detected(
    built_sqlite: Built, engines: dict[str, Engine], kind: str, seed: int, tmp_path: Path
) -> None:
    _tamper_and_verify(built_sqlite, engines, kind, seed, tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("seed", range(100, 100 + POSTGRES_ROUNDS))
@pytest.mark.parametrize("kind", KINDS)
def test_tampering_postgres_is_detected(
    built_postgres: Built, engines: dict[str, Engine], kind: str, seed: int, tmp_path: Path
) -> None:
    _tamper_and_verify(built_postgres, engines, kind, seed, tmp_path)


def test_at_least_a_thousand_tamperings_are_drawn() -> None:
    assert len(KINDS) * (SQLITE_ROUNDS + POSTGRES_ROUNDS) >= 1000


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envtrace", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("sql", "expect"),
    [
        (  # what the acceptance contract does
            "UPDATE reading SET value = value * 0.5 + 1 WHERE rowid = "
            "(SELECT rowid FROM reading WHERE value IS NOT NULL LIMIT 1 OFFSET 3)",
            "reading-value",
        ),
        ("DELETE FROM reading WHERE rowid = (SELECT max(rowid) FROM reading)", "reading-missing"),
        (
            "UPDATE raw_frame SET raw = CAST(replace(CAST(raw AS TEXT), 'Rtd=', 'Rtd=9') AS BLOB) "
            "WHERE id = (SELECT min(id) FROM raw_frame WHERE status = 'accepted' AND cn = '2011')",
            "frame-bytes",
        ),
        ("DELETE FROM ledger_leaf WHERE idx = 7", "leaf-missing"),
        ("UPDATE ledger_node SET hash = zeroblob(32) WHERE level = 2 AND idx = 3", "node-mismatch"),
        ("DELETE FROM ledger_checkpoint WHERE id = 1", "checkpoint-unrecorded"),
    ],
)
def test_the_command_line_exits_1_on_a_tampered_copy(sqlite_copy: Built, sql: str, expect: str) -> None:
    before = _cli("verify", "--db", sqlite_copy.url, "--state-dir", str(sqlite_copy.state_dir))
    assert before.returncode == 0, before.stdout + before.stderr
    path = sqlite_copy.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute(sql)
    after = _cli("verify", "--db", sqlite_copy.url, "--state-dir", str(sqlite_copy.state_dir))
    assert after.returncode == 1, after.stdout + after.stderr
    assert expect in after.stdout
    assert after.stdout.strip().splitlines()[-1].startswith("verify FAILED")


@pytest.mark.postgres
def test_the_command_line_on_postgres(built_postgres: Built) -> None:
    """The real command on PostgreSQL: 0, then 1 while a reading is edited (restored afterwards)."""
    from sqlalchemy import text

    state = str(built_postgres.state_dir)
    assert _cli("verify", "--db", built_postgres.url, "--state-dir", state).returncode == 0
    engine = connect(built_postgres.url)
    key = "station_id = :s AND granularity = :g AND parameter = :p AND data_ts = :t"
    try:
        with engine.begin() as conn:
            row = conn.execute(
                text(
                    "SELECT station_id, granularity, parameter, data_ts, value FROM reading "
                    "WHERE value > 0 LIMIT 1"
                )
            ).one()
            where = {"s": row[0], "g": row[1], "p": row[2], "t": row[3]}
            conn.execute(text(f"UPDATE reading SET value = :v WHERE {key}"), {**where, "v": row[4] * 2})
        after = _cli("verify", "--db", built_postgres.url, "--state-dir", state)
        assert after.returncode == 1, after.stdout + after.stderr
        assert f"{row[2]} {row[1]}" in after.stdout
        assert "reading-value" in after.stdout
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE reading SET value = :v WHERE {key}"), {**where, "v": row[4]})
        engine.dispose()
    assert _cli("verify", "--db", built_postgres.url, "--state-dir", state).returncode == 0
