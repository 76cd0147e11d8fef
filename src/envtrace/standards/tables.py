"""The package's data tables: every number a rule uses lives in ``tables/*.csv`` with a ``source`` column.

``load(name)`` reads ``tables/<name>.csv`` through importlib.resources (the only I/O the package does),
checks that it has a ``source`` column with no empty cell, and returns the rows as read-only dicts.
Tables are cached: they are package data and never change while the process runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from envtrace.standards.errors import TableError

Row = Mapping[str, str]


@cache
def load(name: str) -> tuple[Row, ...]:
    """Rows of ``tables/<name>.csv`` (header line first, UTF-8)."""
    try:
        text = files("envtrace.standards").joinpath("tables", f"{name}.csv").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TableError(name, "missing from the package") from exc
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    if "source" not in fields:
        raise TableError(name, f"has no 'source' column (columns: {', '.join(fields)})")
    rows: list[Row] = []
    for line, raw in enumerate(reader, start=2):
        if None in raw or any(v is None for v in raw.values()):
            raise TableError(name, f"line {line} has the wrong number of fields")
        if not raw["source"].strip():
            raise TableError(name, f"line {line} has an empty source")
        rows.append(MappingProxyType(dict(raw)))
    return tuple(rows)


def number(name: str, row: Row, column: str) -> float:
    """``row[column]`` as a float, or a TableError naming the table, column and value."""
    try:
        return float(row[column])
    except (KeyError, ValueError) as exc:
        raise TableError(name, f"column {column!r}: {row.get(column)!r} is not a number") from exc


def optional_number(name: str, row: Row, column: str) -> float | None:
    """Like :func:`number`, but an empty cell is None."""
    if not row.get(column, "").strip():
        return None
    return number(name, row, column)
