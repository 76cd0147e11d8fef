"""Databases built through the real ingest path, for the evidence and tools tests.

``build`` runs the platform as an operator would: the simulator writes a registry (HJ 212-2017 and
SM4-encrypted HJ 212-2025 stations), ``envtrace stations import`` registers it, ``envtrace serve``
(with its start-up check) receives ``envtrace simulate`` traffic with protocol faults (quarantine,
split packets, resends), a checkpoint is signed mid-way, unregistered stations are enrolled on first
use, then one is approved, an alarm is raised, a correction is sealed and a last checkpoint signed.
Nothing is written by hand. Each backend's database is built once per test session and reused
(tests that change it work on a copy, or inside a transaction they roll back).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, text

from envtrace.alarms import Exceedance, raise_alarms
from envtrace.evidence import EvidenceOptions, VerifyContext, sign_now
from envtrace.evidence.corrections import append_correction
from envtrace.store import approve_station, connect, list_stations, write_transaction
from envtrace.store.ledger_log import forget_cache

SEED = 11
PG_ADMIN = os.environ.get("ENVTRACE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Built:
    """A database built by ``build`` and its state folder (keys, checkpoint file)."""

    url: str
    state_dir: Path

    @property
    def options(self) -> EvidenceOptions:
        return EvidenceOptions.for_database(self.url, self.state_dir)

    @property
    def checkpoint_file(self) -> Path:
        return self.state_dir / "checkpoints.txt"

    def context(self, **changes: object) -> VerifyContext:
        base = VerifyContext.for_database(self.url, state_dir=self.state_dir)
        return replace(base, **changes) if changes else base  # type: ignore[arg-type]


def envtrace(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envtrace", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"envtrace serve exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("envtrace serve did not open its port")


@contextmanager
def serving(url: str, state_dir: Path, log: Path) -> Iterator[int]:
    """``envtrace serve`` on a free port, stopped with SIGTERM afterwards."""
    port = free_port()
    env = {**os.environ, "ENVTRACE_STATE_DIR": str(state_dir)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "envtrace", "serve", "--db", url, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            _wait_port(port, proc)
            yield port
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _simulate(*args: str) -> None:
    done = envtrace("simulate", "--drain", "1", *args, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"envtrace simulate failed: {done.stdout[-500:]} {done.stderr[-500:]}")


def build(url: str, state_dir: Path, work: Path) -> Built:
    """Build a database at ``url`` (empty) through the real ingest path; see the module docstring."""
    forget_cache()
    work.mkdir(parents=True, exist_ok=True)
    registry = work / "registry.csv"
    _simulate(
        "--stations",
        "4",
        "--edition",
        "mixed",
        "--encrypt",
        "--duration",
        "0",
        "--seed",
        str(SEED),
        "--registry-out",
        str(registry),
    )
    # SM4 keys are sealed under the state folder's master key: import with the folder serve uses
    done = envtrace("stations", "import", url, str(registry), env={"ENVTRACE_STATE_DIR": str(state_dir)})
    if done.returncode != 0:
        raise RuntimeError(f"stations import failed: {done.stdout} {done.stderr}")
    options = EvidenceOptions.for_database(url, state_dir)
    engine = connect(url)
    try:
        with serving(url, state_dir, work / "serve.log") as port:
            to = f"127.0.0.1:{port}"
            _simulate(
                "--to",
                to,
                "--registry",
                str(registry),
                "--duration",
                "2",
                "--speed",
                "900",
                "--faults",
                "0.12",
                "--seed",
                str(SEED),
            )
            sign_now(engine, options)
            _simulate(
                "--to", to, "--stations", "2", "--duration", "1", "--speed", "600", "--seed", str(SEED + 1)
            )
        _after_ingest(engine, options)
    finally:
        engine.dispose()
    forget_cache()
    return Built(url, state_dir)


def _after_ingest(engine: Engine, options: EvidenceOptions) -> None:
    now = int(time.time())
    with write_transaction(engine) as conn:
        pending = list_stations(conn, pending=True)
        if not pending:
            raise RuntimeError("no station was enrolled on first use")
        approve_station(conn, pending[0].mn, by="staff")
        registered = next(s for s in list_stations(conn) if s.enrolled_us is None)
        frame_leaf = conn.execute(
            text("SELECT min(leaf_index) FROM raw_frame WHERE status = 'accepted' AND station_id = :s"),
            {"s": registered.id},
        ).scalar()
        append_correction(
            conn,
            leaf_index=int(frame_leaf),
            reason="analyser under calibration from 08:00 (maintenance log 2026-07)",
            actor="staff",
            ref={"parameter": "a21026"},
            replacement={"flag": "C"},
        )
    raise_alarms(
        engine,
        [
            Exceedance(
                station=registered.mn,
                parameter="a21026",
                start=now - 7200,
                end=now - 3600,
                value=120.0,
                limit=100.0,
                unit="mg/m3",
                standard="GB 13223-2011 Table 1",
            )
        ],
        now=now,
    )
    sign_now(engine, options)


# ------------------------------------------------------------------------------- session caches


def cached(base: Path, name: str, make_url: object) -> Built:
    """The database ``name`` built once under the session's ``base`` folder."""
    folder = base / f"evidence-{name}"
    marker = folder / "built.txt"
    if marker.exists():
        url, state = marker.read_text().split("\n", 1)
        return Built(url, Path(state))
    url = make_url(folder) if callable(make_url) else str(make_url)
    built = build(url, folder / "state", folder / "work")
    marker.write_text(f"{built.url}\n{built.state_dir}")
    return built


def sqlite_url(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'evidence.db'}"


def new_pg_database() -> str:
    admin = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"envtrace_ev_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin.rpartition('/')[0]}/{name}"


def drop_pg_database(url: str) -> None:
    admin = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://", 1)
    name = url.rpartition("/")[2]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_sqlite(built: Built, folder: Path) -> Built:
    """A copy of a built SQLite database and its state folder, to change at will."""
    source = Path(built.url.removeprefix("sqlite:///"))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "copy.db"
    engine = connect(built.url)
    with engine.connect() as conn:  # checkpoint the WAL into the main file first
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    shutil.copy2(source, target)
    shutil.copytree(built.state_dir, folder / "state")
    return Built(f"sqlite:///{target}", folder / "state")


# ------------------------------------------------------------------------------- bundles

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_evidence.py"


def standalone() -> Any:
    """The outsiders' script ``tools/verify_evidence.py``, loaded as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("verify_evidence", TOOL)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {TOOL}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def frame_of(built: Built, where: str) -> int:
    """The id of one raw frame of the built database matching an SQL condition."""
    engine = connect(built.url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text(f"SELECT min(id) FROM raw_frame WHERE {where}")).scalar()
    finally:
        engine.dispose()
    if found is None:
        raise LookupError(f"no raw frame where {where}")
    return int(found)


BUNDLE_FRAMES = {
    "plain": "status = 'accepted' AND wire = 'plain' AND pnum IS NULL AND cn = '2011'",
    "hour": "status = 'accepted' AND wire = 'plain' AND cn IN ('2061', '2051')",
    "sm4": "status = 'accepted' AND wire <> 'plain'",
    "split": "status = 'accepted' AND wire = 'plain' AND pnum > 1",
    "quarantined": "status = 'quarantined'",
}


def export_bundles(built: Built) -> dict[str, dict[str, Any]]:
    """One bundle per kind of frame in ``BUNDLE_FRAMES``, plus the sealed alarm event's leaf."""
    from envtrace.evidence import export_bundle

    engine = connect(built.url)
    try:
        out = {
            name: export_bundle(engine, built.options, frame_id=frame_of(built, where))
            for name, where in BUNDLE_FRAMES.items()
        }
        with engine.connect() as conn:
            alarm_leaf = int(conn.execute(text("SELECT min(leaf_index) FROM alarm_event")).scalar())
        out["alarm_event"] = export_bundle(engine, built.options, leaf_index=alarm_leaf)
    finally:
        engine.dispose()
    return out
