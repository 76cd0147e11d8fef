"""Which edition of a standard governs a piece of data: history is judged by the rules of its day.

Families and switch instants (``tables/editions.csv``, China Standard Time, UTC+8):

* ``hj212``: HJ/T 212-2005 → HJ 212-2017 (2017-05-01) → HJ 212-2025 (2026-01-01).
* ``aqi``: HJ 633-2012 → HJ 633-2026 (2026-03-01).
* ``gb3095``: GB 3095-2012 → GB 3095-2026 transitional limits (2026-03-01) → full limits (2031-01-01).

The instant that decides is the data time, and for period data the **start** of the period
(architecture: hourly data are stamped with the start of the hour). The national release labels an hour
by its end; the CNEMC README confirms the hour 2026-03-01 00:00-01:00 (published as ``T01``) is the first
one under HJ 633-2026, which is what the start-of-period rule gives. A switch applies from its instant
on, inclusive: ``edition_at(switch - 1)`` is the old edition and ``edition_at(switch)`` the new one.

Times are Unix seconds (UTC), as everywhere in envtrace.

Not covered: editions before the earliest kept one (the API era before HJ 633-2012; GB 3095-1996);
local deviations (a province adopting a standard early) must be expressed by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache

import numpy as np
import numpy.typing as npt

from envtrace.standards import tables
from envtrace.standards.errors import TableError, UnknownEdition, UnknownItem

CST_OFFSET_S = 8 * 3600


class Family(StrEnum):
    HJ212 = "hj212"
    AQI = "aqi"
    GB3095 = "gb3095"


class Hj212Edition(StrEnum):
    HJT212_2005 = "HJ/T 212-2005"
    HJ212_2017 = "HJ 212-2017"
    HJ212_2025 = "HJ 212-2025"


class AqiEdition(StrEnum):
    HJ633_2012 = "HJ 633-2012"
    HJ633_2026 = "HJ 633-2026"


class Gb3095Edition(StrEnum):
    GB3095_2012 = "GB 3095-2012"
    GB3095_2026_TRANSITIONAL = "GB 3095-2026 transitional"
    GB3095_2026_FULL = "GB 3095-2026 full"


@dataclass(frozen=True, slots=True)
class EditionSpan:
    """One edition of a family and the instant (Unix s) from which it applies; None = since always."""

    family: Family
    edition: str
    in_force_from: int | None
    source: str


def _parse_instant(value: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(datetime.fromisoformat(value).timestamp())
    except ValueError as exc:
        raise TableError("editions", f"in_force_from {value!r} is not an ISO instant with offset") from exc


@cache
def spans(family: Family | str) -> tuple[EditionSpan, ...]:
    """The editions of a family in force order, earliest first."""
    fam = _family(family)
    out = [
        EditionSpan(fam, row["edition"], _parse_instant(row["in_force_from"]), row["source"])
        for row in tables.load("editions")
        if row["family"] == fam.value
    ]
    if not out or out[0].in_force_from is not None:
        raise TableError("editions", f"family {fam.value}: the first edition must have no start")
    starts = [s.in_force_from for s in out[1:] if s.in_force_from is not None]
    if len(starts) != len(out) - 1 or starts != sorted(starts):
        raise TableError("editions", f"family {fam.value}: later editions need increasing start instants")
    return tuple(out)


def _family(family: Family | str) -> Family:
    try:
        return Family(family)
    except ValueError as exc:
        raise UnknownItem("edition family", str(family), [f.value for f in Family]) from exc


def editions(family: Family | str) -> tuple[str, ...]:
    """Edition names of a family, earliest first; an edition's index here is its code in arrays."""
    return tuple(s.edition for s in spans(family))


def edition_index(family: Family | str, edition: str) -> int:
    names = editions(family)
    if edition not in names:
        raise UnknownEdition(_family(family).value, edition, names)
    return names.index(edition)


def edition_at(family: Family | str, ts: int) -> str:
    """The edition in force at Unix time ``ts`` (the start of the data period)."""
    return editions(family)[int(edition_codes_at(family, np.asarray([ts], dtype=np.int64))[0])]


def edition_codes_at(family: Family | str, ts: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Vectorised :func:`edition_at`: the index into :func:`editions` for each Unix time."""
    starts = np.asarray([s.in_force_from for s in spans(family)[1:]], dtype=np.int64)
    t = np.asarray(ts, dtype=np.int64)
    out: npt.NDArray[np.int8] = np.searchsorted(starts, t, side="right").astype(np.int8)
    return out


def switch_instants(family: Family | str) -> tuple[int, ...]:
    """Unix instants at which a new edition of the family takes over."""
    return tuple(s.in_force_from for s in spans(family)[1:] if s.in_force_from is not None)


def cst_to_unix(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Unix seconds of a China-Standard-Time wall-clock instant."""
    naive = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return int(naive.timestamp()) - CST_OFFSET_S
