"""Limits: GB 3095 ambient limits by edition and class, national emission limits, and the resolution of
the limit that applies to an outlet's parameter at a time from permit, local and national rows.

Implements
* GB 3095-2012, GB 3095-2026 transitional (to 2030-12-31) and full (from 2031-01-01) limits for classes
  1 and 2 (``tables/gb3095_limits.csv``), selected by data time through :mod:`envtrace.standards.editions`;
* national emission limits (``tables/emission_limits.csv``): GB 13223-2011 Table 1 (new/existing by
  fuel and unit type) and Table 2 (special limits), the 2015 ultra-low emission values for coal-fired
  power (10/35/50 mg/m³ dust/SO2/NOx at 6 % O2, from the MEE/NDRC/NEA plan, not a GB), and
  GB 13271-2014 Tables 1-3 (boilers in use, new, special). Each row says how far it was verified;
* :func:`resolve_limit`: the platform passes every limit row it holds (permit, local standard,
  national standard, with effective-from/to instants); the row that applies is the one of the highest
  precedence (permit > local > national) that is in force, an outlet-specific row before a general one,
  then the latest effective-from. Two rows still tied raise :class:`AmbiguousLimit` rather than guess.

Leaves out: which table a given plant falls under (new/existing, key region, fuel) — a registry fact the
platform stores per outlet; daily/monthly emission quotas; wastewater discharge limits (GB 8978 and
industry standards), which enter as local/permit rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from functools import cache

import numpy as np
import numpy.typing as npt

from envtrace.standards import tables
from envtrace.standards.editions import CST_OFFSET_S, Family, edition_at, editions
from envtrace.standards.errors import AmbiguousLimit, InvalidInput, TableError, UnknownEdition, UnknownItem


class Scope(IntEnum):
    """Precedence of a limit source; a higher value wins."""

    NATIONAL = 1
    LOCAL = 2
    PERMIT = 3


@dataclass(frozen=True, slots=True)
class LimitRow:
    """One limit as the platform holds it. ``outlet`` None = every outlet the row's source covers.

    ``effective_from`` / ``effective_to`` are Unix seconds, from inclusive, to exclusive; None = open.
    """

    scope: Scope
    parameter: str
    value: float
    unit: str
    source: str
    outlet: str | None = None
    averaging: str = "1h"
    effective_from: int | None = None
    effective_to: int | None = None
    o2_ref_pct: float | None = None

    def in_force(self, at: int) -> bool:
        return (self.effective_from is None or self.effective_from <= at) and (
            self.effective_to is None or at < self.effective_to
        )


def resolve_limit(rows: Sequence[LimitRow], *, outlet: str, parameter: str, at: int) -> LimitRow | None:
    """The limit row that applies to ``outlet``'s ``parameter`` at Unix time ``at`` (None if none)."""
    candidates = [
        r
        for r in rows
        if r.parameter == parameter and (r.outlet is None or r.outlet == outlet) and r.in_force(at)
    ]
    if not candidates:
        return None

    def key(r: LimitRow) -> tuple[int, int, int]:
        return (
            int(r.scope),
            int(r.outlet is not None),
            r.effective_from if r.effective_from is not None else -(2**62),
        )

    top = max(key(r) for r in candidates)
    best = [r for r in candidates if key(r) == top]
    if len({(r.value, r.unit, r.averaging) for r in best}) > 1:
        raise AmbiguousLimit(outlet, parameter, at, best)
    return best[0]


def resolve_limits(
    rows: Sequence[LimitRow], *, outlet: str, parameter: str, times: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], list[LimitRow | None]]:
    """:func:`resolve_limit` for many instants: (limit values, NaN where none; the row of each instant)."""
    t = np.asarray(times, dtype=np.int64)
    relevant = [r for r in rows if r.parameter == parameter and (r.outlet is None or r.outlet == outlet)]
    cuts = sorted({c for r in relevant for c in (r.effective_from, r.effective_to) if c is not None})
    segment = np.searchsorted(np.asarray(cuts, dtype=np.int64), t, side="right")
    firsts = [-(2**62), *cuts]
    used = np.unique(segment).tolist()
    chosen: list[LimitRow | None] = [None] * len(firsts)
    for k in used:  # only the segments asked for: an ambiguity elsewhere is not this call's business
        chosen[k] = resolve_limit(relevant, outlet=outlet, parameter=parameter, at=firsts[k])
    values = np.array([np.nan if r is None else r.value for r in chosen], dtype=np.float64)
    return values[segment], [chosen[s] for s in segment.tolist()]


# ------------------------------------------------------------------------------ ambient (GB 3095)


@dataclass(frozen=True, slots=True)
class AmbientLimit:
    edition: str
    pollutant: str
    averaging: str
    air_class: int
    value: float
    unit: str
    source: str


@cache
def ambient_limit(pollutant: str, averaging: str, air_class: int, edition: str) -> AmbientLimit:
    """GB 3095 limit of an edition ('GB 3095-2012', 'GB 3095-2026 transitional', 'GB 3095-2026 full').

    ``averaging``: 'year', '24h', '1h', '8h_max' (O3 daily maximum 8-h), 'quarter'.
    """
    if edition not in editions(Family.GB3095):
        raise UnknownEdition("gb3095", edition, editions(Family.GB3095))
    if air_class not in (1, 2):
        raise InvalidInput(f"GB 3095 air-quality class is 1 or 2, got {air_class}", air_class)
    rows = [r for r in tables.load("gb3095_limits") if r["edition"] == edition]
    for r in rows:
        if r["pollutant"] == pollutant and r["averaging"] == averaging and int(r["class"]) == air_class:
            return AmbientLimit(
                edition,
                pollutant,
                averaging,
                air_class,
                tables.number("gb3095_limits", r, "value"),
                r["unit"],
                r["source"],
            )
    raise UnknownItem(
        "pollutant/averaging",
        f"{pollutant}/{averaging}",
        sorted({f"{r['pollutant']}/{r['averaging']}" for r in rows}),
    )


def ambient_limit_at(pollutant: str, averaging: str, air_class: int, at: int) -> AmbientLimit:
    """The GB 3095 limit in force at Unix time ``at`` (start of the averaging period)."""
    return ambient_limit(pollutant, averaging, air_class, edition_at(Family.GB3095, at))


# ------------------------------------------------------------------------------ emission limits


@dataclass(frozen=True, slots=True)
class EmissionLimit:
    standard: str
    table: str
    facility: str
    condition: str
    pollutant: str
    hj212_code: str
    value: float
    unit: str
    o2_ref_pct: float | None
    effective_from: int
    applies_to: str
    source: str
    verification: str

    def as_row(self, *, outlet: str | None = None, effective_to: int | None = None) -> LimitRow:
        """This national limit as a :class:`LimitRow` (parameter = HJ 212 code when there is one)."""
        return LimitRow(
            Scope.NATIONAL,
            self.hj212_code or self.pollutant,
            self.value,
            self.unit,
            f"{self.source} [{self.verification}]",
            outlet,
            "1h",
            self.effective_from,
            effective_to,
            self.o2_ref_pct,
        )


def _date_cst(value: str) -> int:
    try:
        return (
            int(datetime.fromisoformat(value).timestamp())
            if "T" in value
            else int(datetime.fromisoformat(value + "T00:00:00+00:00").timestamp()) - CST_OFFSET_S
        )
    except ValueError as exc:
        raise TableError("emission_limits", f"effective_from {value!r} is not a date") from exc


@cache
def emission_limits() -> tuple[EmissionLimit, ...]:
    """Every national emission limit row of ``tables/emission_limits.csv``."""
    out = []
    for r in tables.load("emission_limits"):
        out.append(
            EmissionLimit(
                r["standard"],
                r["table"],
                r["facility"],
                r["condition"],
                r["pollutant"],
                r["hj212_code"],
                tables.number("emission_limits", r, "value"),
                r["unit"],
                tables.optional_number("emission_limits", r, "o2_ref_pct"),
                _date_cst(r["effective_from"]),
                r["applies_to"],
                r["source"],
                r["verification"],
            )
        )
    return tuple(out)


def find_emission_limits(
    *,
    standard: str | None = None,
    facility: str | None = None,
    condition: str | None = None,
    pollutant: str | None = None,
) -> tuple[EmissionLimit, ...]:
    """Emission limit rows matching every filter given."""
    return tuple(
        e
        for e in emission_limits()
        if (standard is None or e.standard == standard)
        and (facility is None or e.facility == facility)
        and (condition is None or e.condition == condition)
        and (pollutant is None or e.pollutant == pollutant)
    )
