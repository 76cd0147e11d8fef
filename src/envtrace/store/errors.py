"""Errors of ``envtrace.store``.

::

    StoreError
    ├── UnsupportedDatabase      the URL names a database other than SQLite or PostgreSQL
    └── SchemaOutOfDate          the database is behind the code's migrations
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store error."""


class UnsupportedDatabase(StoreError):
    def __init__(self, url: str) -> None:
        super().__init__(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")
        self.url = url


class SchemaOutOfDate(StoreError):
    def __init__(self, current: set[str], heads: set[str]) -> None:
        super().__init__(
            f"database schema at {sorted(current)} but the code expects {sorted(heads)}: "
            "run `envtrace db upgrade`"
        )
        self.current = current
        self.heads = heads
