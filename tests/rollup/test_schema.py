"""The rollup migration creates exactly the tables ``envtrace.store.hourly`` declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from envtrace.store.hourly import APPEND_ONLY
from envtrace.store.schema import metadata

MINE = ("rollup_", "limit_rule")


def test_migration_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert [d for d in diffs if any(m in repr(d) for m in MINE)] == []


def test_append_only_tables_are_declared() -> None:
    assert set(APPEND_ONLY) <= set(metadata.tables)
