"""Copied series: a station reporting another station's values as its own.

Targets the substitution of a station's data by a neighbour's (or any other station's) values for
the same hours. Two independent monitors agree to the reporting resolution only by chance, at a
rate that depends on the pair and the level; a copy agrees every hour.

Notes
-----
For a pair of stations the hourly *match* indicator is ``|x - y| <= max(res / 2, 1 % of y)``.
Its chance rate is learned per pair and per level (ten quantile bins of the pair's mean level:
two analysers at their reporting floor match often, two at 200 ug/m3 rarely). In every window of
24 grid points the number of matches ``k`` among the ``n`` hours both report is compared with a
binomial at the window's mean chance rate; windows whose tail probability, multiplied by the number
of windows per year, is below the detector's budget form the evidence, and consecutive significant
windows are merged. This is the exact-match screening used against fabricated survey and
laboratory data (e.g. Blasius & Thiessen on duplicated records), applied to time series.

Which of the two stations copied is decided by what a copy cannot carry along: the copier's own
gas analysers keep measuring its own air, so its particle-to-CO log ratio becomes unusually
erratic, and its particles relate to the other stations the way the source's do, not the way its
own did. The station whose relations change more (in units of its own history, either way) is the
copier; only that station is reported. When the two stations are too alike for the cues to tell
(a margin under five robust z-units), both are reported and the reason says so: an officer then
checks two stations, rather than no one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence, plot_series
from envtrace.detect.robust import (
    FloatArray,
    IntArray,
    binom_sf,
    join_runs,
    location_scale,
    rolling_mean,
    rolling_sum,
    runs,
    score_from_expected,
)

WINDOW_DAYS = 1.0
RELATIVE_TOLERANCE = 0.01
LEVEL_BINS = 10
#: Identical stretches shorter than this are quality findings: data systems that fill a gap from
#: a common source produce them, and the independence the chance model assumes fails there.
MIN_FRAUD_DAYS = 3.0
#: Direction evidence (sum of robust z-scores) needed to name one station as the copier; below it
#: both stations are reported.
DIRECTION_MARGIN = 5.0
MIN_RATE = 0.01
CHI2_1_MEDIAN = 0.45493642311957283
#: Windows this unusual (expected null windows per year) open a candidate stretch.
LENIENT_PER_YEAR = 1.0


def match_indicator(x: FloatArray, y: FloatArray, res: float) -> FloatArray:
    """1.0 where two series agree to the reporting resolution (or 1 %), 0.0 where they differ,
    NaN where either is missing."""
    tol = np.maximum(max(0.5 * res, 1e-9), RELATIVE_TOLERANCE * np.abs(y))
    d = np.abs(x - y)
    return np.where(np.isfinite(d), (d <= tol).astype(np.float64), np.nan)


@dataclass(frozen=True, slots=True)
class MatchModel:
    """Chance match rate of a pair of stations, by level (bins of the pair's mean level)."""

    edges: tuple[float, ...]
    rates: tuple[float, ...]
    dispersion: float = 1.0

    def rate(self, level: FloatArray) -> FloatArray:
        k = np.searchsorted(np.asarray(self.edges), level, side="right")
        return np.asarray(self.rates, dtype=np.float64)[k]

    def to_list(self) -> list[list[float]]:
        return [list(self.edges), list(self.rates), [self.dispersion]]

    @classmethod
    def from_list(cls, v: Sequence[Sequence[float]]) -> MatchModel:
        disp = float(v[2][0]) if len(v) > 2 and len(v[2]) else 1.0
        return cls(tuple(float(x) for x in v[0]), tuple(float(x) for x in v[1]), disp)


def fit_match_model(
    x: FloatArray, y: FloatArray, res: float, window: int, bins: int = LEVEL_BINS
) -> MatchModel | None:
    """Learn the chance match rate of two series by level; None without common data.

    Each bin's rate has one pseudo-match added (so a rate is never zero) and is floored at 1 %.
    Matches cluster in time (two stations in the same clean air mass agree for hours), so the
    model also learns the dispersion of window counts against the binomial: the mean squared
    standardised count over disjoint windows, estimated robustly as its median over the median of
    a chi-square with one degree of freedom, at least 1. Tests then use
    ``k / dispersion`` matches out of ``n / dispersion`` (a quasi-binomial).
    """
    match = match_indicator(x, y, res)
    level = 0.5 * (x + y)
    ok = np.isfinite(match) & np.isfinite(level)
    if np.count_nonzero(ok) < bins * 20:
        return None
    edges = np.unique(np.quantile(level[ok], np.linspace(0, 1, bins + 1)[1:-1]))
    k = np.searchsorted(edges, level[ok], side="right")
    hits = np.bincount(k, weights=match[ok], minlength=len(edges) + 1)
    cnt = np.bincount(k, minlength=len(edges) + 1).astype(np.float64)
    rates = np.maximum((hits + 1.0) / (cnt + 2.0), MIN_RATE)
    model = MatchModel(tuple(float(e) for e in edges), tuple(float(r) for r in rates))
    p = model.rate(level)
    nw = len(match) // window
    if nw < 10:
        return model
    m = match[: nw * window].reshape(nw, window)
    pp = np.where(np.isfinite(m), p[: nw * window].reshape(nw, window), 0.0)
    n = np.isfinite(m).sum(axis=1).astype(np.float64)
    k = np.nansum(m, axis=1)
    mu = pp.sum(axis=1)
    var = np.maximum((pp * (1 - pp)).sum(axis=1), 1e-9)
    ok = n >= window / 2
    if np.count_nonzero(ok) < 10:
        return model
    z2 = ((k - mu) ** 2 / var)[ok]
    # median of a chi-square(1) is 0.4549: a robust dispersion that copied weeks cannot inflate
    return MatchModel(model.edges, model.rates, max(1.0, float(np.median(z2)) / CHI2_1_MEDIAN))


def _tighten(match: FloatArray, lo: int, hi: int, window: int) -> tuple[int, int]:
    """The stretch from the first to the last matching point that opens (closes) half a window
    of mostly (80 %) matching points: chance matches just outside a copy do not widen it."""
    m = np.nan_to_num(match[lo:hi])
    half = max(2, window // 2)
    pts = np.flatnonzero(m > 0)
    if pts.size == 0:
        return lo, hi
    first, last = int(pts[0]), int(pts[-1])
    for i in pts.tolist():
        if float(m[i : i + half].mean()) >= 0.8:
            first = i
            break
    for j in pts[::-1].tolist():
        if float(m[max(0, j - half + 1) : j + 1].mean()) >= 0.8:
            last = j
            break
    if last < first:
        first, last = int(pts[0]), int(pts[-1])
    return lo + first, lo + last + 1


def copied_windows(
    match: FloatArray,
    p: FloatArray,
    window: int,
    *,
    windows_per_year: float,
    budget_per_year: float,
    dispersion: float = 1.0,
) -> list[tuple[int, int, float]]:
    """Stretches where matches are too many for the chance rates ``p`` (per point):
    ``(start, stop, expected null stretches per year)``.

    Windows whose count is unusual at all (nominal expectation under one per year) are merged
    into stretches; each stretch is then tested as a whole against a binomial at its mean chance
    rate (conservative for a Poisson-binomial), with ``k / dispersion`` matches of
    ``n / dispersion``, and counted once per possible start and (log) length. Only stretches
    within ``budget_per_year`` are returned."""
    if np.any((p < 0) | (p >= 1)):
        raise InvalidParameter("p", float(np.nanmax(p)), "chance match rates in [0, 1)")
    k, n = rolling_sum(match, window)
    ps, _ = rolling_sum(np.where(np.isfinite(match), p, np.nan), window)
    with np.errstate(invalid="ignore", divide="ignore"):
        pbar = np.where(n > 0, ps / np.maximum(n, 1), 1.0)
    spread = 3 * np.sqrt(np.maximum(n * pbar * (1 - pbar), 1e-9))
    cand = (n >= window / 2) & (k >= np.maximum(3.0, 0.5 * n)) & (k > pbar * n + spread)
    idx = np.flatnonzero(cand)
    sig = np.zeros(len(match), dtype=bool)
    best: dict[int, float] = {}
    for i in idx.tolist():
        k_eff = math.ceil(k[i] / dispersion)
        n_eff = max(k_eff, round(n[i] / dispersion))
        ew = binom_sf(k_eff, n_eff, min(max(float(pbar[i]), 1e-6), 0.999)) * windows_per_year
        if ew <= LENIENT_PER_YEAR:
            sig[i] = True
            best[i] = ew
    starts, stops = runs(sig)
    starts, stops = join_runs(starts, stops, window)
    out = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        lo = max(0, a - window + 1)  # window ending at a starts here
        lo, hi = _tighten(match, lo, b, window)
        # the whole stretch, as one quasi-binomial test, counted once per possible start and length
        mk = match[lo:hi]
        ok = np.isfinite(mk)
        k_eff = math.ceil(float(np.nansum(mk)) / dispersion)
        n_eff = max(k_eff, round(float(np.count_nonzero(ok)) / dispersion))
        pbar_s = float(np.mean(p[lo:hi][ok])) if ok.any() else 0.5
        stretch = binom_sf(k_eff, n_eff, min(max(pbar_s, 1e-6), 0.999))
        starts_per_year = windows_per_year * window * max(1.0, math.log(max(hi - lo, 2)))
        exp_year = min(min(best.get(i, math.inf) for i in range(a, b)), stretch * starts_per_year)
        if exp_year <= budget_per_year:
            out.append((lo, hi, exp_year))
    return out


def relation_change(own_log: FloatArray, partner_log: FloatArray, a: int, b: int) -> float:
    """How unusual the relation of a series to its partner (the station's CO, or the other
    stations) is during [a, b), against the same relation over the station's history: the robust
    z-score of the mean log ratio plus that of its hour-to-hour erraticity, both for windows of the
    same length (absolute values: a copy can make a relation steadier as well as rougher)."""
    u = own_log - partner_log
    length = max(3, b - a)
    du = np.abs(np.diff(u, prepend=np.nan))
    total = 0.0
    for x in (u, du):
        roll = rolling_mean(x, length, min_count=max(2, length // 3))
        med, scale = location_scale(roll, floor=1e-6)
        seg = x[a:b]
        seg = seg[np.isfinite(seg)]
        if seg.size < 3 or not math.isfinite(med):
            continue
        total += abs(float(seg.mean()) - med) / scale
    return total


def splice_jumps(log_values: FloatArray, a: int, b: int, reach: int = 2) -> float:
    """The largest hour-to-hour jumps within ``reach`` points of the two ends of [a, b), in units
    of the series' median absolute jump (a spliced-in copy jumps at both ends)."""
    d = np.abs(np.diff(log_values, prepend=np.nan))
    ok = d[np.isfinite(d)]
    typical = float(np.median(ok)) if ok.size else 0.0
    if typical <= 0:
        typical = float(np.mean(ok)) if ok.size and float(np.mean(ok)) > 0 else 1.0
    total = 0.0
    for edge in (a, b):
        seg = d[max(0, edge - reach) : edge + reach + 1]
        seg = seg[np.isfinite(seg)]
        if seg.size:
            total += float(seg.max()) / typical
    return total


def copied_series(
    times: IntArray,
    values: FloatArray,
    source_values: FloatArray,
    *,
    res: float,
    station: str,
    source: str,
    parameters: Sequence[str],
    copier_margin: Callable[[int, int], float],
    model: MatchModel,
    shared: Callable[[int, int], bool] | None = None,
    budget_per_year: float = 1e-6,
) -> list[Evidence]:
    """Stretches where ``values`` agree with ``source_values`` far more often than chance.

    ``copier_margin(a, b)`` says how much more this station's own coupling worsened than the
    other station's during the points ``a .. b-1`` (positive: this station is the copier);
    evidence is returned only for stretches with a positive margin, so that only the copying
    station is reported. ``shared(a, b)`` says whether a third station also matches during the
    stretch: values common to three or more stations are a network or data-system fill, reported
    as a quality finding.

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    step = int(times[1] - times[0]) if len(times) > 1 else 3600
    per_day = max(1, 86400 // step)
    window = max(3, int(WINDOW_DAYS * per_day)) if per_day > 1 else 14
    match = match_indicator(values, source_values, res)
    p = np.minimum(model.rate(0.5 * (values + source_values)), 0.95)
    wpy = 365.25 * per_day / window
    out: list[Evidence] = []
    found = copied_windows(
        match, p, window, windows_per_year=wpy, budget_per_year=budget_per_year, dispersion=model.dispersion
    )
    for a, b, exp_year in found:
        network_fill = shared is not None and shared(a, b)
        brief = (b - a) < MIN_FRAUD_DAYS * per_day
        margin = copier_margin(a, b) if not (network_fill or brief) else 0.0
        if margin <= -DIRECTION_MARGIN:
            continue  # clearly the other station copied: it reports this stretch itself
        which_en = (
            "this station's own gases and neighbours no longer match its particles"
            if margin >= DIRECTION_MARGIN
            else "which of the two stations copied is not clear from the data: both are reported"
        )
        which_zh = (
            "本站气态污染物及邻近站点与其颗粒物不再协同变化"
            if margin >= DIRECTION_MARGIN
            else "数据无法判明两站中哪一站复制了另一站，两站均予报告"
        )
        m = match[a:b]
        rate = float(np.nanmean(m)) if np.isfinite(m).any() else 0.0
        base = float(np.nanmean(np.where(np.isfinite(m), p[a:b], np.nan))) if np.isfinite(m).any() else 0.0
        out.append(
            Evidence(
                detector="copied_series",
                station=station,
                parameters=tuple(parameters),
                start=int(times[a]),
                end=int(times[b - 1]) + step,
                pattern="copied_series",
                kind="qc" if network_fill or brief else "fraud",
                score=score_from_expected(exp_year),
                statistic=rate,
                baseline=base,
                threshold=budget_per_year,
                reason_en=(
                    f"{parameters[0]} equals station {source}'s value in {rate:.0%} of the hours "
                    f"(usually {base:.0%}); chance agreement this close is expected {exp_year:.2g} "
                    f"times per station-year; {which_en}"
                ),
                reason_zh=(
                    f"{parameters[0]}在{rate:.0%}的小时与{source}站数值完全相同（通常为{base:.0%}）；"
                    f"偶然出现的期望次数为每站每年{exp_year:.2g}次；{which_zh}"
                ),
                expected_per_year=exp_year,
                plots=(
                    plot_series(f"{station} {parameters[0]}", times, values, a - 24, b + 24),
                    plot_series(f"{source} {parameters[0]}", times, source_values, a - 24, b + 24),
                ),
            )
        )
    return out
