"""Threshold shaving: daily means bunched just below the limit, with a hole just above it.

Targets the manipulation of a station's days that would exceed a daily limit by a little
(GB 3095-2012 grade II: PM2.5 75 ug/m3, PM10 150 ug/m3 as 24-hour means): their values are
scaled down so the daily mean lands just below the limit. Over weeks this leaves a density of
daily means with too much mass just below the limit and too little just above it.

Notes
-----
The test is the density-discontinuity idea of McCrary (2008, J. Econometrics 142:698) in its
simplest, count-based form. Within a bandwidth ``h`` (20 % of the limit), the days in
``[L - h, L)`` and ``[L, L + h)`` are counted in rolling windows of 60 and 120 days. Under a
smooth density the share of the lower band is ``p0``, obtained by linear interpolation of the
station's own long-run density from the neighbouring bands ``[L - 3h, L - h)`` and
``[L + h, L + 3h)`` (so a falling density above the median is allowed for). A window whose lower
band count has a binomial tail probability so small that, multiplied by the windows per year, it
falls below the budget is evidence. The evidence is tightened to the first and last bunched day.
Daily means need 20 valid hours (HJ 663-2013 / GB 3095-2012 data validity).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence, plot_series
from envtrace.detect.robust import (
    FloatArray,
    IntArray,
    binom_sf,
    join_runs,
    rolling_sum,
    runs,
    score_from_expected,
)

BANDWIDTH = 0.2
WINDOWS_DAYS = (60, 120)
MIN_BAND_DAYS = 8


@dataclass(frozen=True, slots=True)
class BunchingBaseline:
    """The expected share of the band just below the limit under a smooth density."""

    limit: float
    bandwidth: float
    p0: float

    def to_dict(self) -> dict[str, object]:
        return {"limit": self.limit, "bandwidth": self.bandwidth, "p0": self.p0}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> BunchingBaseline:
        return cls(float(str(d["limit"])), float(str(d["bandwidth"])), float(str(d["p0"])))


def fit_bunching(daily: FloatArray, limit: float) -> BunchingBaseline:
    """Learn ``p0`` from a station's daily means.

    Raises
    ------
    InvalidParameter
        when ``limit`` is not a positive number.
    """
    if not (math.isfinite(limit) and limit > 0):
        raise InvalidParameter("limit", limit, "a positive daily limit")
    h = BANDWIDTH * limit
    d = daily[np.isfinite(daily)]
    lo = float(np.count_nonzero((d >= limit - 3 * h) & (d < limit - h)))
    hi = float(np.count_nonzero((d >= limit + h) & (d < limit + 3 * h)))
    # linear density through the band centres L - 2h and L + 2h, evaluated at L -/+ h/2
    below = 0.625 * lo + 0.375 * hi + 1.0
    above = 0.375 * lo + 0.625 * hi + 1.0
    return BunchingBaseline(limit, h, below / (below + above))


def _tightest(below: FloatArray, above: FloatArray, p0: float) -> tuple[int, int] | None:
    """The stretch between two band days with the smallest binomial tail (a scan statistic)."""
    bd = np.flatnonzero(np.nan_to_num(below) > 0)
    band = np.flatnonzero((np.nan_to_num(below) > 0) | (np.nan_to_num(above) > 0))
    if bd.size == 0:
        return None
    cb = np.concatenate(([0], np.cumsum(np.nan_to_num(below))))
    ca = np.concatenate(([0], np.cumsum(np.nan_to_num(above))))
    best: tuple[float, int, int] = (math.inf, int(bd[0]), int(bd[-1]) + 1)
    starts = [int(x) for x in band if below[int(x)] > 0]
    ends = [int(x) for x in band if below[int(x)] > 0]
    for i in starts:
        for j in ends:
            if j < i:
                continue
            a = int(cb[j + 1] - cb[i])
            n = a + int(ca[j + 1] - ca[i])
            if n < MIN_BAND_DAYS:
                continue
            p = binom_sf(a, n, p0)
            if p < best[0]:
                best = (p, i, j + 1)
    return best[1], best[2]


def limit_bunching(
    days: IntArray,
    daily: FloatArray,
    baseline: BunchingBaseline,
    *,
    station: str,
    parameters: Sequence[str],
    utc_offset_s: int,
    budget_per_year: float = 1e-3,
) -> list[Evidence]:
    """Stretches where daily means pile up just below the limit and avoid the band above it.

    ``days`` are local day numbers (days since 1970-01-01) and ``daily`` the daily means.

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    lim, h, p0 = baseline.limit, baseline.bandwidth, baseline.p0
    below = np.where(np.isfinite(daily), ((daily >= lim - h) & (daily < lim)).astype(np.float64), np.nan)
    above = np.where(np.isfinite(daily), ((daily >= lim) & (daily < lim + h)).astype(np.float64), np.nan)
    sig = np.zeros(len(daily), dtype=bool)
    best = np.full(len(daily), math.inf)
    cache: dict[tuple[int, int, int], float] = {}
    for w in WINDOWS_DAYS:
        a, _ = rolling_sum(below, w)
        b, _ = rolling_sum(above, w)
        n = a + b
        cand = np.flatnonzero((n >= MIN_BAND_DAYS) & (a > p0 * n))
        for i in cand.tolist():
            key = (int(a[i]), int(n[i]), w)
            if key not in cache:
                cache[key] = binom_sf(key[0], key[1], p0) * 2.0 * 365.25 / w * len(WINDOWS_DAYS)
            e = cache[key]
            if e <= budget_per_year:
                lo = max(0, i - w + 1)
                sig[lo : i + 1] = True
                best[lo : i + 1] = np.minimum(best[lo : i + 1], e)
    s, e_ = runs(sig)
    s, e_ = join_runs(s, e_, 7)
    out: list[Evidence] = []
    for a0, b0 in zip(s.tolist(), e_.tolist(), strict=True):
        tight = _tightest(below[a0:b0], above[a0:b0], p0)
        if tight is None:
            continue
        lo, hi = a0 + tight[0], a0 + tight[1]
        n_below = int(np.nansum(below[lo:hi]))
        n_above = int(np.nansum(above[lo:hi]))
        exp_year = float(np.min(best[a0:b0]))
        share = n_below / max(1, n_below + n_above)
        t0 = int(days[lo]) * 86400 - utc_offset_s
        t1 = int(days[hi - 1] + 1) * 86400 - utc_offset_s
        out.append(
            Evidence(
                detector="limit_bunching",
                station=station,
                parameters=tuple(parameters),
                start=t0,
                end=t1,
                pattern="threshold_shaving",
                kind="fraud",
                score=score_from_expected(exp_year),
                statistic=share,
                baseline=p0,
                threshold=budget_per_year,
                reason_en=(
                    f"{n_below} daily means of {parameters[0]} fell in [{lim - h:.4g}, {lim:.4g}) just below "
                    f"the limit and {n_above} in [{lim:.4g}, {lim + h:.4g}) just above it; a smooth density "
                    f"puts {p0:.0%} below, and a pile-up this strong is expected {exp_year:.2g} times per "
                    "station-year"
                ),
                reason_zh=(
                    f"{parameters[0]}日均值有{n_below}天落在限值以下区间[{lim - h:.4g}, {lim:.4g})，"
                    f"仅{n_above}天"
                    f"落在限值以上区间[{lim:.4g}, {lim + h:.4g})；平滑分布下限值以下应占{p0:.0%}，"
                    f"如此堆积每站每年预计仅出现{exp_year:.2g}次"
                ),
                expected_per_year=exp_year,
                plots=(
                    plot_series(
                        f"{parameters[0]} daily mean",
                        (days.astype(np.int64) * 86400 - utc_offset_s).astype(np.int64),
                        daily,
                        lo - 15,
                        hi + 15,
                    ),
                ),
            )
        )
    return out
