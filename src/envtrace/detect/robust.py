"""Robust statistics, rolling windows, runs and tail probabilities shared by the detectors.

Everything here is vectorised numpy or closed-form scalar maths; nothing depends on scipy.

Notes
-----
Calibration of false alarms follows the peaks-over-threshold method (Pickands 1975; Davison &
Smith 1990): a detector's statistic is standardised against the station's own history, its
excursions beyond a base level are summarised by their mass (integrated excess), and the masses
above their median are modelled as exponential. The scale is estimated from the 80th percentile of
the excesses, which is insensitive to the few contaminated excursions a history may hold and
larger than the median-based estimate when the tail is heavier than exponential (so the model errs
towards fewer alarms). An excursion is reported when the expected number of null excursions at
least as large, per station-year, falls below the detector's budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from envtrace.detect.errors import InvalidParameter

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Consistency constant of the MAD for a normal distribution (1 / Phi^-1(3/4)).
MAD_TO_SIGMA = 1.482602218505602
HOURS_PER_YEAR = 8766.0


def location_scale(x: FloatArray, floor: float = 1e-9) -> tuple[float, float]:
    """Median and normal-consistent MAD of the finite values of ``x`` (``(nan, nan)`` if none)."""
    v = x[np.isfinite(x)]
    if v.size == 0:
        return math.nan, math.nan
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med))) * MAD_TO_SIGMA
    return med, max(mad, floor)


def rolling_sum(x: FloatArray, window: int, *, center: bool = False) -> tuple[FloatArray, FloatArray]:
    """Sum and count of the finite values in each window of ``window`` points.

    With ``center`` False the window ends at each point (trailing, causal); with ``center`` True
    it is centred (``window // 2`` points before). Points outside the array count as missing.
    """
    if window < 1:
        raise InvalidParameter("window", window, "an integer >= 1")
    ok = np.isfinite(x)
    cs = np.concatenate(([0.0], np.cumsum(np.where(ok, x, 0.0))))
    cn = np.concatenate(([0.0], np.cumsum(ok.astype(np.float64))))
    i = np.arange(len(x))
    first = i - window // 2 if center else i - window + 1
    start = np.clip(first, 0, len(x))
    end = np.clip(first + window, 0, len(x))
    return cs[end] - cs[start], cn[end] - cn[start]


def rolling_mean(x: FloatArray, window: int, *, min_count: int = 1, center: bool = False) -> FloatArray:
    """Mean of the finite values in each window; NaN where fewer than ``min_count`` are finite."""
    s, c = rolling_sum(x, window, center=center)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s / c
    return np.where(c >= max(1, min_count), m, np.nan)


def runs(mask: BoolArray) -> tuple[IntArray, IntArray]:
    """Start and stop (exclusive) indices of the runs of True in ``mask``."""
    m = np.asarray(mask, dtype=np.int8)
    if m.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    d = np.diff(np.concatenate(([0], m, [0])))
    return np.flatnonzero(d == 1).astype(np.int64), np.flatnonzero(d == -1).astype(np.int64)


def join_runs(starts: IntArray, stops: IntArray, gap: int) -> tuple[IntArray, IntArray]:
    """Merge runs separated by at most ``gap`` points."""
    if len(starts) == 0:
        return starts, stops
    keep = np.concatenate(([True], starts[1:] - stops[:-1] > gap))
    new_starts = starts[keep]
    idx = np.flatnonzero(keep)
    new_stops = stops[np.concatenate((idx[1:] - 1, [len(stops) - 1]))]
    return new_starts, new_stops


def segment_reduce(ufunc: np.ufunc, values: FloatArray, starts: IntArray, stops: IntArray) -> FloatArray:
    """``ufunc.reduce(values[a:b])`` for each non-empty, sorted, non-overlapping segment."""
    if len(starts) == 0:
        return np.zeros(0)
    idx = np.ravel(np.column_stack([starts, stops]))
    if idx[-1] >= len(values):
        idx = idx[:-1]
    red = ufunc.reduceat(values, idx)
    return np.asarray(red[0::2][: len(starts)], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Excursion:
    """A run of points where a standardised statistic lies beyond a base level."""

    start: int
    stop: int
    mass: float
    peak: float


def excursions(z: FloatArray, base: float, *, max_gap: int = 0) -> list[Excursion]:
    """Runs where ``z > base``; mass = sum of ``z - base`` over the run (NaN breaks nothing
    shorter than ``max_gap`` points)."""
    above = np.isfinite(z) & (z > base)
    starts, stops = runs(above)
    if max_gap > 0:
        starts, stops = join_runs(starts, stops, max_gap)
    if len(starts) == 0:
        return []
    excess = np.where(above, z - base, 0.0)
    cs = np.concatenate(([0.0], np.cumsum(excess)))
    zz = np.where(np.isfinite(z), z, -np.inf)
    out = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        out.append(Excursion(a, b, float(cs[b] - cs[a]), float(np.max(zz[a:b]))))
    return out


@dataclass(frozen=True, slots=True)
class ExcursionTail:
    """Exponential tail of excursion masses (peaks over threshold at the median mass).

    ``expected_per_year(m)`` is the expected number of null excursions per station-year whose mass
    is at least ``m``.
    """

    threshold: float
    beta: float
    rate_per_year: float

    def expected_per_year(self, mass: float) -> float:
        if not math.isfinite(mass):
            return math.inf
        if mass <= self.threshold:
            return self.rate_per_year * 2.0
        return self.rate_per_year * math.exp(-(mass - self.threshold) / self.beta)

    def to_list(self) -> list[float]:
        return [self.threshold, self.beta, self.rate_per_year]

    @classmethod
    def from_list(cls, v: Sequence[float]) -> ExcursionTail:
        return cls(float(v[0]), float(v[1]), float(v[2]))


def fit_excursion_tail(
    masses: Sequence[float],
    years: float,
    *,
    prior_beta: float = 1.0,
    min_beta: float = 1e-6,
    threshold_quantile: float = 0.5,
) -> ExcursionTail:
    """Fit the exponential tail of excursion masses observed over ``years`` station-years.

    The threshold is the median mass (or its ``threshold_quantile``: a higher threshold fits the
    exponential to the upper tail only, which errs towards fewer alarms when the masses' tail is
    heavier than exponential); the scale comes from the 80th percentile of the excesses
    over it once their largest tenth is set aside (an exponential's quantile ``p`` is
    ``-beta ln(1 - p)``). With fewer than eight
    excursions above the median the history says little about the tail beyond the fact that
    excursions are rare; the threshold is then 0 (every excursion counts) and the scale is
    ``prior_beta``, the mass scale a Gaussian statistic with
    the series' correlation length would give (see :func:`prior_mass_scale`), so that a clean
    history does not make its own first anomaly look ordinary.
    """
    if years <= 0:
        raise InvalidParameter("years", years, "a positive number of station-years")
    if prior_beta <= 0:
        raise InvalidParameter("prior_beta", prior_beta, "a positive mass scale")
    m = np.sort(np.asarray([x for x in masses if math.isfinite(x)], dtype=np.float64))
    if m.size == 0:
        return ExcursionTail(0.0, max(min_beta, prior_beta), 1.0 / years)
    if not 0.0 < threshold_quantile < 1.0:
        raise InvalidParameter("threshold_quantile", threshold_quantile, "a probability in (0, 1)")
    thr = float(np.quantile(m, threshold_quantile))
    exc = m[m > thr] - thr
    if exc.size < 8:
        # rare excursions: model every excursion's mass from the base level with the prior scale
        return ExcursionTail(0.0, max(prior_beta, min_beta), max(float(m.size), 1.0) / years)
    # the largest tenth of the excesses (at least one) is left out: a history's biggest excursions
    # are where its own manipulations would be, and they must not set the yardstick; the 80th
    # percentile of the rest is the exponential's quantile 0.8 x 0.9 = 0.72
    keep = np.sort(exc)[: exc.size - max(1, math.ceil(0.1 * exc.size))]
    beta = float(np.quantile(keep, 0.8)) / -math.log(1.0 - 0.8 * keep.size / exc.size)
    rate = max(float(np.count_nonzero(m >= thr)), 1.0) / years
    return ExcursionTail(thr, max(beta, min_beta), rate)


def correlation_length(z: FloatArray) -> float:
    """``(1 + rho) / (1 - rho)`` for the lag-one correlation ``rho`` of ``z`` (values clipped at
    +-4 so that a few extremes do not set it), at least 1."""
    a, b = z[:-1], z[1:]
    ok = np.isfinite(a) & np.isfinite(b)
    if np.count_nonzero(ok) < 30:
        return 1.0
    ca = np.clip(a[ok], -4, 4)
    cb = np.clip(b[ok], -4, 4)
    ca = ca - ca.mean()
    cb = cb - cb.mean()
    den = math.sqrt(float((ca * ca).sum()) * float((cb * cb).sum()))
    rho = float((ca * cb).sum()) / den if den > 0 else 0.0
    rho = min(max(rho, 0.0), 0.99)
    return (1.0 + rho) / (1.0 - rho)


def prior_mass_scale(z: FloatArray, base: float) -> float:
    """Mass scale of excursions beyond ``base`` for a Gaussian series with ``z``'s correlation
    length: the mean excess of a normal beyond ``base`` (about ``1 / base``) times the length."""
    return correlation_length(z) / max(base, 1.0)


def erlang_sf(x: float, n: int, beta: float) -> float:
    """P(X >= x) for X the sum of ``n`` independent exponentials of scale ``beta``."""
    if x <= 0:
        return 1.0
    lam = x / beta
    # P(Poisson(lam) <= n-1)
    terms = [i * math.log(lam) - lam - math.lgamma(i + 1) for i in range(n)]
    return min(1.0, sum(math.exp(t) for t in terms))


def cluster_expected_per_year(excesses: Sequence[float], tail: ExcursionTail, window_years: float) -> float:
    """Expected null windows per year whose excursions add up to at least ``sum(excesses)``.

    The excursions over the tail threshold in a window of ``window_years`` are a compound
    Poisson sum of exponential excesses (rate and scale from ``tail``); overlapping windows are
    counted with a factor 2 (a simple scan-statistic correction).
    """
    if window_years <= 0:
        raise InvalidParameter("window_years", window_years, "a positive duration in years")
    s = float(sum(excesses))
    mu = tail.rate_per_year * window_years
    p = 0.0
    n_max = max(len(excesses) * 4, int(mu * 4) + 10)
    for n in range(1, n_max + 1):
        w = math.exp(n * math.log(mu) - mu - math.lgamma(n + 1)) if mu > 0 else 0.0
        if w < 1e-300:
            if n > mu:
                break
            continue
        p += w * erlang_sf(s, n, tail.beta)
    return 2.0 * min(1.0, p) / window_years


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def poisson_sf(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu)."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    # 1 - P(X <= k-1), summed in log space from the mode outwards for accuracy in both tails
    cdf_terms = [i * math.log(mu) - mu - math.lgamma(i + 1) for i in range(k)]
    cdf = sum(math.exp(t) for t in cdf_terms)
    if cdf < 0.5:
        return 1.0 - cdf
    tail = 0.0
    i = k
    while True:
        t = math.exp(i * math.log(mu) - mu - math.lgamma(i + 1))
        tail += t
        if t < tail * 1e-16 or i > k + 10000:
            break
        i += 1
    return min(1.0, tail)


def negbin_sf(k: int, mu: float, dispersion: float) -> float:
    """P(X >= k) for a negative binomial of mean ``mu`` and variance ``dispersion * mu``."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    if dispersion <= 1.0:
        return poisson_sf(k, mu)
    r = mu / (dispersion - 1.0)
    p = r / (r + mu)
    lp, lq = math.log(p), math.log1p(-p)
    cdf = 0.0
    for i in range(k):
        cdf += math.exp(math.lgamma(i + r) - math.lgamma(r) - math.lgamma(i + 1) + r * lp + i * lq)
    return min(1.0, max(0.0, 1.0 - cdf))


def score_from_expected(expected: float) -> float:
    """Score in [0, 1] from the expected number of null events per station-year this extreme.

    ``exp(-expected)`` is the probability that a station-year under the null shows none.
    """
    if not math.isfinite(expected):
        return 0.0
    return float(min(1.0, max(0.0, math.exp(-max(0.0, expected)))))


def daily_index(times: IntArray, utc_offset_s: int) -> IntArray:
    """Local calendar-day number of each instant (days since 1970-01-01, local time)."""
    return np.floor_divide(times + utc_offset_s, 86400).astype(np.int64)


def daily_means(
    values: FloatArray, times: IntArray, utc_offset_s: int, *, min_count: int
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Local days, daily means and counts (mean NaN where fewer than ``min_count`` values)."""
    day = daily_index(times, utc_offset_s)
    d0 = int(day[0]) if len(day) else 0
    k = day - d0
    nd = int(k[-1]) + 1 if len(k) else 0
    ok = np.isfinite(values)
    s = np.bincount(k[ok], weights=values[ok], minlength=nd)
    c = np.bincount(k[ok], minlength=nd).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s / c
    m = np.where(c >= min_count, m, np.nan)
    return np.arange(d0, d0 + nd, dtype=np.int64), m, c


MONTH_DAYS = 365.2425 / 12


def month_position(times: IntArray, utc_offset_s: int) -> FloatArray:
    """Position in the year in months (0 = 1 January 00:00 local, 12 = the next 1 January)."""
    days = (times + utc_offset_s) / 86400.0
    return np.asarray(np.mod(days / MONTH_DAYS, 12.0), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SeasonalProfile:
    """Twelve monthly medians of a statistic, interpolated cyclically between month centres."""

    medians: tuple[float, ...]

    def value(self, times: IntArray, utc_offset_s: int) -> FloatArray:
        pos = month_position(times, utc_offset_s)
        centres = np.arange(-0.5, 13.0, 1.0)
        m = np.asarray(self.medians)
        vals = np.concatenate(([m[-1]], m, [m[0]]))
        return np.asarray(np.interp(pos, centres, vals), dtype=np.float64)

    def to_list(self) -> list[float]:
        return list(self.medians)

    @classmethod
    def from_list(cls, v: Sequence[float]) -> SeasonalProfile:
        return cls(tuple(float(x) for x in v))


def fit_seasonal_profile(
    x: FloatArray, times: IntArray, utc_offset_s: int, *, min_points: int
) -> SeasonalProfile:
    """Monthly medians of ``x`` over all years (the overall median for thin months)."""
    month = np.floor(month_position(times, utc_offset_s)).astype(np.int64) % 12
    ok = np.isfinite(x)
    overall = float(np.median(x[ok])) if ok.any() else 0.0
    meds = []
    for m in range(12):
        sel = ok & (month == m)
        meds.append(float(np.median(x[sel])) if np.count_nonzero(sel) >= min_points else overall)
    return SeasonalProfile(tuple(meds))


def resolution(values: FloatArray) -> float:
    """Reporting resolution: the smallest clearly positive step between distinct values."""
    v = values[np.isfinite(values)]
    if v.size < 2:
        return 0.0
    u = np.unique(np.round(v, 9))
    if u.size < 2:
        return 0.0
    d = np.diff(u)
    d = d[d > 1e-9]
    if d.size == 0:
        return 0.0
    return float(np.quantile(d, 0.02)) if d.size > 50 else float(np.min(d))


@dataclass(frozen=True, slots=True)
class ScaleTable:
    """Robust scale of a statistic by quantile bins of two covariates (heteroscedastic noise).

    ``edges_a`` and ``edges_b`` are the inner bin edges (quantiles of each covariate on the
    history); ``table`` is row-major ``len(edges_a) + 1`` by ``len(edges_b) + 1`` MADs. Points
    whose covariates are unknown get the largest scale (the least informative assumption).
    """

    edges_a: tuple[float, ...]
    edges_b: tuple[float, ...]
    table: tuple[float, ...]

    def value(self, a: FloatArray, b: FloatArray) -> FloatArray:
        na, nb = len(self.edges_a) + 1, len(self.edges_b) + 1
        t = np.asarray(self.table, dtype=np.float64).reshape(na, nb)
        ia = np.digitize(np.nan_to_num(a, nan=0.0), np.asarray(self.edges_a))
        ib = np.digitize(np.nan_to_num(b, nan=0.0), np.asarray(self.edges_b))
        out = t[ia, ib]
        return np.asarray(np.where(np.isfinite(a) & np.isfinite(b), out, float(t.max())), dtype=np.float64)

    def to_list(self) -> list[list[float]]:
        return [list(self.edges_a), list(self.edges_b), list(self.table)]

    @classmethod
    def from_list(cls, v: Sequence[Sequence[float]]) -> ScaleTable:
        return cls(
            tuple(float(x) for x in v[0]), tuple(float(x) for x in v[1]), tuple(float(x) for x in v[2])
        )


def fit_scale_table(
    x: FloatArray, a: FloatArray, b: FloatArray, *, bins: int = 5, min_points: int = 50, floor: float = 1e-3
) -> ScaleTable:
    """MAD of ``x`` (about its overall median) in ``bins`` x ``bins`` quantile cells of ``a`` and
    ``b``; a thin cell takes the largest scale of the table."""
    ok = np.isfinite(x) & np.isfinite(a) & np.isfinite(b)
    if np.count_nonzero(ok) < min_points:
        _, s = location_scale(x, floor=floor)
        s = s if math.isfinite(s) else 1.0
        return ScaleTable((), (), (s,))
    probs = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    ea = tuple(float(v) for v in np.unique(np.quantile(a[ok], probs)))
    eb = tuple(float(v) for v in np.unique(np.quantile(b[ok], probs)))
    ia = np.digitize(a[ok], np.asarray(ea))
    ib = np.digitize(b[ok], np.asarray(eb))
    xs = x[ok] - float(np.median(x[ok]))
    na, nb = len(ea) + 1, len(eb) + 1
    t = np.full((na, nb), np.nan)
    for i in range(na):
        for j in range(nb):
            sel = (ia == i) & (ib == j)
            if np.count_nonzero(sel) >= min_points:
                t[i, j] = max(float(np.median(np.abs(xs[sel]))) * MAD_TO_SIGMA, floor)
    if not np.isfinite(t).any():
        _, s = location_scale(x, floor=floor)
        return ScaleTable((), (), (s,))
    t = np.where(np.isfinite(t), t, float(np.nanmax(t)))
    return ScaleTable(ea, eb, tuple(float(v) for v in t.ravel()))


def rolling_mean_scale(z: FloatArray, length: int) -> tuple[float, float]:
    """Median and robust scale (normal-consistent MAD) of the means of ``z`` over ``length``
    consecutive points (half-overlapping windows): the standard error of a stretch mean learned on
    the series' own history, whatever the dependence of ``z``."""
    m = rolling_mean(z, length, min_count=max(1, length // 2))[:: max(1, length // 2)]
    m = m[np.isfinite(m)]
    if m.size < 20:
        return 0.0, math.inf
    med, s = location_scale(m, floor=1e-6)
    return med, s


def negbin_pmf(n: int, mu: float, dispersion: float) -> float:
    """P(N = n) for a negative binomial of mean ``mu`` and variance ``dispersion * mu`` (Poisson
    for ``dispersion`` <= 1)."""
    if mu <= 0:
        return 1.0 if n == 0 else 0.0
    if dispersion <= 1.0 + 1e-9:
        return math.exp(n * math.log(mu) - mu - math.lgamma(n + 1))
    r = mu / (dispersion - 1.0)
    p = r / (r + mu)
    return math.exp(
        math.lgamma(n + r) - math.lgamma(r) - math.lgamma(n + 1) + r * math.log(p) + n * math.log1p(-p)
    )


def compound_negbin_sf(total: float, mu: float, dispersion: float) -> float:
    """P(S >= total) for S a sum of N standard exponentials, N negative binomial (``mu``,
    ``dispersion``): the null of the summed excesses of a window whose excursion counts cluster."""
    if total <= 0:
        return 1.0
    p = 0.0
    n_max = int(max(total, mu) * 4 + 20 * max(1.0, dispersion))
    for n in range(1, n_max + 1):
        w = negbin_pmf(n, mu, dispersion)
        if w < 1e-300:
            if n > mu * dispersion + 10:
                break
            continue
        p += w * erlang_sf(total, n, 1.0)
    return min(1.0, p)


def poisson_binomial_sf(k: int, probs: FloatArray) -> float:
    """P(X >= k) for X a sum of independent Bernoulli(``probs``) (exact recursion)."""
    if k <= 0:
        return 1.0
    if k > len(probs):
        return 0.0
    dp = np.zeros(len(probs) + 1)
    dp[0] = 1.0
    for i, p in enumerate(probs.tolist()):
        dp[1 : i + 2] = dp[1 : i + 2] * (1.0 - p) + dp[: i + 1] * p
        dp[0] *= 1.0 - p
    return float(min(1.0, max(0.0, dp[k:].sum())))
