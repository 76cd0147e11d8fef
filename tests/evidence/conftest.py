"""Databases for the evidence tests, built through the real ingest path (see ``builder``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .builder import (
    Built,
    build,
    cached,
    copy_sqlite,
    drop_pg_database,
    export_bundles,
    new_pg_database,
    sqlite_url,
)


@pytest.fixture(scope="session")
def built_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One SQLite database built by the gateway and the simulator, shared read-only."""
    return cached(tmp_path_factory.getbasetemp(), "sqlite", sqlite_url)


@pytest.fixture(scope="session")
def built_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The same on PostgreSQL (a database created for the session, dropped afterwards)."""
    url = new_pg_database()
    folder = tmp_path_factory.mktemp("evidence-pg")
    try:
        yield build(url, folder / "state", folder / "work")
    finally:
        drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def built(request: pytest.FixtureRequest) -> Built:
    """Each test using this runs on the SQLite and on the PostgreSQL database."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        return request.getfixturevalue("built_postgres")  # type: ignore[no-any-return]
    return request.getfixturevalue("built_sqlite")  # type: ignore[no-any-return]


@pytest.fixture
def sqlite_copy(built_sqlite: Built, tmp_path: Path) -> Built:
    """A private copy of the SQLite database and its state folder, to change at will."""
    return copy_sqlite(built_sqlite, tmp_path / "copy")


@pytest.fixture(scope="session")
def bundles(built_sqlite: Built) -> dict[str, dict[str, Any]]:
    """Evidence bundles exported from the SQLite database (plain, hourly, SM4, split, quarantined
    frames and an alarm event); every record is covered by a published checkpoint already."""
    return export_bundles(built_sqlite)
