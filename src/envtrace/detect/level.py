"""Level shift: every pollutant of a station scaled by a common factor for weeks.

Targets a station whose whole output is scaled (a wrong dilution or flow setting in the
data-logger, a moved or shielded inlet manifold, or plain multiplication of the data): the
station's PM2.5, PM10, SO2, NO2, CO and O3 all drop by the same factor against the neighbours,
for weeks, while nothing changes at the neighbours.

Notes
-----
For each pollutant the daily mean log residual against the station's regression on its neighbours,
the hour and the season (:mod:`envtrace.detect.regression`) is formed. A common factor shifts every
residual by the same ``log f``, so the pollutants are combined into the *common residual* by the
generalised-least-squares estimate of a shared offset: weights ``Sigma^-1 1 / (1' Sigma^-1 1)``
with ``Sigma`` the robust covariance of the pollutants' daily residuals on the station's history
(the departures of the pollutants are correlated, through the weather the neighbours do not share,
so inverse-variance weights would count the same information several times). Negative weights are
set to zero, so the statistic stays a weighted mean. The centred 7-day mean of the common residual
is standardised by its robust scale on the station's history, and its negative excursions beyond 2
scales (alone, and joined across dips shorter than a week: a sustained shift whose weekly mean
briefly sags is one shift; both families are counted) are tested as the mean of several weekly
means: the z-score of an excursion of ``L`` days is its mean z times the square root of the number
of effectively independent weeks, ``L / 7 * (1 - rho) / (1 + rho)`` with ``rho`` the station's own
lag-one correlation of weekly means (variance inflation of an AR(1) mean). The regression carries
the station's seasonal relation to its neighbours, so no slow reference is subtracted (a causal
reference of the preceding months reads seasonal changes of that relation as shifts). A finding
also needs the shift to be common: at least 70 % of the pollutants must have moved down by at least
a third of the common factor (one analyser drifting is a calibration matter, and particles alone
are sampler interference).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence, plot_series
from envtrace.detect.robust import (
    FloatArray,
    IntArray,
    excursions,
    location_scale,
    normal_sf,
    rolling_mean,
    score_from_expected,
)

BASE = 2.0
SMOOTH_DAYS = 7
COMMON_SHARE = 0.7
#: Days on which every pollutant has a residual, needed to estimate their covariance.
MIN_COMPLETE_DAYS = 60
#: Candidate stretches are scanned in two families (plain and joined excursions).
FAMILIES = 2
#: A day's common residual needs this share of the total weight.
MIN_WEIGHT_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class LevelBaseline:
    """Scale of the smoothed common residual and the tail of its downward excursions."""

    scale: float
    rho_week: float
    reference: float
    weights: tuple[tuple[str, float], ...] = ()
    centres: tuple[tuple[str, float], ...] = ()

    def expected_per_year(self, mean_z: float, days: int) -> float:
        """Null stretches per year whose weekly-mean z averages ``mean_z`` over ``days`` days.

        The 7-day means of consecutive weeks are treated as AR(1) with lag-one correlation
        ``rho_week``, so ``days / 7`` weeks count as ``days / 7 * (1 - rho) / (1 + rho)``
        independent ones (the variance inflation of a mean of an AR(1) series).
        """
        weeks = max(1.0, days / SMOOTH_DAYS)
        eff = max(1.0, weeks * (1.0 - self.rho_week) / (1.0 + self.rho_week))
        return normal_sf(mean_z * math.sqrt(eff)) * 365.25 / SMOOTH_DAYS

    def to_dict(self) -> dict[str, object]:
        return {
            "scale": self.scale,
            "rho_week": self.rho_week,
            "reference": self.reference,
            "weights": dict(self.weights),
            "centres": dict(self.centres),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> LevelBaseline:
        w = d.get("weights")
        weights = tuple((str(c), float(v)) for c, v in w.items()) if isinstance(w, dict) else ()
        c = d.get("centres")
        centres = tuple((str(k), float(v)) for k, v in c.items()) if isinstance(c, dict) else ()
        return cls(
            float(str(d["scale"])), float(str(d["rho_week"])), float(str(d["reference"])), weights, centres
        )


def pollutant_weights(daily_resids: Mapping[str, FloatArray]) -> dict[str, float]:
    """Weights of the pollutants in the common residual: the generalised-least-squares estimate
    of an offset shared by all of them under their robust covariance (Huber-clipped at three MADs),
    negative weights set to zero; inverse-variance weights when too few days are complete."""
    codes: list[str] = []
    scales: list[float] = []
    for code, r in daily_resids.items():
        _, scale = location_scale(r, floor=1e-3)
        if math.isfinite(scale):
            codes.append(code)
            scales.append(scale)
    if not codes:
        return {}
    inverse_variance = {c: 1.0 / s**2 for c, s in zip(codes, scales, strict=True)}
    m = np.vstack([daily_resids[c] for c in codes])
    ok = np.isfinite(m).all(axis=0)
    if len(codes) < 2 or np.count_nonzero(ok) < MIN_COMPLETE_DAYS:
        return _normalised(inverse_variance)
    x = m[:, ok]
    med = np.median(x, axis=1, keepdims=True)
    mad = np.asarray(scales)[:, None]
    x = np.clip(x - med, -3.0 * mad, 3.0 * mad)
    cov = (x @ x.T) / x.shape[1]
    try:
        w = np.linalg.solve(cov + 1e-9 * np.eye(len(codes)), np.ones(len(codes)))
    except np.linalg.LinAlgError:
        return _normalised(inverse_variance)
    w = np.maximum(w, 0.0)
    if not float(w.sum()) > 0:
        return _normalised(inverse_variance)
    return _normalised({c: float(v) for c, v in zip(codes, w, strict=True)})


def _normalised(w: Mapping[str, float]) -> dict[str, float]:
    tot = sum(w.values())
    return {c: v / tot for c, v in w.items()} if tot > 0 else dict(w)


def common_residual(daily_resids: Mapping[str, FloatArray], weights: Mapping[str, float]) -> FloatArray:
    """Weighted mean over pollutants of the daily log residuals, the weights of the pollutants
    present renormalised (NaN where less than half of the total weight is present)."""
    codes = [c for c in daily_resids if weights.get(c, 0.0) > 0]
    if not codes:
        return np.full(len(next(iter(daily_resids.values()))), np.nan)
    m = np.vstack([daily_resids[c] for c in codes])
    w = np.asarray([weights[c] for c in codes])[:, None] * np.isfinite(m)
    tot = w.sum(axis=0)
    s = (np.where(np.isfinite(m), m, 0.0) * w).sum(axis=0)
    full = float(sum(weights[c] for c in codes))
    return np.where(tot >= MIN_WEIGHT_SHARE * full, s / np.maximum(tot, 1e-12), np.nan)


def fit_level(daily_resids: Mapping[str, FloatArray]) -> LevelBaseline:
    """Learn the pollutant weights, each pollutant's centre, the scale and the week-to-week
    correlation of the smoothed common residual."""
    weights = pollutant_weights(daily_resids)
    common = common_residual(daily_resids, weights)
    ref, _ = location_scale(common)
    if not math.isfinite(ref):
        ref = 0.0
    centres = []
    for code, r in daily_resids.items():
        c, _ = location_scale(r)
        centres.append((code, c if math.isfinite(c) else 0.0))
    d = rolling_mean(common - ref, SMOOTH_DAYS, min_count=4, center=True)
    med, scale = location_scale(d, floor=1e-3)
    wt = tuple(sorted(weights.items()))
    ct = tuple(sorted(centres))
    if not math.isfinite(scale):
        return LevelBaseline(1.0, 0.5, ref, wt, ct)
    x = d - med
    a, b = x[:-SMOOTH_DAYS], x[SMOOTH_DAYS:]
    ok = np.isfinite(a) & np.isfinite(b)
    if np.count_nonzero(ok) > 30:
        # robust lag-7 correlation: clip to +-4 scales before the moment estimate
        ca = np.clip(a[ok], -4 * scale, 4 * scale)
        cb = np.clip(b[ok], -4 * scale, 4 * scale)
        rho = float(np.mean(ca * cb) / math.sqrt(float(np.mean(ca * ca)) * float(np.mean(cb * cb))))
    else:
        rho = 0.5
    return LevelBaseline(scale, min(max(rho, 0.0), 0.95), ref, wt, ct)


def _stretches(z: FloatArray, baseline: LevelBaseline) -> list[tuple[int, int, float]]:
    """Candidate stretches, best first and non-overlapping, with their expected null count per
    station-year: the excursions of ``z`` beyond :data:`BASE`, and the same excursions joined
    across dips shorter than the smoothing window (a sustained shift whose weekly mean briefly
    sags towards the base is one shift). Two families are scanned, so each count is doubled
    (Bonferroni)."""
    found: dict[tuple[int, int], float] = {}
    for gap in (0, SMOOTH_DAYS):
        for ex in excursions(z, BASE, max_gap=gap):
            a, b = ex.start, ex.stop
            mean_z = float(np.nanmean(z[a:b]))
            found[(a, b)] = FAMILIES * baseline.expected_per_year(mean_z, b - a)
    out: list[tuple[int, int, float]] = []
    for (a, b), e in sorted(found.items(), key=lambda kv: kv[1]):
        if any(a < ob and b > oa for oa, ob, _ in out):
            continue
        out.append((a, b, e))
    return sorted(out)


def level_shift(
    days: IntArray,
    daily_resids: Mapping[str, FloatArray],
    baseline: LevelBaseline,
    *,
    station: str,
    utc_offset_s: int,
    budget_per_year: float = 1e-2,
) -> list[Evidence]:
    """Weeks during which all of a station's pollutants sit lower against the neighbours.

    ``daily_resids`` maps pollutant codes to daily mean log residuals on the local ``days``.

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    if len(daily_resids) < 3:
        return []
    common = common_residual(daily_resids, dict(baseline.weights))
    d = rolling_mean(common - baseline.reference, SMOOTH_DAYS, min_count=4, center=True)
    centres = dict(baseline.centres)
    out: list[Evidence] = []
    z = -d / baseline.scale
    for a, b, exp_year in _stretches(z, baseline):
        if exp_year > budget_per_year:
            continue
        seg = common[a:b]
        if not np.isfinite(seg).any():
            continue
        shift = float(np.nanmean(d[a:b]))
        moved = []
        for code, r in daily_resids.items():
            ref = centres.get(code, 0.0)
            seg_r = r[a:b]
            if np.isfinite(seg_r).any():
                moved.append((code, float(np.nanmean(seg_r)) - ref))
        if not moved:
            continue
        down = [c for c, m in moved if m <= shift / 3.0]
        if len(down) < COMMON_SHARE * len(moved):
            continue
        factor = math.exp(shift)
        t0 = int(days[a]) * 86400 - utc_offset_s
        t1 = int(days[b - 1] + 1) * 86400 - utc_offset_s
        out.append(
            Evidence(
                detector="level_shift",
                station=station,
                parameters=tuple(sorted(daily_resids)),
                start=t0,
                end=t1,
                pattern="level_shift",
                kind="fraud",
                score=score_from_expected(exp_year),
                statistic=float(np.nanmean(z[a:b])),
                baseline=float(baseline.scale),
                threshold=budget_per_year,
                reason_en=(
                    f"{len(down)} of {len(moved)} pollutants read about {factor:.0%} of what the neighbours "
                    f"indicate for {b - a} days; a common shift this large and long is expected "
                    f"{exp_year:.2g} times per station-year"
                ),
                reason_zh=(
                    f"{len(moved)}项污染物中有{len(down)}项在{b - a}天内"
                    f"仅为邻近站点所指示水平的约{factor:.0%}；"
                    f"如此幅度和持续时间的整体偏移每站每年预计仅出现{exp_year:.2g}次"
                ),
                expected_per_year=exp_year,
                plots=(
                    plot_series(
                        "common log residual (7-day mean)",
                        (days.astype(np.int64) * 86400 - utc_offset_s).astype(np.int64),
                        d,
                        a - 14,
                        b + 14,
                    ),
                ),
            )
        )
    return out
