"""Connecting to the database: SQLite (embedded default) or PostgreSQL (production).

SQLite runs in WAL mode with ``synchronous=FULL`` by default, so a committed transaction survives a
crash of the process and of the machine; writers queue on ``busy_timeout`` instead of failing.
PostgreSQL URLs are given in the usual ``postgresql://`` form and driven by psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from envtrace.store.errors import UnsupportedDatabase

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> URL:
    """``postgresql://`` -> ``postgresql+psycopg://``; SQLite and psycopg URLs unchanged."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    raise UnsupportedDatabase(url)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def connect(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 5) -> Engine:
    """An engine for ``url`` with the pragmas and pool settings envtrace relies on."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        sync = sqlite_synchronous.upper()
        if sync not in ("FULL", "NORMAL", "EXTRA", "OFF"):
            raise ValueError(
                f"sqlite_synchronous must be FULL, NORMAL, EXTRA or OFF, not {sqlite_synchronous!r}"
            )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()
            # Transactions are begun by the "begin" hook below, so that writers can take the write
            # lock up front (BEGIN IMMEDIATE) instead of failing to upgrade a read lock later.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size * 2)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that intends to write: on SQLite it takes the write lock at BEGIN (IMMEDIATE),
    so concurrent writers queue on the busy timeout rather than deadlock on a lock upgrade."""
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn
