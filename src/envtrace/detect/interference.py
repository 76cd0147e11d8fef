"""Sampler interference: PM2.5 and PM10 cut together, in episodes, while the gases carry on.

Targets an obstructed or sprayed particle inlet (or a sampling head moved into a sheltered
spot): both particle monitors read a common fraction of the true level for hours to days, in
several episodes over weeks, while the station's own gas analysers (CO, NO2, SO2), which have a
separate inlet, keep following the neighbours.

Notes
-----
**The model.** Each particle series is predicted by a per-station robust regression
(:mod:`envtrace.detect.regression`) on its neighbours' particle values, the hour of day, the
season and the station's own gas residuals against their neighbours (CO is the strongest
combustion tracer, NO2 and SO2 add traffic and coal): a local plume raises particles and gases
together and is explained, an inlet cut lowers the particles alone and is not. The residuals
``u25`` and ``u10`` of PM2.5 and PM10 are combined into the *common* component ``c = (u25 +
u10) / 2``, which an inlet cut lowers by ``log f``, and the *difference* ``d = u25 - u10``, which a
common factor leaves unchanged. Both have their monthly medians removed. Where the gases are low
as well, the particles are judged against them too (``c`` is replaced by ``max(c, c - g)``, ``g``
the median gas residual): a cleaner air mass reaching the station first lowers everything.

**Heteroscedastic noise.** The scale of ``c`` and ``d`` is learned per cell of the predicted
level (low concentrations are noisy in log terms: resolution, instrument noise) and of the
network spread (how much the neighbours disagree among themselves at that hour: fronts and plumes
make every prediction uncertain), so that an hour counts by its precision.

**Episodes.** The standardised ``c``, smoothed over six hours, is tested for downward excursions
beyond 1.5 scales. An excursion counts as an episode only when ``d`` stayed where it was: its mean
over the excursion must lie within three robust standard errors of the station's own stretch
means of ``d`` of that length (learned on its history, whatever their dependence: a common factor
keeps the PM2.5/PM10 ratio; a shower, a dust plume or a failing monitor changes it; the tails of
``d`` are heavy, so a few per cent of true episodes are lost, and about half of the large natural
excursions), both monitors must have reported for most of it, and the station's gases must have
reported (the pattern is defined by the gases carrying on).

**Calibration.** Episode masses (integrated excess) are calibrated on the station's own history by
peaks over threshold above their 80th percentile (the upper tail only: the masses' tail is heavier
than exponential; the largest tenth is set aside, see :mod:`envtrace.detect.robust`). Episodes
within three weeks form a campaign whose summed standardised excesses are tested against a
compound negative binomial: the number of episodes per three weeks is overdispersed on real data
(disturbed weeks have many), and its dispersion is learned from the station's own counts. A single
episode is not enough (a local shower scavenges particles, not gases, for a day).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence, plot_series
from envtrace.detect.robust import (
    HOURS_PER_YEAR,
    BoolArray,
    Excursion,
    ExcursionTail,
    FloatArray,
    IntArray,
    ScaleTable,
    SeasonalProfile,
    compound_negbin_sf,
    excursions,
    fit_excursion_tail,
    fit_scale_table,
    fit_seasonal_profile,
    location_scale,
    prior_mass_scale,
    rolling_mean,
    rolling_mean_scale,
    score_from_expected,
)

BASE = 1.5
SMOOTH_HOURS = 6
CAMPAIGN_DAYS = 21
#: A campaign has separate episodes: one day of low particles alone is also what a local shower
#: (wet scavenging of particles, not of gases) produces.
MIN_EPISODES = 2
#: A common factor is rejected when the mean of ``d`` over an episode strays from its usual value
#: by more than this many robust standard errors of stretch means of that length.
RATIO_Z = 3.0
#: Stretch lengths (hours) whose mean-scale of ``d`` is learned.
D_LENGTHS = (3, 6, 12, 24, 48, 96)
#: Episode masses are fitted above this quantile of their distribution.
TAIL_QUANTILE = 0.8
MAX_DISPERSION = 10.0
NO_SEASON = SeasonalProfile((0.0,) * 12)
UNIT_SCALE = ScaleTable((), (), (1.0,))


@dataclass(frozen=True, slots=True)
class InterferenceBaseline:
    """What the detector learned about a station's particle-gas contrast (see the module notes).

    ``median`` and ``scale`` standardise the smoothed, precision-weighted common residual;
    ``tail`` is the peaks-over-threshold fit of episode masses; ``dispersion`` the variance-to-mean
    ratio of episode counts per campaign window; ``season``, ``season_d`` and ``season_gas`` the
    monthly medians of ``c``, ``d`` and the gas residual; ``noise`` and ``noise_d`` the scales of
    ``c`` and ``d`` by predicted level and network spread; ``d_scales`` the scale of stretch means
    of the standardised ``d`` per stretch length (in grid points).
    """

    median: float
    scale: float
    tail: ExcursionTail
    season: SeasonalProfile = NO_SEASON
    season_d: SeasonalProfile = NO_SEASON
    season_gas: SeasonalProfile = NO_SEASON
    noise: ScaleTable = UNIT_SCALE
    noise_d: ScaleTable = UNIT_SCALE
    d_scales: tuple[tuple[int, float, float], ...] = ()
    dispersion: float = 1.0

    def to_dict(self) -> dict[str, object]:
        return {
            "median": self.median,
            "scale": self.scale,
            "tail": self.tail.to_list(),
            "season": self.season.to_list(),
            "season_d": self.season_d.to_list(),
            "season_gas": self.season_gas.to_list(),
            "noise": self.noise.to_list(),
            "noise_d": self.noise_d.to_list(),
            "d_scales": [[n, m, s] for n, m, s in self.d_scales],
            "dispersion": self.dispersion,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> InterferenceBaseline:
        def season(key: str) -> SeasonalProfile:
            v = d.get(key)
            return SeasonalProfile.from_list([float(x) for x in v]) if isinstance(v, list) else NO_SEASON

        def table(key: str) -> ScaleTable:
            v = d.get(key)
            if isinstance(v, list) and len(v) == 3 and all(isinstance(x, list) for x in v):
                return ScaleTable.from_list(v)
            return UNIT_SCALE

        t = d["tail"]
        ds = d.get("d_scales")
        return cls(
            float(str(d["median"])),
            float(str(d["scale"])),
            ExcursionTail.from_list([float(x) for x in t] if isinstance(t, list) else []),
            season("season"),
            season("season_d"),
            season("season_gas"),
            table("noise"),
            table("noise_d"),
            tuple((int(x[0]), float(x[1]), float(x[2])) for x in ds if isinstance(x, list) and len(x) == 3)
            if isinstance(ds, list)
            else (),
            float(str(d.get("dispersion", 1.0))),
        )

    def ratio_kept(self, mean_d: float, length: int) -> bool:
        """Whether a stretch of ``length`` grid points whose standardised ``d`` averaged ``mean_d``
        is within the station's usual range (the stored length nearest on a log scale)."""
        if not self.d_scales:
            return True
        _, med, scale = min(self.d_scales, key=lambda x: abs(math.log(x[0] / max(length, 1))))
        return abs(mean_d - med) <= RATIO_Z * scale


@dataclass(frozen=True, slots=True)
class ParticleResiduals:
    """Inputs of the detector on one station's grid (see :func:`particle_residuals`).

    ``pm25``/``pm10`` are the regression residuals (NaN where missing), ``gas`` the median gas
    residual against the neighbours (NaN where no gas reported), ``level`` the predicted log
    particle level, ``spread`` the network spread, ``usable`` the hours a common factor can be
    judged (the gases reported and PM2.5 did not exceed PM10).
    """

    pm25: FloatArray
    pm10: FloatArray
    gas: FloatArray
    level: FloatArray
    spread: FloatArray
    usable: BoolArray


def _smooth(x: FloatArray, per_hour: float) -> FloatArray:
    w = max(1, round(SMOOTH_HOURS * per_hour))
    return rolling_mean(x, w, min_count=max(1, w // 2), center=True)


def _components(
    times: IntArray, p: ParticleResiduals, utc_offset_s: int, bl: InterferenceBaseline | None
) -> tuple[FloatArray, FloatArray, SeasonalProfile, SeasonalProfile, SeasonalProfile]:
    """Common component (judged against the gases too) and difference, seasonally centred."""
    c = np.where(np.isfinite(p.pm25) & np.isfinite(p.pm10), 0.5 * (p.pm25 + p.pm10), np.nan)
    c = np.where(np.isfinite(c), c, np.where(np.isfinite(p.pm25), p.pm25, p.pm10))
    d = p.pm25 - p.pm10
    if bl is None:
        per_hour = 3600.0 / max(1, int(times[1] - times[0])) if len(times) > 1 else 1.0
        need = int(240 * per_hour)
        sc = fit_seasonal_profile(c, times, utc_offset_s, min_points=need)
        sd = fit_seasonal_profile(d, times, utc_offset_s, min_points=need)
        sg = fit_seasonal_profile(p.gas, times, utc_offset_s, min_points=need)
    else:
        sc, sd, sg = bl.season, bl.season_d, bl.season_gas
    c = c - sc.value(times, utc_offset_s)
    d = d - sd.value(times, utc_offset_s)
    g = p.gas - sg.value(times, utc_offset_s)
    # low particles count only where they are low against the gases as well
    c = np.where(np.isfinite(g), np.maximum(c, c - g), c)
    c = np.where(p.usable, c, np.nan)
    return c, d, sc, sd, sg


def _standardised(
    c: FloatArray,
    d: FloatArray,
    p: ParticleResiduals,
    noise: ScaleTable,
    noise_d: ScaleTable,
    per_hour: float,
) -> tuple[FloatArray, FloatArray]:
    zc = c / noise.value(p.level, p.spread)
    zd = d / noise_d.value(p.level, p.spread)
    return _smooth(zc, per_hour), zd


def _episodes(z: FloatArray, zd: FloatArray, bl: InterferenceBaseline, per_hour: float) -> list[Excursion]:
    """Downward excursions of the common component in which PM2.5 and PM10 kept their ratio."""
    out = []
    for e in excursions(z, BASE, max_gap=max(1, int(3 * per_hour))):
        seg = zd[e.start : e.stop]
        ok = np.isfinite(seg)
        if np.count_nonzero(ok) < 0.5 * (e.stop - e.start):
            continue  # one monitor missing: a common factor cannot be judged
        if not bl.ratio_kept(float(np.mean(seg[ok])), e.stop - e.start):
            continue
        out.append(e)
    return out


def fit_interference(
    times: IntArray, residuals: ParticleResiduals, years: float, *, utc_offset_s: int, per_hour: float = 1.0
) -> InterferenceBaseline | None:
    """Learn the seasonal profiles, the noise model, the episode tail and the campaign dispersion
    on a history; None when the particle residuals are too thin to say anything."""
    c, d, sc, sd, sg = _components(times, residuals, utc_offset_s, None)
    if np.count_nonzero(np.isfinite(c)) < 30 * 24 * per_hour:
        return None
    noise = fit_scale_table(c, residuals.level, residuals.spread)
    noise_d = fit_scale_table(d, residuals.level, residuals.spread)
    zs, zd = _standardised(c, d, residuals, noise, noise_d, per_hour)
    med, scale = location_scale(zs, floor=1e-3)
    if not math.isfinite(med):
        return None
    z = -(zs - med) / scale
    lengths = [max(1, int(n * per_hour)) for n in D_LENGTHS]
    d_scales = tuple((k, *rolling_mean_scale(zd, k)) for k in lengths)
    rough = InterferenceBaseline(med, scale, ExcursionTail(0.0, 1.0, 1.0), d_scales=d_scales)
    ex = _episodes(z, zd, rough, per_hour)
    tail = fit_excursion_tail(
        [e.mass for e in ex],
        years,
        prior_beta=prior_mass_scale(z, BASE),
        threshold_quantile=TAIL_QUANTILE,
    )
    # overdispersion of the episode counts per campaign window (non-overlapping windows)
    window = int(CAMPAIGN_DAYS * 24 * per_hour)
    n_windows = len(z) // window
    dispersion = 1.0
    if n_windows >= 8:
        starts = np.asarray([e.start for e in ex if e.mass > tail.threshold], dtype=np.int64)
        counts = np.bincount(starts // window, minlength=n_windows)[:n_windows].astype(np.float64)
        mean = float(counts.mean())
        if mean > 0:
            dispersion = min(MAX_DISPERSION, max(1.0, float(counts.var()) / mean))
    return InterferenceBaseline(med, scale, tail, sc, sd, sg, noise, noise_d, d_scales, dispersion)


def campaign_expected_per_year(
    excesses: Sequence[float], bl: InterferenceBaseline, window_years: float
) -> float:
    """Expected null windows per station-year whose standardised episode excesses sum to at least
    ``sum(excesses) / beta``: a compound negative binomial of standard exponentials, counted once
    per window length and once more per episode beyond the first (the windows are anchored at
    every episode, so a null campaign of ``n`` episodes is met by up to ``n`` anchors: the
    size-biased count of a scan over episode starts; at least 2, the usual overlap correction)."""
    total = float(sum(excesses)) / bl.tail.beta
    mu = bl.tail.rate_per_year * window_years
    anchors = max(2.0, float(len(excesses)))
    return anchors * compound_negbin_sf(total, mu, bl.dispersion) / window_years


def _campaigns(
    ex: Sequence[Excursion], threshold: float, bl: InterferenceBaseline, window: int, window_years: float
) -> list[tuple[list[int], float]]:
    """Campaigns as a scan over windows anchored at each episode: the episodes starting within
    ``window`` points of an episode's start form that anchor's candidate; candidates are taken
    best first (smallest expected null count), skipping any that overlaps one already taken. A
    greedy grouping from the first episode would split a campaign preceded by a natural episode
    into two weaker halves. The overlapping windows are what the factor 2 of
    :func:`campaign_expected_per_year` allows for."""
    cands: list[tuple[float, list[int]]] = []
    for i in range(len(ex)):
        g = [j for j in range(i, len(ex)) if ex[j].start - ex[i].start <= window]
        if len(g) < MIN_EPISODES:
            continue
        excess = [ex[j].mass - threshold for j in g]
        cands.append((campaign_expected_per_year(excess, bl, window_years), g))
    taken: list[tuple[list[int], float]] = []
    used: set[int] = set()
    for e, g in sorted(cands, key=lambda c: (c[0], c[1][0])):
        if used.intersection(g):
            continue
        used.update(g)
        taken.append((g, e))
    return sorted(taken, key=lambda t: t[0][0])


def sampler_interference(
    times: IntArray,
    residuals: ParticleResiduals,
    baseline: InterferenceBaseline,
    *,
    station: str,
    parameters: Sequence[str],
    utc_offset_s: int = 8 * 3600,
    budget_per_year: float = 2e-3,
) -> list[Evidence]:
    """Campaigns of episodes where both particle series fall against the model while the gases
    carry on.

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    step = int(times[1] - times[0]) if len(times) > 1 else 3600
    per_hour = 3600.0 / step
    c, d, *_ = _components(times, residuals, utc_offset_s, baseline)
    zs, zd = _standardised(c, d, residuals, baseline.noise, baseline.noise_d, per_hour)
    z = -(zs - baseline.median) / baseline.scale
    tail = baseline.tail
    ex = [e for e in _episodes(z, zd, baseline, per_hour) if e.mass > tail.threshold]
    if not ex:
        return []
    window = int(CAMPAIGN_DAYS * 24 * per_hour)
    window_years = CAMPAIGN_DAYS * 24 / HOURS_PER_YEAR
    out: list[Evidence] = []
    for g, exp_year in _campaigns(ex, tail.threshold, baseline, window, window_years):
        if exp_year > budget_per_year:
            continue
        excess = [ex[i].mass - tail.threshold for i in g]
        a, b = ex[g[0]].start, ex[g[-1]].stop
        inside = np.concatenate([c[ex[i].start : ex[i].stop] for i in g])
        inside = inside[np.isfinite(inside)]
        factor = math.exp(float(np.median(inside))) if inside.size else 1.0
        n_ep = len(g)
        hours = sum(ex[i].stop - ex[i].start for i in g) / per_hour
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
                statistic=float(sum(excess) / tail.beta),
                baseline=float(tail.threshold),
                threshold=float(budget_per_year),
                reason_en=(
                    f"PM2.5 and PM10 fell together, keeping their ratio, to about {factor:.0%} of what the "
                    f"neighbours and the station's own gases indicate, in {n_ep} separate episodes "
                    f"({hours:.0f} h in all) while the gases carried on; such a campaign is expected "
                    f"{exp_year:.2g} times per station-year"
                ),
                reason_zh=(
                    f"PM2.5与PM10同步下降且比值不变，降至邻近站点及本站气态污染物所指示水平的约{factor:.0%}，"
                    f"共{n_ep}个独立时段（合计{hours:.0f}小时），期间气态污染物正常；"
                    f"此类情况每站每年预计仅出现{exp_year:.2g}次"
                ),
                expected_per_year=float(exp_year),
                plots=(
                    plot_series(
                        "particle residual against neighbours and gases (log)",
                        times,
                        c,
                        a - int(24 * per_hour),
                        b + int(24 * per_hour),
                    ),
                ),
            )
        )
    return out


def particle_residuals(
    pm25: FloatArray,
    pm10: FloatArray,
    gas_residuals: Sequence[FloatArray],
    level: FloatArray,
    spread: FloatArray,
    *,
    pm25_raw: FloatArray,
    pm10_raw: FloatArray,
    resolution: float,
) -> ParticleResiduals:
    """Bundle the detector's inputs; hours without any gas, or with PM2.5 above PM10 by more than
    the reporting resolution (a physically impossible pair: a monitor fault, judged by the quality
    detectors), cannot show a common factor and are left out."""
    n = len(pm25)
    if gas_residuals:
        gm = np.vstack(list(gas_residuals))
        have = np.isfinite(gm).any(axis=0)
        s = np.sort(gm, axis=0)
        cnt = np.isfinite(gm).sum(axis=0)
        lo = np.clip((cnt - 1) // 2, 0, gm.shape[0] - 1)
        hi = np.clip(cnt // 2, 0, gm.shape[0] - 1)
        idx = np.arange(n)
        gas = np.where(have, 0.5 * (s[lo, idx] + s[hi, idx]), np.nan)
    else:
        have = np.zeros(n, dtype=bool)
        gas = np.full(n, np.nan)
    with np.errstate(invalid="ignore"):
        impossible = pm25_raw > pm10_raw + max(resolution, 1e-9)
    usable = have & ~impossible
    return ParticleResiduals(pm25, pm10, gas, level, spread, np.asarray(usable, dtype=bool))
