"""Individual air quality index (IAQI) by HJ 633-2012 and HJ 633-2026, and the AQI categories.

Implements
* the breakpoint tables of both editions (``tables/hj633_breakpoints.csv``; the 2026 table differs only in
  the IAQI-100 values of PM10, 150 -> 120, and PM2.5, 75 -> 60);
* ``IAQI = (I_hi - I_lo) / (BP_hi - BP_lo) * (C - BP_lo) + I_lo``, **rounded up** (2012 §6.2, 2026
  §4.2.6), computed exactly in integers on the concentration rounded per GB/T 8170 to the edition's
  decimals (``tables/hj633_rounding.csv``: integers, CO one decimal);
* the categories, levels, zh/en names and RGB colours (2026 Table A.1) in ``tables/hj633_categories.csv``.

Conventions of the arrays returned: ``MISSING`` (-1) for NaN, infinite or negative concentrations;
``BEYOND`` (-2) above the last breakpoint of a truncated table (SO2 1-h above 800, O3 8-h above 800: the
special cases (a)/(b) that :mod:`envtrace.standards.aqi` resolves per edition). Above the IAQI-500
breakpoint of a full table the IAQI is 500: the index scale ends there (the national release shows 500
for such hours).

Leaves out: the 2026 sensitive-group advice per pollutant, and the US-style lower bounds (51, 101 ...)
some public code uses (``hrbonz/python-aqi``), which leave gaps between segments. The SO2 24-h table
here is the standard's (50/150/475/800 ...), not the 1-h values that ``caiyunapp/aqi-hub`` put in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from envtrace.standards import tables
from envtrace.standards.editions import AqiEdition
from envtrace.standards.errors import TableError, UnknownEdition, UnknownItem
from envtrace.standards.rounding import ceil_div, round_gbt8170_to_int

MISSING = -1
BEYOND = -2
POLLUTANTS: tuple[str, ...] = ("SO2", "NO2", "PM10", "CO", "O3", "PM2.5")
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Breakpoints:
    """One breakpoint table: concentrations times ``10**decimals`` as integers, and their IAQI."""

    edition: str
    pollutant: str
    averaging: str
    decimals: int
    concentration: IntArray
    iaqi: IntArray
    source: str
    lookup: IntArray  # IAQI of every scaled concentration 0..top, then the value above the table

    @property
    def truncated(self) -> bool:
        """True when the table stops below IAQI 500 (values above it are special cases)."""
        return int(self.iaqi[-1]) < 500


def _edition(edition: str) -> str:
    names = [e.value for e in AqiEdition]
    if edition not in names:
        raise UnknownEdition("aqi", edition, names)
    return edition


@cache
def decimals(edition: str, pollutant: str) -> int:
    """Decimals the concentration is rounded to before the IAQI (GB/T 8170)."""
    _edition(edition)
    for row in tables.load("hj633_rounding"):
        if row["edition"] == edition and row["pollutant"] == pollutant:
            return int(tables.number("hj633_rounding", row, "decimals"))
    raise UnknownItem("pollutant", pollutant, POLLUTANTS)


@cache
def breakpoints(edition: str, pollutant: str, averaging: str) -> Breakpoints:
    """The breakpoint table of an edition for a pollutant and averaging ('1h', '8h', '24h')."""
    _edition(edition)
    rows = [r for r in tables.load("hj633_breakpoints") if r["edition"] == edition]
    mine = [r for r in rows if r["pollutant"] == pollutant and r["averaging"] == averaging]
    if not mine:
        raise UnknownItem(
            "pollutant/averaging",
            f"{pollutant}/{averaging}",
            sorted({f"{r['pollutant']}/{r['averaging']}" for r in rows}),
        )
    d = decimals(edition, pollutant)
    conc = np.array([tables.number("hj633_breakpoints", r, "concentration") for r in mine])
    index = np.array([tables.number("hj633_breakpoints", r, "iaqi") for r in mine])
    scaled = np.rint(conc * 10**d).astype(np.int64)
    if scaled[0] != 0 or index[0] != 0 or np.any(np.diff(scaled) <= 0) or np.any(np.diff(index) <= 0):
        raise TableError("hj633_breakpoints", f"{edition} {pollutant} {averaging} is not increasing from 0")
    index = index.astype(np.int64)
    return Breakpoints(
        edition, pollutant, averaging, d, scaled, index, mine[0]["source"], _lookup(scaled, index)
    )


def _lookup(bp: IntArray, idx: IntArray) -> IntArray:
    """IAQI of each integer scaled concentration 0..bp[-1] by the segment formula, rounded up exactly;
    one more entry for anything above the table (500, or BEYOND for a truncated table)."""
    scaled = np.arange(int(bp[-1]) + 1, dtype=np.int64)
    j = np.clip(np.searchsorted(bp, scaled, side="left"), 1, len(bp) - 1)
    lo_c, hi_c, lo_i, hi_i = bp[j - 1], bp[j], idx[j - 1], idx[j]
    values = lo_i + ceil_div((hi_i - lo_i) * (scaled - lo_c), hi_c - lo_c)
    above = BEYOND if int(idx[-1]) < 500 else 500
    out: IntArray = np.append(values, above).astype(np.int64)
    return out


def scaled_concentration(
    edition: str, pollutant: str, concentration: npt.ArrayLike
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Concentration rounded per GB/T 8170 and scaled to an integer, with the mask of usable values."""
    c = np.asarray(concentration, dtype=np.float64)
    usable = np.isfinite(c) & (c >= 0)
    return round_gbt8170_to_int(np.where(usable, c, 0.0), decimals(edition, pollutant)), usable


def iaqi_from_scaled(scaled: IntArray, usable: npt.NDArray[np.bool_], table: Breakpoints) -> IntArray:
    """IAQI (rounded up) of integer-scaled concentrations; MISSING where not usable, BEYOND/500 above.

    The IAQI depends only on the rounded concentration, so it is read from ``table.lookup``, which holds
    the segment formula evaluated exactly for every representable value.
    """
    top = len(table.lookup) - 1
    out = table.lookup[np.minimum(scaled, top)]
    result: IntArray = np.where(usable, out, MISSING)
    return result


def iaqi(pollutant: str, concentration: npt.ArrayLike, *, edition: str, averaging: str) -> IntArray:
    """IAQI of each concentration (µg/m³; CO mg/m³) for a pollutant, averaging and edition.

    >>> iaqi("PM2.5", [35, 75, 76, 60], edition="HJ 633-2012", averaging="24h").tolist()
    [50, 100, 102, 82]
    >>> iaqi("PM2.5", [35, 75, 76, 60], edition="HJ 633-2026", averaging="24h").tolist()
    [50, 114, 115, 100]
    """
    table = breakpoints(edition, pollutant, averaging)
    scaled, usable = scaled_concentration(edition, pollutant, concentration)
    return iaqi_from_scaled(scaled, usable, table)


@dataclass(frozen=True, slots=True)
class Category:
    edition: str
    level: int
    aqi_min: int
    aqi_max: int | None
    name_zh: str
    name_en: str
    colour_zh: str
    colour_en: str
    rgb: tuple[int, int, int]
    source: str


@cache
def categories(edition: str) -> tuple[Category, ...]:
    """The six AQI categories of an edition, level 1 first."""
    _edition(edition)
    out = []
    for r in tables.load("hj633_categories"):
        if r["edition"] != edition:
            continue
        top = tables.optional_number("hj633_categories", r, "aqi_max")
        rgb = (int(r["r"]), int(r["g"]), int(r["b"]))
        out.append(
            Category(
                edition,
                int(r["level"]),
                int(r["aqi_min"]),
                None if top is None else int(top),
                r["name_zh"],
                r["name_en"],
                r["colour_zh"],
                r["colour_en"],
                rgb,
                r["source"],
            )
        )
    if [c.level for c in out] != [1, 2, 3, 4, 5, 6]:
        raise TableError("hj633_categories", f"{edition} needs levels 1-6 in order")
    return tuple(out)


@cache
def _level_lookup(edition: str) -> npt.NDArray[np.int8]:
    """Level of every AQI from -1 (index 0: NA -> level 0) to 500 (index 501)."""
    tops = np.array([c.aqi_max for c in categories(edition)[:-1]], dtype=np.int64)
    aqi = np.arange(-1, 501, dtype=np.int64)
    out: npt.NDArray[np.int8] = np.where(aqi >= 0, np.searchsorted(tops, aqi, side="left") + 1, 0).astype(
        np.int8
    )
    return out


def levels(aqi: npt.ArrayLike, edition: str) -> npt.NDArray[np.int8]:
    """Category level 1-6 of each AQI (0 where the AQI is missing, i.e. negative)."""
    a = np.asarray(aqi, dtype=np.int64)
    out: npt.NDArray[np.int8] = _level_lookup(edition)[np.clip(a, -1, 500) + 1]
    return out
