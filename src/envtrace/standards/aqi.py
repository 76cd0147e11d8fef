"""Air quality index (AQI) by HJ 633-2012 and HJ 633-2026: reports, special cases, primary pollutant.

Implements
* the reports of each edition as data (``tables/hj633_items.csv``): the **realtime** report of the
  standard text (2012: 1-h SO2/NO2/CO/O3, O3 8-h moving, PM10/PM2.5 24-h moving; 2026: the six 1-h
  means only, PM on the daily breakpoints), the **daily** report (2012: five 24-h means, O3 max 1-h and
  max 8-h; 2026: five daily means and O3 max 8-h) and the **release** report, the rule by which the
  national real-time release (CNEMC) is computed, worked out from the archived release: the six 1-h
  means with PM on the 24-h breakpoints under both editions (docs/standards/aqi-validation.md);
* the special cases (``tables/hj633_special.csv``): (a) SO2 1-h above 800: 2012 reports the 24-h based
  IAQI, 2026 sets IAQI 200; (b) O3 8-h above 800: 2012 reports the 1-h based IAQI (the 8-h item drops
  out), 2026 sets IAQI 300;
* ``AQI = max(IAQI)``; the primary pollutant(s) when AQI > 50: every item whose IAQI equals the AQI
  (ties all listed, in the release's order PM10, PM2.5, O3, NO2, SO2, CO); category and colour;
* missing pollutants (HJ 633-2026 §5.3): the AQI of the other items is published only when it is above
  100, else the AQI is "NA" (``missing="standard"``); ``missing="available"`` always reports the AQI of
  the items present (``AqiTable.complete`` says which rows lacked something). An item marked "not
  measured" (release ``/``, not in the station's programme) is not missing;
* one vectorised entry point, :func:`aqi_table`, taking one array per item and the edition (one for all
  rows, or a per-row edition code), and :func:`aqi_series`, which turns one station's hourly means into
  its hourly AQI under the edition in force at each hour.

Leaves out: forecasts, city (multi-station) averaging, the 2012 "exceeding pollutant" list (IAQI > 100,
deleted in 2026; derivable from ``AqiTable.iaqi``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import numpy as np
import numpy.typing as npt

from envtrace.standards import tables
from envtrace.standards.ambient import minimum as gb3095_minimum
from envtrace.standards.ambient import moving_mean
from envtrace.standards.editions import AqiEdition, Family, edition_codes_at, editions
from envtrace.standards.errors import InvalidInput, TableError, UnknownItem
from envtrace.standards.iaqi import (
    BEYOND,
    MISSING,
    breakpoints,
    categories,
    iaqi_from_scaled,
    levels,
    scaled_concentration,
)

IntArray = npt.NDArray[np.int64]
EXCLUDED = -3  # an item that a special case removed from this row (its pollutant is reported elsewhere)

# Bit positions of the primary-pollutant mask, in the order the national release lists ties:
# PM10, PM2.5, O3 as archived (shared/specs/cnemc); NO2, SO2, CO follow the release's column order.
ITEMS: tuple[str, ...] = (
    "PM10_1h",
    "PM10_24h",
    "PM2.5_1h",
    "PM2.5_24h",
    "O3_1h",
    "O3_1h_max",
    "O3_8h",
    "O3_8h_max",
    "NO2_1h",
    "NO2_24h",
    "SO2_1h",
    "SO2_24h",
    "CO_1h",
    "CO_24h",
)
_BIT = {item: 1 << i for i, item in enumerate(ITEMS)}


class Report(StrEnum):
    REALTIME = "realtime"
    DAILY = "daily"
    RELEASE = "release"


class Missing(StrEnum):
    STANDARD = "standard"
    AVAILABLE = "available"


@dataclass(frozen=True, slots=True)
class ItemSpec:
    item: str
    pollutant: str
    averaging: str  # which breakpoint table
    source: str


@dataclass(frozen=True, slots=True)
class Special:
    item: str
    above: float
    action: str  # "use_item" or "fixed_iaqi"
    value: str
    source: str


@cache
def report_items(edition: str, report: Report | str) -> tuple[ItemSpec, ...]:
    """The items of a report in an edition (``tables/hj633_items.csv``)."""
    rep = _report(report)
    out = tuple(
        ItemSpec(r["item"], r["pollutant"], r["breakpoints"], r["source"])
        for r in tables.load("hj633_items")
        if r["edition"] == edition and r["report"] == rep.value
    )
    if not out:
        breakpoints(edition, "SO2", "24h")  # raises UnknownEdition for a bad edition
        raise TableError("hj633_items", f"no items for {edition} {rep.value}")
    unknown = [s.item for s in out if s.item not in _BIT]
    if unknown:
        raise TableError("hj633_items", f"unknown items {unknown}")
    return out


@cache
def specials(edition: str) -> Mapping[str, Special]:
    """Special cases of an edition by item (``tables/hj633_special.csv``)."""
    out: dict[str, Special] = {}
    for r in tables.load("hj633_special"):
        if r["edition"] == edition:
            if r["action"] not in ("use_item", "fixed_iaqi"):
                raise TableError("hj633_special", f"unknown action {r['action']!r}")
            out[r["item"]] = Special(
                r["item"], tables.number("hj633_special", r, "above"), r["action"], r["value"], r["source"]
            )
    return out


def _report(report: Report | str) -> Report:
    try:
        return Report(report)
    except ValueError as exc:
        raise UnknownItem("AQI report", str(report), [r.value for r in Report]) from exc


def _natural(item: str) -> tuple[str, str]:
    """(pollutant, breakpoint averaging) of an item named '<P>_<avg>[_max]' when used by a special case."""
    pollutant, _, rest = item.partition("_")
    return pollutant, rest.removesuffix("_max")


@dataclass(frozen=True, slots=True)
class AqiTable:
    """AQI results, one element per row.

    ``aqi``: published AQI, -1 = NA. ``aqi_available``: AQI of the items present (-1 when none).
    ``complete``: every item of the report present or not measured. ``primary``: bit mask over
    :data:`ITEMS`. ``level``: category 1-6 (0 = none). ``edition_code``: index into the AQI editions.
    ``iaqi``: per item of the reports used, the IAQI (-1 missing, -3 dropped by a special case).
    """

    aqi: IntArray
    aqi_available: IntArray
    complete: npt.NDArray[np.bool_]
    primary: npt.NDArray[np.uint16]
    level: npt.NDArray[np.int8]
    edition_code: npt.NDArray[np.int8]
    iaqi: Mapping[str, IntArray]

    def primary_labels(self, scheme: str = "code", sep: str = ",") -> list[str]:
        """Primary pollutant names per row; scheme 'code', 'cnemc' (names as the release writes them for
        the row's edition) or a scheme of ``tables/primary_names.csv``; ties joined by ``sep``."""
        names = editions(Family.AQI)
        out: list[str] = [""] * len(self.aqi)
        keys = self.edition_code.astype(np.int64) * (1 << 16) + self.primary.astype(np.int64)
        uniq, inverse = np.unique(keys, return_inverse=True)
        labels = []
        for key in uniq:
            code, mask = divmod(int(key), 1 << 16)
            use = scheme
            if scheme == "cnemc":
                use = "cnemc-" + names[code].rsplit("-", 1)[1]
            table = primary_names(use)
            labels.append(sep.join(dict.fromkeys(table[i] for i in ITEMS if mask & _BIT[i])))
        for row, k in enumerate(inverse.tolist()):
            out[row] = labels[k]
        return out

    def category_names(self, language: str = "zh") -> list[str]:
        """Category names per row ('' where the AQI is NA); language 'zh' or 'en'."""
        return self._by_level(lambda c: c.name_zh if language == "zh" else c.name_en)

    def colours(self) -> npt.NDArray[np.uint8]:
        """RGB per row (HJ 633-2026 Table A.1); 0,0,0 where the AQI is NA."""
        out = np.zeros((len(self.aqi), 3), dtype=np.uint8)
        for code, name in enumerate(editions(Family.AQI)):
            for cat in categories(name):
                out[(self.edition_code == code) & (self.level == cat.level)] = cat.rgb
        return out

    def _by_level(self, pick: object) -> list[str]:
        table: dict[tuple[int, int], str] = {}
        for code, name in enumerate(editions(Family.AQI)):
            for cat in categories(name):
                table[(code, cat.level)] = pick(cat)  # type: ignore[operator]
        return [table.get((int(c), int(lv)), "") for c, lv in zip(self.edition_code, self.level, strict=True)]


@cache
def primary_names(scheme: str) -> Mapping[str, str]:
    """Item -> name in a naming scheme of ``tables/primary_names.csv``."""
    out = {r["item"]: r["name"] for r in tables.load("primary_names") if r["scheme"] == scheme}
    if not out:
        known = sorted({r["scheme"] for r in tables.load("primary_names")} | {"cnemc"})
        raise UnknownItem("primary-pollutant naming scheme", scheme, known)
    missing = [i for i in ITEMS if i not in out]
    if missing:
        raise TableError("primary_names", f"scheme {scheme} lacks {missing}")
    return out


def _float_array(values: npt.ArrayLike | None, n: int) -> npt.NDArray[np.float64]:
    if values is None:
        return np.full(n, np.nan)
    arr: npt.NDArray[np.float64] = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise InvalidInput(f"every item array must have shape ({n},), got {arr.shape}", arr.shape)
    return arr


def _bool_array(values: npt.ArrayLike | None, n: int) -> npt.NDArray[np.bool_]:
    if values is None:
        return np.zeros(n, dtype=bool)
    arr: npt.NDArray[np.bool_] = np.asarray(values, dtype=bool)
    if arr.shape != (n,):
        raise InvalidInput(f"every not-measured mask must have shape ({n},), got {arr.shape}", arr.shape)
    return arr


def _needed(edition: str, report: Report) -> tuple[str, ...]:
    """Items an edition's report reads: its own items and those its special cases refer to."""
    spec = report_items(edition, report)
    own = [s.item for s in spec]
    refs = [r.value for r in specials(edition).values() if r.action == "use_item" and r.item in own]
    return tuple(dict.fromkeys(own + [r for r in refs if r in _BIT]))


def _one_edition(
    edition: str,
    report: Report,
    conc: Mapping[str, npt.NDArray[np.float64]],
    not_measured: Mapping[str, npt.NDArray[np.bool_] | None],
    missing: Missing,
    n: int,
) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_], npt.NDArray[np.uint16], dict[str, IntArray]]:
    spec = report_items(edition, report)
    in_report = {s.item for s in spec}
    special = specials(edition)
    result: dict[str, IntArray] = {}
    complete = np.ones(n, dtype=bool)
    best = np.full(n, MISSING, dtype=np.int64)
    for s in spec:
        scaled, usable = scaled_concentration(edition, s.pollutant, conc[s.item])
        table = breakpoints(edition, s.pollutant, s.averaging)
        value = iaqi_from_scaled(scaled, usable, table)
        rule = special.get(s.item)
        if rule is not None:
            over = usable & (scaled > round(rule.above * 10**table.decimals))
            if over.any():
                if rule.action == "fixed_iaqi":
                    value = np.where(over, int(rule.value), value)
                elif rule.value in in_report:
                    value = np.where(over, EXCLUDED, value)
                else:
                    pol, avg = _natural(rule.value)
                    sc2, us2 = scaled_concentration(edition, pol, conc[rule.value])
                    value = np.where(over, iaqi_from_scaled(sc2, us2, breakpoints(edition, pol, avg)), value)
        if table.truncated:
            value = np.where(value == BEYOND, MISSING, value)
        gone = value == MISSING
        nm = not_measured.get(s.item)
        if nm is not None:
            gone &= ~nm
        complete &= ~gone
        result[s.item] = value
        np.maximum(best, value, out=best)
    if missing is Missing.STANDARD:
        published = np.where(complete | (best > 100), best, MISSING)
    else:
        published = best
    primary = np.zeros(n, dtype=np.uint16)
    above_50 = published > 50
    for item, value in result.items():
        hit = (value == published) & above_50
        primary |= hit.astype(np.uint16) << np.uint16(ITEMS.index(item))
    return published, best, complete, primary, result


def aqi_table(
    items: Mapping[str, npt.ArrayLike],
    *,
    edition: str | npt.ArrayLike,
    report: Report | str = Report.REALTIME,
    missing: Missing | str = Missing.STANDARD,
    not_measured: Mapping[str, npt.ArrayLike] | None = None,
) -> AqiTable:
    """AQI of many rows at once.

    ``items`` maps item names (:data:`ITEMS`, e.g. ``"PM2.5_1h"``, ``"O3_8h"``, ``"SO2_24h"``) to 1-D
    float arrays of one length (NaN = missing; µg/m³, CO mg/m³). Items the report does not use are
    ignored; items it uses but that are absent count as missing. ``edition`` is an edition name for all
    rows or an int array of codes (index into ``editions("aqi")``, see :func:`edition_codes_at`).
    ``AqiTable.iaqi`` holds the items of the reports used.

    >>> t = aqi_table({"PM2.5_1h": [64.0], "PM10_1h": [95.0], "SO2_1h": [3.0], "NO2_1h": [32.0],
    ...                "CO_1h": [0.6], "O3_1h": [26.0]}, edition="HJ 633-2012", report="release")
    >>> int(t.aqi[0]), t.primary_labels("cnemc")
    (87, ['细颗粒物(PM2.5)'])
    """
    rep = _report(report)
    pol = Missing(missing)
    lengths = {np.asarray(v).shape for v in items.values()}
    if len(lengths) > 1:
        raise InvalidInput(f"item arrays differ in shape: {sorted(lengths)}", lengths)
    unknown = [k for k in [*items, *(not_measured or {})] if k not in _BIT]
    if unknown:
        raise UnknownItem("AQI item", unknown[0], ITEMS)
    if lengths:
        (shape,) = lengths
        if len(shape) != 1:
            raise InvalidInput(f"item arrays must be 1-D, got shape {shape}", shape)
        n = shape[0]
    else:
        n = int(np.asarray(edition).size) if not isinstance(edition, str) else 0
    names = editions(Family.AQI)
    if isinstance(edition, str):
        codes = np.full(n, names.index(AqiEdition(edition).value), dtype=np.int8)
        present = [names.index(edition)]
    else:
        codes = np.asarray(edition, dtype=np.int8)
        if codes.shape != (n,) or np.any((codes < 0) | (codes >= len(names))):
            raise InvalidInput(f"edition codes must be ({n},) in 0..{len(names) - 1}", codes.shape)
        present = [c for c in range(len(names)) if np.any(codes == c)] if n else []
    needed = tuple(dict.fromkeys(i for c in present for i in _needed(names[c], rep)))
    conc = {i: _float_array(items.get(i), n) for i in needed}
    nm = {
        i: (None if not_measured is None or i not in not_measured else _bool_array(not_measured[i], n))
        for i in needed
    }
    if len(present) == 1:
        pub, best, comp, prim, res = _one_edition(names[present[0]], rep, conc, nm, pol, n)
        return AqiTable(pub, best, comp, prim, levels(pub, names[present[0]]), codes, res)
    aqi = np.full(n, MISSING, dtype=np.int64)
    avail = np.full(n, MISSING, dtype=np.int64)
    complete = np.zeros(n, dtype=bool)
    primary = np.zeros(n, dtype=np.uint16)
    level = np.zeros(n, dtype=np.int8)
    iaqis: dict[str, IntArray] = {}
    ordered = bool(np.all(codes[1:] >= codes[:-1]))  # time-ordered batches: one slice per edition
    for code in present:
        if ordered:
            lo, hi = np.searchsorted(codes, [code, code + 1])
            rows: slice | npt.NDArray[np.intp] = slice(int(lo), int(hi))
            count = int(hi - lo)
        else:
            rows = np.flatnonzero(codes == code)
            count = len(rows)
        sub_c = {k: v[rows] for k, v in conc.items()}
        sub_n = {k: (None if v is None else v[rows]) for k, v in nm.items()}
        pub, best, comp, prim, res = _one_edition(names[code], rep, sub_c, sub_n, pol, count)
        aqi[rows], avail[rows], complete[rows], primary[rows] = pub, best, comp, prim
        level[rows] = levels(pub, names[code])
        for k, v in res.items():
            iaqis.setdefault(k, np.full(n, MISSING, dtype=np.int64))[rows] = v
    return AqiTable(aqi, avail, complete, primary, level, codes, iaqis)


def hourly_items(
    times: npt.ArrayLike, hourly: Mapping[str, npt.ArrayLike]
) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.float64]]]:
    """The AQI items of one station's hourly means, on a gap-free grid of hours.

    ``times``: Unix seconds of each hour's start, increasing, whole hours apart (gaps allowed).
    ``hourly``: 1-h means keyed SO2, NO2, CO, O3, PM10, PM2.5 (NaN = invalid). Returns the grid's hour
    starts (from ``times[0]`` to ``times[-1]``, gaps filled with NaN) and the items on it: ``<P>_1h``,
    ``<P>_24h`` (24-h moving means from >= 20 hours) and ``O3_8h`` (8-h moving mean from >= 6 hours),
    GB 3095 Table 4 figures; applying the daily figure to the 24-h moving mean is an envtrace choice.
    """
    t = np.asarray(times, dtype=np.int64)
    if t.ndim != 1 or t.size == 0:
        raise InvalidInput("times must be a non-empty 1-D array", t.shape)
    steps = np.diff(t)
    if np.any(steps <= 0) or np.any(steps % 3600) or t[0] % 3600:
        raise InvalidInput("times must be increasing whole hours (Unix seconds at the start of each hour)")
    slot = (t - t[0]) // 3600
    span = int(slot[-1]) + 1
    items: dict[str, npt.NDArray[np.float64]] = {}
    day_need = gb3095_minimum("daily")
    for pollutant, values in hourly.items():
        v = np.asarray(values, dtype=np.float64)
        if v.shape != t.shape:
            raise InvalidInput(f"hourly[{pollutant!r}] has shape {v.shape}, times {t.shape}")
        g = np.full(span, np.nan)
        g[slot] = v
        items[f"{pollutant}_1h"] = g
        items[f"{pollutant}_24h"] = moving_mean(g, 24, day_need)[0]
        if pollutant == "O3":
            items["O3_8h"] = moving_mean(g, 8, gb3095_minimum("o3_8h"))[0]
    grid = t[0] + np.arange(span, dtype=np.int64) * 3600
    return grid, {k: v for k, v in items.items() if k in _BIT}


def aqi_series(
    times: npt.ArrayLike,
    hourly: Mapping[str, npt.ArrayLike],
    *,
    report: Report | str = Report.REALTIME,
    missing: Missing | str = Missing.STANDARD,
) -> AqiTable:
    """Hourly AQI of one station under the edition in force at each hour.

    ``times`` and ``hourly`` as for :func:`hourly_items`, which computes the moving means. The result
    is aligned with ``times``.
    """
    rep = _report(report)
    if rep is Report.DAILY:
        raise InvalidInput("aqi_series computes hourly reports; use ambient.daily_report_inputs + aqi_table")
    grid, items = hourly_items(times, hourly)
    t = np.asarray(times, dtype=np.int64)
    codes = edition_codes_at(Family.AQI, grid)
    full = aqi_table(items, edition=codes, report=rep, missing=missing)
    pick = (t - t[0]) // 3600
    return AqiTable(
        full.aqi[pick],
        full.aqi_available[pick],
        full.complete[pick],
        full.primary[pick],
        full.level[pick],
        full.edition_code[pick],
        {k: v[pick] for k, v in full.iaqi.items()},
    )
