"""Connecting to the database: SQLite (embedded default) or PostgreSQL (production).

SQLite runs in WAL mode with ``synchronous=FULL`` by default, so a committed transaction survives a
crash of the process and of the machine; writers queue on ``busy_timeout`` instead of failing. Each
connection keeps a page cache of ``SQLITE_CACHE_KIB`` (the indexes of the hot tables stay in memory)
and its temporary structures in memory. PostgreSQL URLs are given in the usual ``postgresql://``
form and driven by psycopg 3.

``bulk_insert`` is the hot paths' way to insert many rows (through ``driver_execute``: the DB-API
cursor, errors translated as SQLAlchemy would). SQLite: prepared multi-row ``INSERT ...
VALUES (...), (...), ...`` statements of ``SQLITE_ROWS_PER_INSERT`` rows run by ``executemany`` (a
statement's set-up, such as the list of a ``CHECK (x IN (...))`` constraint, is paid per
statement, not per row). PostgreSQL: **one** statement for the whole set, ``INSERT ... SELECT * FROM
unnest(%s::type[], ...)`` with the arrays sent in psycopg's binary format: one round trip
whatever the number of rows.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from envtrace.store.errors import UnsupportedDatabase

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 32_768  # per connection; pages are allocated as they are used
SQLITE_ROWS_PER_INSERT = 128
# host parameters one SQLite statement may hold (SQLITE_MAX_VARIABLE_NUMBER: 32766 since 3.32)
SQLITE_MAX_PARAMS = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


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
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.execute("PRAGMA temp_store=MEMORY")
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


def param_marks(conn: Connection, count: int) -> str:
    """``?, ?, ...`` (sqlite3) or ``%s, %s, ...`` (psycopg): placeholders for driver-level SQL."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    return ", ".join([mark] * count)


def executemany(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run one parameterised statement for many rows through the DB-API cursor (``executemany``).

    ``sql`` is driver-level SQL (placeholders from ``param_marks``); the hot paths of the store use
    this (or ``bulk_insert``) instead of Core constructs, which cost microseconds a row to compile.
    """
    if rows:
        conn.exec_driver_sql(sql, rows)


_LENGTH = re.compile(r"\(\d+\)")
_BULK_SQL: dict[tuple[str, str, tuple[str, ...], str, int], str] = {}


def bulk_insert_sql(
    conn: Connection, table: Table, columns: Sequence[str], suffix: str = "", *, rows: int = 1
) -> str:
    """The driver-level statement ``bulk_insert`` runs (cached per dialect, table, columns and, on
    SQLite, the number of rows in its VALUES list)."""
    dialect = conn.dialect
    key = (dialect.name, table.name, tuple(columns), suffix, rows)
    sql = _BULK_SQL.get(key)
    if sql is None:
        names = ", ".join(columns)
        if dialect.name == "postgresql":
            # the element types without their length: a cast to varchar(n) would cut a longer value
            # silently, where the insert into the varchar(n) column refuses it, as it must
            casts = ", ".join(
                f"%s::{_LENGTH.sub('', table.c[name].type.compile(dialect=dialect)).lower()}[]"
                for name in columns
            )
            sql = f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({casts})"
        else:
            values = ", ".join([f"({param_marks(conn, len(columns))})"] * rows)
            sql = f"INSERT INTO {table.name} ({names}) VALUES {values}"
        if suffix:
            sql = f"{sql} {suffix}"
        _BULK_SQL[key] = sql
    return sql


def driver_execute(
    conn: Connection, sql: str, params: Any = (), *, many: bool = False
) -> list[tuple[Any, ...]]:
    """Run driver-level ``sql`` on the DB-API cursor of ``conn`` (in its transaction) and return the
    rows it selects, without SQLAlchemy's per-statement machinery (tens of µs a statement, which
    counts when a batch is a few frames). PostgreSQL parameters go in psycopg's binary format (an
    array of thousands of values is not turned into text for the server to parse). Driver errors
    become SQLAlchemy's, as ``exec_driver_sql`` would raise them; a connection the error broke is
    invalidated."""
    driver = conn.connection.driver_connection
    if driver is None:  # pragma: no cover - an invalidated connection
        raise exc.InvalidRequestError("the connection is closed")
    error_base: type[Exception] = conn.dialect.loaded_dbapi.Error
    postgres = conn.dialect.name == "postgresql"
    cursor = driver.cursor()
    try:
        if many:
            cursor.executemany(sql, params)
        elif postgres:
            cursor.execute(sql, params, binary=True)
        else:
            cursor.execute(sql, params)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []
    except error_base as error:
        if postgres and (driver.closed or getattr(driver, "broken", False)):  # the server went away
            conn.invalidate(error)
        raise exc.DBAPIError.instance(sql, params, error, error_base) from error
    finally:
        cursor.close()


def bulk_insert(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    suffix: str = "",
) -> None:
    """Insert ``rows`` (values in ``columns`` order) into ``table`` in the caller's transaction.

    SQLite: ``executemany`` of a prepared multi-row ``INSERT`` (the rest of the rows through the
    one-row statement). PostgreSQL: a single ``INSERT ... SELECT * FROM unnest(...)`` taking one
    array per column (one round trip). ``suffix`` is appended to the statement (``ON CONFLICT ...
    DO NOTHING``); it must hold no placeholders. Rows are inserted in the order given.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        driver_execute(
            conn,
            bulk_insert_sql(conn, table, columns, suffix),
            tuple(list(column) for column in zip(*rows, strict=True)),
        )
        return
    width = len(columns)
    per = max(1, min(SQLITE_ROWS_PER_INSERT, SQLITE_MAX_PARAMS // width))
    cut = len(rows) - len(rows) % per if per > 1 else 0
    if cut:
        flat = chain.from_iterable
        driver_execute(
            conn,
            bulk_insert_sql(conn, table, columns, suffix, rows=per),
            [tuple(flat(rows[k : k + per])) for k in range(0, cut, per)],
            many=True,
        )
    if cut < len(rows):
        driver_execute(conn, bulk_insert_sql(conn, table, columns, suffix), rows[cut:], many=True)
