"""Every package table loads, cites a source, and the public surface is declared."""

from __future__ import annotations

from importlib.resources import files

import pytest

import envtrace.standards as standards
from envtrace.standards import tables

NAMES = sorted(
    p.name[:-4] for p in files("envtrace.standards").joinpath("tables").iterdir() if p.name.endswith(".csv")
)


@pytest.mark.parametrize("name", NAMES)
def test_table_loads_with_sources(name: str) -> None:
    rows = tables.load(name)
    assert rows, name
    assert all(r["source"].strip() for r in rows)


def test_unverified_is_marked() -> None:
    for name in ("hj75_substitution", "hj75_drift_limits"):
        assert all("UNVERIFIED" in r["status"] for r in tables.load(name))


def test_exports_are_sorted_and_importable() -> None:
    names = standards.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(standards, name), name
