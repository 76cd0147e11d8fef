"""Databases for the roll-up tests, on SQLite and PostgreSQL.

``engine`` is one migrated database per backend for the whole suite (creating and dropping a PostgreSQL
database costs seconds); tests using it give their stations MNs of their own and assert on those
stations only. ``fresh_engine`` is a new database for each test (``db_url``), for tests that count
what a run did (idempotence, incrementality).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from envtrace.store import connect, migrate
from envtrace.store.ledger_log import forget_cache

from .feeding import Feed

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("rollup") / "envtrace.db"
        eng = connect(f"sqlite:///{path}")
        migrate.upgrade(eng)
        forget_cache()
        yield eng
        eng.dispose()
        return
    import psycopg

    admin = os.environ.get("ENVTRACE_TEST_DATABASE_URL", DEFAULT_PG).replace(
        "postgresql+psycopg://", "postgresql://"
    )
    name = f"envtrace_t_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        hint = "run `make test` or set ENVTRACE_TEST_DATABASE_URL"
        pytest.fail(f"PostgreSQL is not reachable at {admin} ({exc}): {hint}")
    eng = connect(f"{admin.rpartition('/')[0]}/{name}")
    migrate.upgrade(eng)
    forget_cache()
    yield eng
    eng.dispose()
    forget_cache()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def feed(engine: Engine) -> Feed:
    return Feed(engine)


@pytest.fixture
def fresh_engine(db_url: str) -> Iterator[Engine]:
    eng = connect(db_url)
    migrate.upgrade(eng)
    forget_cache()
    yield eng
    eng.dispose()
    forget_cache()


@pytest.fixture
def fresh_feed(fresh_engine: Engine) -> Feed:
    return Feed(fresh_engine)
