"""A database built through the real ingest path and bundles exported from it (shared with
``tests/evidence``: built once per session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evidence.builder import Built, cached, export_bundles, sqlite_url


@pytest.fixture(scope="session")
def built_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return cached(tmp_path_factory.getbasetemp(), "sqlite", sqlite_url)


@pytest.fixture(scope="session")
def bundle_files(built_sqlite: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each exported bundle written to a file, as an outsider receives it."""
    import json

    folder = tmp_path_factory.mktemp("bundles")
    out = {}
    bundles: dict[str, dict[str, Any]] = export_bundles(built_sqlite)
    for name, bundle in bundles.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(bundle, indent=1), encoding="utf-8")
        out[name] = path
    return out
