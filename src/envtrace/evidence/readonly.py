"""Opening a database for verification without the power to change it.

SQLite is opened through a ``file:...?mode=ro`` URI (the driver refuses every write) inside one
deferred transaction, which in WAL mode reads one snapshot throughout. PostgreSQL runs the whole
verification in one ``REPEATABLE READ, READ ONLY`` transaction: a consistent snapshot, and any
write attempt fails.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from envtrace.evidence.errors import RecordNotFound
from envtrace.store import connect

Row = Mapping[Any, Any]
"""A database row by column name (SQLAlchemy's ``RowMapping``)."""


MMAP_BYTES = 256 << 20
CACHE_KIB = 64 * 1024


def driver_rows(conn: Connection, sql: str, params: Sequence[object]) -> Iterator[tuple[Any, ...]]:
    """The rows of a query as the driver gives them (plain tuples, no per-row wrapping), in the
    connection's transaction; ``sql`` uses ``?`` placeholders (rewritten to ``%s`` for psycopg)."""
    if conn.dialect.name != "sqlite":
        sql = sql.replace("?", "%s")
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        while batch := cursor.fetchmany(5000):
            yield from batch
    finally:
        cursor.close()


def readonly_engine(db_url: str) -> Engine:
    """An engine that can only read ``db_url``."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite":
        return connect(db_url, pool_size=1)
    path = Path(url.database or "")
    if not url.database or url.database == ":memory:" or not path.exists():
        raise RecordNotFound(f"SQLite database {db_url}")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"

    def creator() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)

    engine = create_engine("sqlite+pysqlite://", creator=creator, poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")  # one pass over a large file: map it
        dbapi_conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction over the whole database, rolled back at the end."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        trans = conn.begin()
        try:
            yield conn
        finally:
            trans.rollback()


def blob(value: object) -> bytes:
    """A binary column's value as bytes, whatever a hand edit left there (SQLite stores TEXT in a
    BLOB column when told to: its UTF-8 bytes are what is compared, so the edit shows)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return repr(value).encode()
