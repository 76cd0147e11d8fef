"""Factor (pollutant / parameter) codes: HJ 212-2017 appendix B and the HJ/T 212-2005 codes.

The table is ``tables/factors.csv`` (one row per 2017 code, ``source`` and ``note`` per row), as
compiled in ``hj-standards.md`` §1.10 and ``hj212-2025-and-hj75.md`` §1.5. Where the shared notes
give no unit the ``unit`` cell is empty on purpose: units are configured per station, never inferred
(ambient PM is ng/m³ in the table but µg/m³ on many devices). Chinese names are those of the
standard's tables as far as they were available; check them against the PDF before publishing.

2005 codes overlap between systems only by convention (a gas code ``01`` is dust, a water code
``001`` pH), so :func:`code_2017` maps them with the packet's ST (water or gas system).

Left out: the process codes (``e``/``g`` + digits), which follow a pattern rather than a list, and
the HJ 212-2025 electricity codes (``d…``), whose meanings are not published in the notes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from envtrace.hj212.codes import Medium, system_medium

FactorKind = Literal["flue_gas", "water", "ambient", "noise", "process", "info"]
_KINDS = frozenset({"flue_gas", "water", "ambient", "noise", "process", "info"})


@dataclass(frozen=True, slots=True)
class Factor:
    """One factor code: names, default unit, kind and value type (``N5.2`` ...) with its source."""

    code: str
    code_2005: str | None
    medium_2005: Medium | None
    name_zh: str
    name_en: str
    unit: str | None
    cumulative_unit: str | None
    kind: FactorKind
    value_type: str | None
    source: str
    note: str | None


def _opt(text: str) -> str | None:
    return text or None


@cache
def _load() -> tuple[dict[str, Factor], dict[tuple[str, str], str]]:
    text = resources.files("envtrace.hj212").joinpath("tables/factors.csv").read_text("utf-8")
    by_code: dict[str, Factor] = {}
    by_2005: dict[tuple[str, str], str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        kind = row["kind"]
        medium = row["medium_2005"]
        if kind not in _KINDS or medium not in ("", "water", "gas"):
            raise ValueError(f"factors.csv row {row['code']!r}: bad kind {kind!r} or medium {medium!r}")
        factor = Factor(
            code=row["code"],
            code_2005=_opt(row["code_2005"]),
            medium_2005="water" if medium == "water" else "gas" if medium == "gas" else None,
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            unit=_opt(row["unit"]),
            cumulative_unit=_opt(row["cumulative_unit"]),
            kind=kind,  # type: ignore[arg-type]  # checked against _KINDS above
            value_type=_opt(row["value_type"]),
            source=row["source"],
            note=_opt(row["note"]),
        )
        if factor.code in by_code:
            raise ValueError(f"factors.csv: code {factor.code!r} listed twice")
        by_code[factor.code] = factor
        if factor.code_2005 is not None and factor.medium_2005 is not None:
            by_2005[(factor.medium_2005, factor.code_2005)] = factor.code
    return by_code, by_2005


def factors() -> dict[str, Factor]:
    """Every factor of the table, by 2017 code (a fresh dict; the rows are immutable)."""
    return dict(_load()[0])


def factor(code: str) -> Factor | None:
    """The table row for a 2017 factor code, or ``None`` when the table does not list it."""
    return _load()[0].get(code)


def code_2017(code: str, *, st: str | None) -> str | None:
    """The HJ 212-2017 code for a factor code as received, using the packet's ST for 2005 codes.

    A code the 2017 table lists is returned unchanged. A 2005 code is looked up in the water or gas
    list chosen by ``st`` (``32`` wastewater, ``31`` flue gas, ...); when ``st`` names neither, the
    code is mapped only if exactly one list has it. ``None``: no mapping (vendor code such as
    ``PM25``), keep the code as received.

    >>> code_2017("011", st="32"), code_2017("S01", st="31"), code_2017("B01", st="32")
    ('w01018', 'a19001', 'w00000')
    """
    by_code, by_2005 = _load()
    if code in by_code:
        return code
    medium = system_medium(st)
    if medium is not None:
        return by_2005.get((medium, code))
    found = {by_2005.get(("water", code)), by_2005.get(("gas", code))} - {None}
    return found.pop() if len(found) == 1 else None


def factor_kind(code: str) -> FactorKind | None:
    """The kind of a factor code: the table's, or by prefix for pattern codes (e/g process, i info)."""
    known = factor(code)
    if known is not None:
        return known.kind
    if len(code) == 6 and code[1:].isdigit():
        prefix = code[0]
        if prefix in "eg":
            return "process"
        if prefix == "i":
            return "info"
        if prefix == "w":
            return "water"
    return None
