"""Shared fixtures: the shared/ folder, real SQLite and real PostgreSQL databases.

PostgreSQL: `make test` exports ENVTRACE_TEST_DATABASE_URL (a running server on 127.0.0.1:5432 or a
throwaway cluster, see scripts/with-postgres). Each test that asks for one gets a fresh database on
that server, dropped afterwards. Without a reachable server the PostgreSQL tests fail with a message
saying how to provide one: they are never skipped silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(autouse=True, scope="session")
def _isolated_data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """State folders of PostgreSQL databases (keys, checkpoint files) go under XDG_DATA_HOME:
    keep the tests' ones out of the user's home, for this process and the servers it starts."""
    previous = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))
    yield
    if previous is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = previous


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The team's shared material (../shared beside the clone, as CI places it)."""
    if not (SHARED / "README.md").exists():
        pytest.fail(f"../shared is missing: expected the shared material at {SHARED}")
    return SHARED


def _pg_admin_url() -> str:
    return os.environ.get("ENVTRACE_TEST_DATABASE_URL", DEFAULT_PG)


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (URL in `postgresql://` form); dropped after the test."""
    import psycopg

    admin = _psycopg_url(_pg_admin_url())
    name = f"envtrace_t_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {admin} ({exc}). Run the tests with `make test`, which "
            "provides a server, or set ENVTRACE_TEST_DATABASE_URL."
        )
    base, _, _ = admin.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'envtrace.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    request.applymarker(pytest.mark.postgres)
    return str(request.getfixturevalue("pg_url"))
