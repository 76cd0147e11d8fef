"""Selective deletion: gaps that fall where the level would have been highest.

Targets the deletion of a station's worst hours (the highest PM2.5, or a unit's highest load or
emission hours), sometimes behind a fault flag, so that what is left complies and the gaps look
like ordinary missing data.

Notes
-----
Ordinary gaps (power cuts, analyser faults, communication losses) are missing at random with
respect to the level; selective deletion is missing *not* at random, with the missingness rising
with the expected level (Rubin 1976's MNAR). The expected level of a missing hour is read from
proxies that survive the deletion: the neighbours' prediction and the station's own gases for
ambient air; the unit load and the values either side of a short gap for a flue. For every
missing hour the rank ``u`` of its proxy among the proxies of the station's *present* hours
within three days is formed (0..1); under missing at random ``u`` is uniform, and the mean ``u``
of a run of consecutive missing hours exceeds 0.7 with probability at most 0.3. A gap run with
mean ``u >= 0.7`` is a *high gap*. The station's own rate of high gaps per month (median over its
months, at least half a gap per month and at least 30 % of its rate of gaps) is the null rate;
in 14- and 28-day windows the count of high gaps is compared with a negative binomial of that
mean and of the station's own dispersion of monthly counts (gaps cluster: a failing analyser
leaves several), and windows whose tail probability times the windows per year is below the
budget are evidence. Real gaps are less regular than any such law (a haze episode that clogs
an inlet deletes nothing on purpose), so the nominal evidence ``T = -ln(expected windows per
year)`` of each stretch is finally calibrated on the station's own history by peaks over
threshold (scale 1 when the law holds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence, plot_series
from envtrace.detect.robust import (
    BoolArray,
    ExcursionTail,
    FloatArray,
    IntArray,
    fit_excursion_tail,
    join_runs,
    negbin_sf,
    poisson_sf,
    runs,
    score_from_expected,
)

LOCAL_DAYS = 3
HIGH_U = 0.7
WINDOWS_DAYS = (14, 28)
#: The calibration a correct null law gives (until one is learned).
NOMINAL = ExcursionTail(0.0, 1.0, 1.0)
#: Nominal evidence (-ln expected windows per year) from which stretches are calibrated.
BASE = math.log(10.0)
MIN_RATE_PER_MONTH = 0.5
MAX_INTERPOLATED_GAP_HOURS = 6


@dataclass(frozen=True, slots=True)
class DeletionBaseline:
    """The station's null rate of high gaps per grid point and their dispersion (variance over
    mean of monthly counts, at least 1)."""

    rate: float
    dispersion: float = 1.0
    calibration: ExcursionTail = NOMINAL

    def tail(self, k: int, points: int) -> float:
        """P(K >= k) in a window of ``points`` grid points (negative binomial with the station's
        dispersion; Poisson when it is 1)."""
        mu = self.rate * points
        if self.dispersion <= 1.0 + 1e-9:
            return poisson_sf(k, mu)
        return negbin_sf(k, mu, self.dispersion)

    def to_dict(self) -> dict[str, object]:
        return {"rate": self.rate, "dispersion": self.dispersion, "calibration": self.calibration.to_list()}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> DeletionBaseline:
        c = d.get("calibration")
        cal = (
            ExcursionTail.from_list([float(x) for x in c])
            if isinstance(c, list)
            else ExcursionTail(0.0, 1.0, 1.0)
        )
        return cls(float(str(d["rate"])), float(str(d.get("dispersion", 1.0))), cal)


def interpolate_short_gaps(x: FloatArray, max_gap: int) -> FloatArray:
    """Linear interpolation across gaps of at most ``max_gap`` points (others stay NaN)."""
    ok = np.isfinite(x)
    if ok.sum() < 2:
        return x.copy()
    idx = np.arange(len(x))
    filled = np.interp(idx, idx[ok], x[ok])
    s, e = runs(~ok)
    out = x.copy()
    for a, b in zip(s.tolist(), e.tolist(), strict=True):
        if a > 0 and b < len(x) and b - a <= max_gap:
            out[a:b] = filled[a:b]
    return out


def local_rank(proxy: FloatArray, missing: BoolArray, window: int) -> FloatArray:
    """For each missing point, the rank (0..1) of its proxy among the present points' proxies
    within ``window`` points either side (NaN where it cannot be formed)."""
    out = np.full(len(proxy), np.nan)
    present = ~missing & np.isfinite(proxy)
    # sorted proxies of present points, per block of the local window, via cumulative ranks
    for i in np.flatnonzero(missing & np.isfinite(proxy)).tolist():
        lo, hi = max(0, i - window), min(len(proxy), i + window + 1)
        ref = proxy[lo:hi][present[lo:hi]]
        if ref.size >= 12:
            out[i] = (np.count_nonzero(ref < proxy[i]) + 0.5 * np.count_nonzero(ref == proxy[i])) / ref.size
    return out


def combined_rank(proxies: Sequence[FloatArray], missing: BoolArray, window: int) -> FloatArray:
    """Mean over the proxies of :func:`local_rank` (NaN where no proxy gives one)."""
    ranks = [local_rank(p, missing, window) for p in proxies]
    if not ranks:
        return np.full(len(missing), np.nan)
    m = np.vstack(ranks)
    cnt = np.isfinite(m).sum(axis=0)
    return np.where(cnt > 0, np.where(np.isfinite(m), m, 0.0).sum(axis=0) / np.maximum(cnt, 1), np.nan)


@dataclass(frozen=True, slots=True)
class GapRuns:
    """Runs of missing points with their mean rank."""

    starts: IntArray
    stops: IntArray
    mean_rank: FloatArray

    @property
    def high(self) -> BoolArray:
        return np.asarray(np.nan_to_num(self.mean_rank, nan=0.0) >= HIGH_U)


def gap_runs(missing: BoolArray, rank: FloatArray) -> GapRuns:
    """The runs of ``missing`` and the mean rank of each."""
    s, e = runs(missing)
    means = np.array(
        [
            float(np.nanmean(rank[a:b])) if np.isfinite(rank[a:b]).any() else math.nan
            for a, b in zip(s.tolist(), e.tolist(), strict=True)
        ]
    )
    return GapRuns(s, e, means)


def fit_deletion(gaps: GapRuns, n: int, per_day: int, years: float) -> DeletionBaseline:
    """Null rate of high gaps per point: the median monthly count (robust to a deleted month),
    at least half a gap a month and a fifth of the median monthly count of all gaps."""
    per_month = 30 * per_day
    n_months = max(1, n // per_month)
    month_all = np.bincount(np.minimum(gaps.starts // per_month, n_months - 1), minlength=n_months)
    month_high = np.bincount(
        np.minimum(gaps.starts[gaps.high] // per_month, n_months - 1), minlength=n_months
    )
    per_month_rate = max(float(np.median(month_high)), 0.3 * float(np.median(month_all)), MIN_RATE_PER_MONTH)
    # dispersion of monthly high-gap counts, the largest tenth of months (at least two) left out:
    # a manipulated month must not make manipulation look ordinary
    keep = max(1, n_months - max(2, math.ceil(0.1 * n_months)))
    trimmed = np.sort(month_high)[:keep].astype(np.float64)
    mean = float(trimmed.mean())
    disp = float(trimmed.var()) / mean if mean > 0 else 1.0
    nominal = DeletionBaseline(per_month_rate / per_month, max(1.0, disp))
    # calibrate the nominal evidence on the station's own history (peaks over threshold; under a
    # correct null model ``T - BASE`` is exponential with scale 1, the prior)
    clusters = deletion_clusters(gaps, nominal, n, per_day)
    cal = fit_excursion_tail([t - BASE for t, _, _ in clusters], years, prior_beta=1.0)
    return DeletionBaseline(nominal.rate, nominal.dispersion, cal)


def deletion_clusters(
    gaps: GapRuns, baseline: DeletionBaseline, n: int, per_day: int
) -> list[tuple[float, int, int]]:
    """Stretches of significant high-gap windows: ``(T, start, stop)`` with ``T`` the largest
    ``-ln`` of the nominal expected count per year of a window in the stretch (only stretches
    whose windows reach ``T >= BASE`` are returned)."""
    high_starts = gaps.starts[gaps.high]
    if high_starts.size == 0:
        return []
    count = np.zeros(n)
    np.add.at(count, high_starts, 1.0)
    cs = np.concatenate(([0.0], np.cumsum(count)))
    sig = np.zeros(n, dtype=bool)
    best = np.zeros(n)
    for wd in WINDOWS_DAYS:
        w = wd * per_day
        wpy = 2.0 * 365.25 / wd * len(WINDOWS_DAYS)
        cache: dict[int, float] = {}
        for s0 in high_starts.tolist():
            a, b = s0, min(n, s0 + w)
            k = int(cs[b] - cs[a])
            if k not in cache:
                q = baseline.tail(k, w) * wpy
                cache[k] = -math.log(q) if q > 0 else 700.0
            if cache[k] >= BASE:
                sig[a:b] = True
                best[a:b] = np.maximum(best[a:b], cache[k])
    s, e = runs(sig)
    s, e = join_runs(s, e, per_day)
    return [(float(np.max(best[a:b])), a, b) for a, b in zip(s.tolist(), e.tolist(), strict=True)]


def selective_deletion(
    times: IntArray,
    gaps: GapRuns,
    baseline: DeletionBaseline,
    *,
    station: str,
    parameters: Sequence[str],
    proxy_name: str,
    over_range_possible: bool = False,
    budget_per_year: float = 1e-2,
) -> list[Evidence]:
    """Windows with too many gaps at the hours the proxies say were the highest.

    ``over_range_possible`` marks an ambient gas analyser: its values above the measuring range
    are invalidated (flag ``T``), which also leaves gaps at the highest hours, so its findings
    are quality findings.

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    n = len(times)
    step = int(times[1] - times[0]) if n > 1 else 3600
    per_day = max(1, 86400 // step)
    high_starts = gaps.starts[gaps.high]
    out: list[Evidence] = []
    for t, a, b in deletion_clusters(gaps, baseline, n, per_day):
        exp_year = baseline.calibration.expected_per_year(t - BASE)
        if exp_year > budget_per_year:
            continue
        inside = (high_starts >= a) & (high_starts < b)
        hs = high_starts[inside]
        if hs.size == 0:
            continue
        stops = gaps.stops[gaps.high][inside]
        lo, hi = int(hs[0]), int(stops[-1])
        k = int(hs.size)
        hours = int((stops - hs).sum())
        days = (hi - lo) / per_day
        out.append(
            Evidence(
                detector="selective_deletion",
                station=station,
                parameters=tuple(parameters),
                start=int(times[lo]),
                end=int(times[hi - 1]) + step,
                pattern="selective_deletion",
                kind="qc" if over_range_possible else "fraud",
                score=score_from_expected(exp_year) if not over_range_possible else 0.5,
                statistic=float(k),
                baseline=float(baseline.rate * (hi - lo)),
                threshold=budget_per_year,
                reason_en=(
                    f"{k} gaps ({hours} h) in {days:.0f} days fell at the hours the {proxy_name} "
                    "rank highest "
                    f"(about {baseline.rate * (hi - lo):.1f} expected); a cluster like this is expected "
                    f"{exp_year:.2g} times per station-year"
                ),
                reason_zh=(
                    f"{days:.0f}天内有{k}段缺失（共{hours}小时）恰好落在{_zh(proxy_name)}指示的最高时段"
                    f"（通常约{baseline.rate * (hi - lo):.1f}段）；此类聚集每站每年预计仅出现{exp_year:.2g}次"
                ),
                expected_per_year=exp_year,
                plots=(plot_series("high gap (1) per point", times, _marks(n, hs), lo - 24, hi + 24),),
            )
        )
    return out


def _zh(proxy: str) -> str:
    return {
        "neighbours and own gases": "邻近站点及本站气态污染物",
        "unit load and adjacent values": "机组负荷及相邻数据",
    }.get(proxy, proxy)


def _marks(n: int, at: IntArray) -> FloatArray:
    m = np.zeros(n)
    m[at] = 1.0
    return m
