"""A migrated database (SQLite and PostgreSQL, via the ``db_url`` fixture) for the store tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from envtrace.store import connect, migrate
from envtrace.store.ledger_log import forget_cache


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = connect(db_url)
    migrate.upgrade(eng)
    forget_cache()
    yield eng
    eng.dispose()
    forget_cache()
