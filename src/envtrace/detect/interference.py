"""Sampler interference: PM2.5 and PM10 cut together, in episodes, while the gases carry on.

Targets an obstructed or sprayed particle inlet (or a sampling head moved into a sheltered
spot): both particle monitors read a common fraction of the true level for hours to days, in
several episodes over weeks, while the station's own gas analysers (CO, NO2, SO2), which have a
separate inlet, keep following the neighbours.

Notes
-----
The statistic is built from the station's particle residual against its neighbours (mean of the
PM2.5 and PM10 log residuals from :mod:`envtrace.detect.neighbours`) and its gas residual (median
of the CO, NO2 and SO2 log residuals): per hour the larger of ``particles`` and ``particles -
gases``, smoothed over six hours. It is low only when the particles are low against the
neighbours *and* against the station's own gases: a local rise of the gases (traffic) or a drop
of everything (a front reaching the station first) does not make it low. The statistic is
standardised by its robust scale on the station's history, after removing its own seasonal
profile (monthly medians: a suburban station reads lower than its urban neighbours in the heating
season), and its negative excursions beyond 1.5 scales are calibrated by peaks over threshold
(see :mod:`envtrace.detect.robust`). Episodes within three weeks are judged together
as a compound-Poisson sum, so a campaign of moderate episodes is found as well as deep cuts; a
single episode is not enough (a local shower scavenges particles and not gases, for a day).
PM2.5 and PM10 must fall by a common factor: an episode where only one of them drops (a single
analyser fault, or PM2.5 > PM10 noise) is not counted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence, plot_series
from envtrace.detect.neighbours import nan_median_rows
from envtrace.detect.robust import (
    HOURS_PER_YEAR,
    ExcursionTail,
    FloatArray,
    IntArray,
    SeasonalProfile,
    cluster_expected_per_year,
    excursions,
    fit_excursion_tail,
    fit_seasonal_profile,
    location_scale,
    prior_mass_scale,
    rolling_mean,
    score_from_expected,
)

BASE = 1.5
SMOOTH_HOURS = 6
CAMPAIGN_DAYS = 21
RATIO_TOLERANCE = 0.3
#: A campaign has separate episodes: one day of low particles alone is also what a local shower
#: (wet scavenging of particles, not of gases) produces.
MIN_EPISODES = 2
NO_SEASON = SeasonalProfile((0.0,) * 12)


@dataclass(frozen=True, slots=True)
class InterferenceBaseline:
    """Location and scale of the particle-minus-gas statistic and its excursion tail."""

    median: float
    scale: float
    tail: ExcursionTail
    season: SeasonalProfile = NO_SEASON

    def to_dict(self) -> dict[str, object]:
        return {
            "median": self.median,
            "scale": self.scale,
            "tail": self.tail.to_list(),
            "season": self.season.to_list(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> InterferenceBaseline:
        t = d["tail"]
        season = d.get("season")
        return cls(
            float(str(d["median"])),
            float(str(d["scale"])),
            ExcursionTail.from_list([float(x) for x in t] if isinstance(t, list) else []),
            SeasonalProfile.from_list([float(x) for x in season]) if isinstance(season, list) else NO_SEASON,
        )


def particle_gas_contrast(
    pm25_resid: FloatArray, pm10_resid: FloatArray, gas_resids: Sequence[FloatArray], smooth: int
) -> tuple[FloatArray, FloatArray]:
    """Smoothed particle contrast (the larger of the particle residual and the particle residual
    minus the gas residual), and the PM2.5-minus-PM10 residual."""
    pm = np.vstack([pm25_resid, pm10_resid])
    cnt = np.isfinite(pm).sum(axis=0)
    pm_mean = np.where(
        cnt > 0, np.nansum(np.where(np.isfinite(pm), pm, 0.0), axis=0) / np.maximum(cnt, 1), np.nan
    )
    if gas_resids:
        gas = nan_median_rows(np.vstack(list(gas_resids)))
        gas = np.where(np.isfinite(gas), gas, 0.0)
    else:
        gas = np.zeros(len(pm25_resid))
    # the particles must be low against the neighbours *and* against the station's own gases: a
    # rise of the gases (local traffic) or a fall of everything (a front arriving early) is not
    # an inlet problem
    d = rolling_mean(np.maximum(pm_mean, pm_mean - gas), smooth, min_count=max(1, smooth // 2), center=True)
    ratio = rolling_mean(pm25_resid - pm10_resid, smooth, min_count=max(1, smooth // 2), center=True)
    return d, ratio


def fit_interference(
    times: IntArray,
    contrast: FloatArray,
    ratio_resid: FloatArray,
    years: float,
    *,
    utc_offset_s: int,
    per_hour: float = 1.0,
) -> InterferenceBaseline:
    """Learn the seasonal profile, the scale and the excursion tail of the particle-gas contrast
    on a history (only the excursions the detector would test: those where PM2.5 and PM10 fell by
    a common factor)."""
    season = fit_seasonal_profile(contrast, times, utc_offset_s, min_points=int(240 * per_hour))
    contrast = contrast - season.value(times, utc_offset_s)
    med, scale = location_scale(contrast, floor=1e-3)
    if not math.isfinite(med):
        med, scale = 0.0, 1.0
    z = -(contrast - med) / scale
    rough = InterferenceBaseline(med, scale, ExcursionTail(0.0, 1.0, 1.0))
    ex = [
        e
        for e in excursions(z, BASE, max_gap=int(3 * per_hour))
        if _common_factor(ratio_resid, contrast, rough, e.start, e.stop)
    ]
    tail = fit_excursion_tail([e.mass for e in ex], years, prior_beta=prior_mass_scale(z, BASE))
    return InterferenceBaseline(med, scale, tail, season)


def sampler_interference(
    times: IntArray,
    contrast: FloatArray,
    ratio_resid: FloatArray,
    baseline: InterferenceBaseline,
    *,
    station: str,
    parameters: Sequence[str],
    utc_offset_s: int = 8 * 3600,
    budget_per_year: float = 2e-3,
) -> list[Evidence]:
    """Episodes (and campaigns of episodes) where both particle series fall against the gases.

    ``contrast`` and ``ratio_resid`` come from :func:`particle_gas_contrast`.

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    step = int(times[1] - times[0]) if len(times) > 1 else 3600
    per_hour = 3600.0 / step
    contrast = contrast - baseline.season.value(times, utc_offset_s)
    z = -(contrast - baseline.median) / baseline.scale
    ex = [
        e
        for e in excursions(z, BASE, max_gap=int(3 * per_hour))
        if e.mass > baseline.tail.threshold
        and _common_factor(ratio_resid, contrast, baseline, e.start, e.stop)
    ]
    if not ex:
        return []
    window = int(CAMPAIGN_DAYS * 24 * per_hour)
    window_years = CAMPAIGN_DAYS * 24 / HOURS_PER_YEAR
    # group excursions into campaigns: consecutive excursions closer than the window
    groups: list[list[int]] = [[0]]
    for i in range(1, len(ex)):
        if ex[i].start - ex[groups[-1][0]].start <= window:
            groups[-1].append(i)
        else:
            groups.append([i])
    out: list[Evidence] = []
    tail = baseline.tail
    for g in groups:
        excess = [ex[i].mass - tail.threshold for i in g]
        exp_year = cluster_expected_per_year(excess, tail, window_years)
        if len(g) < MIN_EPISODES or exp_year > budget_per_year:
            continue
        a, b = ex[g[0]].start, ex[g[-1]].stop
        drop = (
            float(np.nanmedian(contrast[a:b]) - baseline.median) if np.isfinite(contrast[a:b]).any() else 0.0
        )
        factor = math.exp(drop)
        n_ep = len(g)
        out.append(
            Evidence(
                detector="sampler_interference",
                station=station,
                parameters=tuple(parameters),
                start=int(times[a]),
                end=int(times[b - 1]) + step,
                pattern="sampler_interference",
                kind="fraud",
                score=score_from_expected(exp_year),
                statistic=float(sum(ex[i].mass for i in g)),
                baseline=float(tail.threshold),
                threshold=float(budget_per_year),
                reason_en=(
                    f"PM2.5 and PM10 fell together to about {factor:.0%} of what the neighbours and the "
                    f"station's own gases indicate, in {n_ep} episode(s); such a campaign is expected "
                    f"{exp_year:.2g} times per station-year"
                ),
                reason_zh=(
                    f"PM2.5与PM10同步降至邻近站点及本站气态污染物所指示水平的约{factor:.0%}，共{n_ep}个时段；"
                    f"此类情况每站每年预计仅出现{exp_year:.2g}次"
                ),
                expected_per_year=float(exp_year),
                plots=(plot_series("particle-gas contrast (log)", times, contrast, a - 24, b + 24),),
            )
        )
    return out


def _common_factor(ratio: FloatArray, contrast: FloatArray, bl: InterferenceBaseline, a: int, b: int) -> bool:
    """True when PM2.5 and PM10 dropped by a common factor during [a, b)."""
    r = ratio[a:b]
    c = contrast[a:b]
    if not np.isfinite(r).any() or not np.isfinite(c).any():
        return True
    drop = abs(float(np.nanmedian(c)) - bl.median)
    return abs(float(np.nanmedian(r))) <= max(RATIO_TOLERANCE * drop, 0.5 * bl.scale)
