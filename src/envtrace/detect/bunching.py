"""Threshold shaving: daily means bunched just below the limit, with a hole just above it.

Targets the manipulation of a station's days that would exceed a daily limit by a little
(GB 3095-2012 grade II: PM2.5 75 ug/m3, PM10 150 ug/m3 as 24-hour means): their values are
scaled down so the daily mean lands just below the limit. Over weeks this leaves a density of
daily means with too much mass just below the limit and too little just above it.

Notes
-----
**With a prediction** (the station's regression on its neighbours and its own gases,
:mod:`envtrace.detect.regression`, averaged over the day's valid hours) the test asks, day by day,
where the reported mean *should* have fallen. Among the days whose reported mean lies in the band
``[L - h, L + 2h)`` (``h`` = 20 % of ``L``), the probability that a day lies below the limit is
``q_i = P(below) / P(band)`` under the station's own law of daily log residuals: their empirical
quantiles on the days predicted between half and twice the limit (the population the test is about:
high days are relatively less variable in log terms than clean ones). The prediction is first
recalibrated at the daily scale (a robust line of the daily log residual on the predicted level: a
station may read relatively higher than its neighbours on clean days and lower on polluted ones),
and each day is centred on what the station read against its prediction over the preceding month (a
slow drift of the station against its neighbours is not bunching; shaved days in that month only
make the test more conservative). Shaved days sit just below the limit while their prediction says
above it, so their ``q_i`` are small. The count of band days below the limit is a sum of
independent Bernoulli(``q_i``) under the null (Poisson-binomial, exact recursion); the dependence
between days is folded in by the station's own dispersion of the standardised count (quasi-
likelihood: the mean of its square, each clipped at 9, over the 30-day windows with fewer days
below the limit than expected, which a shave cannot have produced). This is McCrary's (2008, J.
Econometrics 142:698) density-discontinuity idea made conditional on the covariates: the
unconditional density near a limit also bunches naturally in a clean season, the conditional one
does not.

**Without a prediction** (a station without correlated neighbours) the unconditional count form
is used: days in ``[L - h, L)`` vs ``[L, L + h)``, the expected lower share ``p0`` from the
station's own long-run density, linearly interpolated from the neighbouring bands ``[L - 3h,
L - h)`` and ``[L + h, L + 3h)`` (so a falling density above the median is allowed for); binomial
tail.

Either way windows of 60 and 120 days are scanned, a tail probability multiplied by the windows per
year below the budget is evidence, and the evidence is tightened to the sub-stretch with the
smallest tail (a scan statistic). Daily means need 20 valid hours (HJ 663-2013 / GB 3095-2012
data validity).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence, plot_series
from envtrace.detect.regression import huber_regression
from envtrace.detect.robust import (
    BoolArray,
    FloatArray,
    IntArray,
    binom_sf,
    join_runs,
    normal_sf,
    poisson_binomial_sf,
    rolling_sum,
    runs,
    score_from_expected,
)

BANDWIDTH = 0.2
#: The band above the limit spans this many bandwidths in the conditional test (the days a little
#: above the limit are the ones a shave moves).
ABOVE_BANDWIDTHS = 2
WINDOWS_DAYS = (60, 120)
MIN_BAND_DAYS = 8
#: Quantiles of the daily log residual kept in the baseline (its empirical law).
RESIDUAL_QUANTILES = 101
#: A single day's conditional probability is kept within these bounds (the empirical law has no
#: resolution beyond its extreme quantiles).
Q_BOUNDS = (0.02, 0.98)
#: The reference of a band day's residual: the days from this many days before to this many
#: after (the live detector settles a finding after four days), at least this many.
OFFSET_DAYS = 30
OFFSET_AHEAD_DAYS = 3
MIN_OFFSET_DAYS = 5
#: The residual law is learned on the days predicted within these multiples of the limit (when
#: there are at least :data:`MIN_NEAR_DAYS` of them).
NEAR_LIMIT = (0.5, 2.0)
MIN_NEAR_DAYS = 60
#: Windows (non-overlapping, of this many days) over which the dispersion is learned, and how
#: many of them are needed.
DISPERSION_WINDOW_DAYS = 30
MIN_DISPERSION_WINDOWS = 6


@dataclass(frozen=True, slots=True)
class BunchingBaseline:
    """The expected share of the band just below the limit under a smooth density."""

    limit: float
    bandwidth: float
    p0: float
    residual_quantiles: tuple[float, ...] = ()
    dispersion: float = 1.0
    calibration: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def to_dict(self) -> dict[str, object]:
        return {
            "limit": self.limit,
            "bandwidth": self.bandwidth,
            "p0": self.p0,
            "residual_quantiles": list(self.residual_quantiles),
            "dispersion": self.dispersion,
            "calibration": list(self.calibration),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> BunchingBaseline:
        q = d.get("residual_quantiles")
        cal = d.get("calibration")
        calibration = (0.0, 0.0, 0.0)
        if isinstance(cal, list) and len(cal) == 3:
            calibration = (float(cal[0]), float(cal[1]), float(cal[2]))
        return cls(
            float(str(d["limit"])),
            float(str(d["bandwidth"])),
            float(str(d["p0"])),
            tuple(float(x) for x in q) if isinstance(q, list) else (),
            float(str(d.get("dispersion", 1.0))),
            calibration,
        )

    def expected(self, predicted: FloatArray) -> FloatArray:
        """``log(1 + y)`` expected from the predicted daily mean: the prediction recalibrated at
        the daily scale (a station reads relatively higher than its neighbours on clean days and
        lower on polluted ones, or the reverse)."""
        a, b, x0 = self.calibration
        x = np.log1p(np.maximum(predicted, 0.0))
        return np.asarray(x + a + b * (x - x0), dtype=np.float64)

    def residual(self, daily: FloatArray, predicted: FloatArray) -> FloatArray:
        """Daily log residual against :meth:`expected` (NaN where either is missing)."""
        with np.errstate(invalid="ignore"):
            return np.log1p(np.maximum(daily, 0.0)) - self.expected(predicted)

    def cdf(self, x: FloatArray) -> FloatArray:
        """The station's law of centred daily log residuals, from its stored quantiles."""
        qs = np.asarray(self.residual_quantiles)
        probs = np.linspace(0.0, 1.0, len(qs))
        return np.asarray(np.interp(x, qs, probs, left=0.0, right=1.0), dtype=np.float64)


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


def daily_log_residual(daily: FloatArray, predicted: FloatArray) -> FloatArray:
    """``log(1 + y) - log(1 + y_hat)`` of daily means (NaN where either is missing)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log1p(np.maximum(daily, 0.0)) - np.log1p(np.maximum(predicted, 0.0))


def _band_probabilities(
    baseline: BunchingBaseline, predicted: FloatArray, offset: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """P(lower band) and P(upper band) of each day under the residual law centred on ``offset``."""
    lim, h = baseline.limit, baseline.bandwidth
    pr = baseline.expected(predicted) + offset
    f_lo = baseline.cdf(math.log1p(lim - h) - pr)
    f_mid = baseline.cdf(math.log1p(lim) - pr)
    f_hi = baseline.cdf(math.log1p(lim + ABOVE_BANDWIDTHS * h) - pr)
    return f_mid - f_lo, f_hi - f_mid


def _bands(
    daily: FloatArray, predicted: FloatArray, baseline: BunchingBaseline
) -> tuple[BoolArray, BoolArray]:
    lim, h = baseline.limit, baseline.bandwidth
    ok = np.isfinite(daily) & np.isfinite(predicted)
    below = ok & (daily >= lim - h) & (daily < lim)
    above = ok & (daily >= lim) & (daily < lim + ABOVE_BANDWIDTHS * h)
    return below, above


def conditional_tail(n_below: int, q: FloatArray, dispersion: float) -> float:
    """P(at least ``n_below`` of the band days below the limit) under the null: Poisson-binomial,
    or the normal tail with the variance inflated by ``dispersion`` when that is larger."""
    p = poisson_binomial_sf(n_below, q)
    if dispersion > 1.0:
        var = float(np.sum(q * (1.0 - q))) * dispersion
        if var > 0:
            p = max(p, normal_sf((n_below - float(q.sum())) / math.sqrt(var)))
    return p


def fit_conditional_bunching(
    days: IntArray, daily: FloatArray, predicted: FloatArray, baseline: BunchingBaseline
) -> BunchingBaseline:
    """Add the daily recalibration of the prediction, the station's law of daily log residuals
    near the limit and the dispersion of the conditional count (over non-overlapping 30-day
    windows) to an unconditional baseline."""
    r = daily_log_residual(daily, predicted)
    ok = np.isfinite(r)
    if np.count_nonzero(ok) < 60:
        return baseline
    x = np.log1p(np.maximum(predicted, 0.0))
    x0 = float(np.median(x[ok]))
    design = np.column_stack([np.ones(np.count_nonzero(ok)), x[ok] - x0])
    intercept, slope = (float(v) for v in huber_regression(design, r[ok]))
    calibration = (intercept, slope, x0)
    cal = BunchingBaseline(baseline.limit, baseline.bandwidth, baseline.p0, calibration=calibration)
    r = cal.residual(daily, predicted)
    # the law that matters is that of the days predicted near the limit (high days are relatively
    # less variable in log terms than clean ones)
    lim = baseline.limit
    near = ok & (predicted >= NEAR_LIMIT[0] * lim) & (predicted <= NEAR_LIMIT[1] * lim)
    if np.count_nonzero(near) >= MIN_NEAR_DAYS:
        ok = near
    centre = float(np.median(r[ok]))
    qs = tuple(float(x) for x in np.quantile(r[ok] - centre, np.linspace(0.0, 1.0, RESIDUAL_QUANTILES)))
    bl = BunchingBaseline(baseline.limit, baseline.bandwidth, baseline.p0, qs, 1.0, calibration)
    below, above, q_all = _day_q(bl, days, daily, predicted)
    band = below | above
    w = DISPERSION_WINDOW_DAYS
    z2 = []
    for i in range(w, len(daily) + 1, w):
        sel = np.arange(i - w, i)
        b = sel[band[sel]]
        if b.size < 4:
            continue
        q = q_all[b]
        var = float(np.sum(q * (1.0 - q)))
        excess = float(below[b].sum()) - float(q.sum())
        # only windows with fewer days below than expected: a shave can only add days below, so
        # the manipulated windows of a history do not inflate the dispersion
        if var > 0 and excess <= 0:
            z2.append(min(excess**2 / var, 9.0))
    dispersion = max(1.0, float(np.mean(z2))) if len(z2) >= MIN_DISPERSION_WINDOWS else 1.0
    return BunchingBaseline(baseline.limit, baseline.bandwidth, baseline.p0, qs, dispersion, calibration)


def _local_offsets(r: FloatArray, band: BoolArray) -> FloatArray:
    """For each band day, the median residual over the preceding :data:`OFFSET_DAYS` days and the
    next :data:`OFFSET_AHEAD_DAYS`: what the station reads against its prediction at the time (a
    slow drift against the neighbours is not bunching). Shaved days in that range pull it down,
    which only makes the test more conservative."""
    out = np.full(len(r), np.nan)
    for i in np.flatnonzero(band).tolist():
        seg = r[max(0, i - OFFSET_DAYS) : min(len(r), i + OFFSET_AHEAD_DAYS + 1)]
        ok = np.isfinite(seg)
        out[i] = float(np.median(seg[ok])) if np.count_nonzero(ok) >= MIN_OFFSET_DAYS else 0.0
    return out


def _day_q(
    baseline: BunchingBaseline, days: IntArray, daily: FloatArray, predicted: FloatArray
) -> tuple[BoolArray, BoolArray, FloatArray]:
    """Lower- and upper-band days and each band day's conditional probability of the lower band."""
    below, above = _bands(daily, predicted, baseline)
    band = below | above
    q = np.full(len(daily), np.nan)
    idx = np.flatnonzero(band)
    if idx.size:
        off = _local_offsets(baseline.residual(daily, predicted), band)[idx]
        pb, pa = _band_probabilities(baseline, predicted[idx], off)
        qq = pb / np.maximum(pb + pa, 1e-12)
        q[idx] = np.clip(np.where(pb + pa > 0, qq, 0.5), *Q_BOUNDS)
    return below, above, q


def _tightest_conditional(
    below: BoolArray, band_idx: IntArray, q: FloatArray, dispersion: float
) -> tuple[int, int, float] | None:
    """The stretch between two lower-band days with the smallest conditional tail."""
    lower = [k for k, i in enumerate(band_idx.tolist()) if below[i]]
    if not lower:
        return None
    cb = np.concatenate(([0], np.cumsum(below[band_idx].astype(np.int64))))
    best: tuple[float, int, int] | None = None
    for ka in lower:
        for kb in lower:
            if kb < ka:
                continue
            n = kb - ka + 1
            if n < MIN_BAND_DAYS:
                continue
            a = int(cb[kb + 1] - cb[ka])
            qq = q[ka : kb + 1]
            if a <= float(qq.sum()):
                continue
            p = conditional_tail(a, qq, dispersion)
            if best is None or p < best[0]:
                best = (p, ka, kb)
    if best is None:
        return None
    return int(band_idx[best[1]]), int(band_idx[best[2]]) + 1, best[0]


def predicted_bunching(
    days: IntArray,
    daily: FloatArray,
    predicted: FloatArray,
    baseline: BunchingBaseline,
    *,
    station: str,
    parameters: Sequence[str],
    utc_offset_s: int,
    budget_per_year: float = 1e-3,
) -> list[Evidence]:
    """Stretches where days predicted above the limit report just below it (see the notes).

    ``predicted`` are the predicted daily means on the same ``days``.

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    if not baseline.residual_quantiles:
        return limit_bunching(
            days,
            daily,
            baseline,
            station=station,
            parameters=parameters,
            utc_offset_s=utc_offset_s,
            budget_per_year=budget_per_year,
        )
    lim, h = baseline.limit, baseline.bandwidth
    below, above, q_all = _day_q(baseline, days, daily, predicted)
    band = below | above
    n = len(daily)
    sig = np.zeros(n, dtype=bool)
    best = np.full(n, math.inf)
    per_year = 2.0 * 365.25 * len(WINDOWS_DAYS)
    for w in WINDOWS_DAYS:
        nb, _ = rolling_sum(band.astype(np.float64), w)
        na, _ = rolling_sum(below.astype(np.float64), w)
        for i in np.flatnonzero((nb >= MIN_BAND_DAYS) & (na > 0)).tolist():
            lo = max(0, i - w + 1)
            idx = lo + np.flatnonzero(band[lo : i + 1])
            q = q_all[idx]
            a = int(na[i])
            if a <= float(q.sum()):
                continue
            e = conditional_tail(a, q, baseline.dispersion) * per_year / w
            if e <= budget_per_year:
                sig[lo : i + 1] = True
                best[lo : i + 1] = np.minimum(best[lo : i + 1], e)
    s, e_ = runs(sig)
    s, e_ = join_runs(s, e_, 7)
    out: list[Evidence] = []
    for a0, b0 in zip(s.tolist(), e_.tolist(), strict=True):
        idx = a0 + np.flatnonzero(band[a0:b0])
        q = q_all[idx]
        tight = _tightest_conditional(below, idx, q, baseline.dispersion)
        if tight is None:
            continue
        lo, hi, _ = tight
        n_below = int(below[lo:hi].sum())
        n_above = int(above[lo:hi].sum())
        sel = (idx >= lo) & (idx < hi)
        expected_below = float(q[sel].sum())
        exp_year = float(np.min(best[a0:b0]))
        over = int(np.count_nonzero(below[lo:hi] & (predicted[lo:hi] >= lim)))
        t0 = int(days[lo]) * 86400 - utc_offset_s
        t1 = int(days[hi - 1] + 1) * 86400 - utc_offset_s
        top = lim + ABOVE_BANDWIDTHS * h
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
                statistic=float(n_below),
                baseline=expected_below,
                threshold=budget_per_year,
                reason_en=(
                    f"{n_below} daily means of {parameters[0]} fell in [{lim - h:.4g}, {lim:.4g}) just below "
                    f"the limit and {n_above} in [{lim:.4g}, {top:.4g}) above it; what the neighbours and "
                    f"the station's own gases indicate puts {expected_below:.1f} of these days below "
                    f"({over} of them were predicted at or above the limit); a pile-up this strong is "
                    f"expected {exp_year:.2g} times per station-year"
                ),
                reason_zh=(
                    f"{parameters[0]}日均值有{n_below}天落在限值以下区间[{lim - h:.4g}, {lim:.4g})，"
                    f"{n_above}天落在限值以上区间[{lim:.4g}, {top:.4g})；按邻近站点及本站气态污染物推算，"
                    f"这些天中应只有{expected_below:.1f}天低于限值（其中{over}天推算值达到或超过限值）；"
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
                    plot_series(
                        f"{parameters[0]} daily mean predicted",
                        (days.astype(np.int64) * 86400 - utc_offset_s).astype(np.int64),
                        predicted,
                        lo - 15,
                        hi + 15,
                    ),
                ),
            )
        )
    return out
