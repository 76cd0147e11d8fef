"""The detector suite: learn each station's baselines, run every detector, return evidence.

``fit_station`` learns a :class:`StationBaseline` from a station's history (and its neighbours'),
``scan_station`` runs every applicable detector over a stretch of data with a fixed baseline, and
``detect_network`` does both for every station of a network (the batch run of ``envtrace detect``).
The incremental :class:`envtrace.detect.streaming.StationDetectorState` calls ``scan_station``
on its rolling window with the same baseline, so batch and live runs find the same evidence.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from envtrace.detect.baseline import StationBaseline
from envtrace.detect.bunching import (
    fit_bunching,
    fit_conditional_bunching,
    limit_bunching,
    predicted_bunching,
)
from envtrace.detect.clipping import ceiling_clip, fit_clip, fit_clip_tail
from envtrace.detect.copying import (
    MatchModel,
    copied_series,
    fit_match_model,
    match_indicator,
    relation_change,
    splice_jumps,
)
from envtrace.detect.correction import fit_correction, forged_correction
from envtrace.detect.deletion import fit_deletion, selective_deletion
from envtrace.detect.diluent import diluent_inconsistency, fit_diluent
from envtrace.detect.emission import Step, classify_steps, emission_steps, fit_step, step_evidence
from envtrace.detect.evidence import Evidence
from envtrace.detect.frozen import fit_frozen, frozen_values, still_share
from envtrace.detect.interference import fit_interference, sampler_interference
from envtrace.detect.level import fit_level, level_shift
from envtrace.detect.loadcurve import fit_load_curve
from envtrace.detect.neighbours import fit_neighbour_model, log_shift, to_log
from envtrace.detect.quality import (
    detection_limit_runs,
    flagged_runs,
    ordinary_gaps,
    out_of_range,
    pm25_above_pm10,
    spikes,
    startup_shutdown,
)
from envtrace.detect.regression import fit_regression
from envtrace.detect.residuals import (
    ambient_residuals,
    clip_codes,
    correction_ratios,
    covariate,
    daily_residuals,
    daily_values,
    deletion_codes,
    gap_ranks,
    gas_covariates,
    is_pollutant,
    load_of,
    neighbour_values,
    network_still,
    particle_inputs,
    partner_log,
    predicted_daily,
    regression_residuals,
)
from envtrace.detect.robust import FloatArray, resolution
from envtrace.detect.series import (
    AMBIENT_POLLUTANTS,
    CO2,
    CORRECTED_SUFFIX,
    LOAD,
    O2,
    PM10,
    PM25,
    SOURCE_GASES,
    SOURCE_POLLUTANTS,
    StationSeries,
    align,
    hourly_means,
)

#: Values at or below this quantile of a series (plus one resolution step) are its reporting floor.
FLOOR_QUANTILE = 0.03
#: A third station matching this share of a copied stretch makes it a network fill (quality).
SHARED_MATCH = 0.3


def _years(series: StationSeries) -> float:
    return max(series.n * series.step / (365.25 * 86400), 1.0 / 12)


def _hour_scale(
    series: StationSeries, neighbours: Mapping[str, StationSeries]
) -> tuple[StationSeries, Mapping[str, StationSeries]]:
    """The series the hour-scale detectors run on: hourly means of sub-hourly data (HJ 212 2061
    hour data), the series itself otherwise."""
    if series.step >= 3600:
        return series, neighbours
    return hourly_means(series), {
        sid: hourly_means(s) for sid, s in neighbours.items() if s.step == series.step
    }


def fit_station(series: StationSeries, neighbours: Mapping[str, StationSeries]) -> StationBaseline:
    """Learn a station's baselines from its history and its neighbours' (same grid step).

    Still-value and quality detectors work on the series' own resolution; every other detector
    works on hourly means when the data are sub-hourly.
    """
    years = _years(series)
    bl = StationBaseline(series.station_id, series.kind, series.step)
    for code in series.values:
        v = series.valid(code)
        if not np.isfinite(v).any():
            continue
        res = resolution(v)
        bl.resolution[code] = res
        bl.floor[code] = float(np.quantile(v[np.isfinite(v)], FLOOR_QUANTILE)) + res
        bl.frozen[code] = fit_frozen(v, resolution=res, span=series.param(code).span, years=years)
    coarse, coarse_nb = _hour_scale(series, neighbours)
    _fit_hour_scale(coarse, coarse_nb, bl, years)
    return bl


def _fit_hour_scale(
    series: StationSeries, neighbours: Mapping[str, StationSeries], bl: StationBaseline, years: float
) -> None:
    for code in series.values:
        v = series.valid(code)
        if np.isfinite(v).any():
            bl.hour_resolution[code] = resolution(v)
    if series.kind == "ambient":
        for code in AMBIENT_POLLUTANTS:
            if not series.has(code):
                continue
            model = fit_neighbour_model(
                code,
                series.valid(code),
                neighbour_values(series, code, neighbours),
                lod=series.param(code).lod,
                per_day=series.per_day,
            )
            if model is not None:
                bl.neighbours[code] = model
        resid = ambient_residuals(series, bl, neighbours)
        _fit_regressions(series, neighbours, bl, resid)
        inputs = particle_inputs(series, bl, neighbours, resid)
        if inputs is not None:
            interference = fit_interference(
                series.times, inputs, years, utc_offset_s=series.utc_offset_s, per_hour=3600.0 / series.step
            )
            if interference is not None:
                bl.interference = interference
        lres = regression_residuals(series, bl.regressions, neighbours)
        if len(lres) >= 3:
            _, dres = daily_residuals(series, lres)
            bl.level = fit_level(dres)
        for code in AMBIENT_POLLUTANTS:
            if not series.has(code):
                continue
            x = series.valid(code)
            models: dict[str, MatchModel] = {}
            for sid, y in neighbour_values(series, code, neighbours).items():
                mm = fit_match_model(x, y, bl.hour_resolution.get(code, 0.0), max(3, series.per_day))
                if mm is not None:
                    models[sid] = mm
            if models:
                bl.copy_models[code] = models
        for code in series.values:
            lim = series.param(code).limit
            if math.isfinite(lim) and lim > 0 and series.has(code):
                days, daily = daily_values(series, code)
                bunching = fit_bunching(daily, lim)
                predicted = predicted_daily(series, bl, code, neighbours, resid)
                if predicted is not None:
                    bunching = fit_conditional_bunching(days, daily, predicted, bunching)
                bl.bunching[code] = bunching
    if series.kind == "source":
        _fit_source(series, bl, years)
    for code in deletion_codes(series):
        gaps = gap_ranks(series, bl, code, neighbours)
        if gaps is not None:
            bl.deletion[code] = fit_deletion(gaps, series.n, series.per_day, years)
    for code in clip_codes(series):
        lx, ex = covariate(series, bl, code, neighbours)
        if lx is not None and ex is not None:
            cb = fit_clip(lx - ex, ex)
            if cb is not None:
                model = bl.neighbours.get(code)
                shift = model.shift if model is not None else bl.load_curves[code].shift
                bl.clip[code] = fit_clip_tail(
                    series.valid(code), lx, ex, cb, shift=shift, step=series.step, years=years, t0=series.t0
                )


def _fit_regressions(
    series: StationSeries,
    neighbours: Mapping[str, StationSeries],
    bl: StationBaseline,
    resid: Mapping[str, FloatArray],
) -> None:
    """Per pollutant, the regression on its neighbours, hour and season (level shift); for the
    particles also on the station's own gas residuals (sampler interference, threshold shaving)."""
    cov = gas_covariates(resid)
    for code, nm in bl.neighbours.items():
        cand = {s: v for s, v in neighbour_values(series, code, neighbours).items() if s in nm.neighbours}
        if not cand:
            continue
        target = series.valid(code)
        off, per_day = series.utc_offset_s, series.per_day
        rm = fit_regression(nm, target, cand, series.times, utc_offset_s=off, per_day=per_day)
        if rm is not None:
            bl.regressions[code] = rm
        if code in (PM25, PM10):
            pm = fit_regression(
                nm, target, cand, series.times, utc_offset_s=off, per_day=per_day, covariates=cov
            )
            if pm is not None:
                bl.particles[code] = pm


def _fit_source(series: StationSeries, bl: StationBaseline, years: float) -> None:
    load = load_of(series)
    if load is not None:
        for code in series.values:
            if is_pollutant(code) and series.has(code):
                v = series.valid(code)
                lc = fit_load_curve(v, load, log_shift(v, series.param(code).lod))
                if lc is not None:
                    bl.load_curves[code] = lc
    if series.has(O2) and series.has(CO2):
        bl.diluent = fit_diluent(series.valid(O2), series.valid(CO2), load, years)
    for code, lr in correction_ratios(series).items():
        cb = fit_correction(lr, series.param(code).o2_ref, years)
        if cb is not None:
            bl.correction[code] = cb
    for code in SOURCE_POLLUTANTS:
        lc = bl.load_curves.get(code)
        if lc is not None and load is not None:
            sb = fit_step(lc.residual(series.valid(code), load), years)
            if sb is not None:
                bl.steps[code] = sb


def scan_station(
    series: StationSeries, baseline: StationBaseline, neighbours: Mapping[str, StationSeries]
) -> list[Evidence]:
    """Run every applicable detector over ``series`` with a fixed ``baseline``.

    ``neighbours`` holds the other stations' series (any grid start; the same step); only those
    the baseline names are used. Returns fraud and quality evidence, unmerged.
    """
    out = _scan_frozen(series, baseline, neighbours)
    out += _scan_quality(series, baseline)
    coarse, coarse_nb = _hour_scale(series, neighbours)
    out += _scan_clip(coarse, baseline, coarse_nb)
    out += _scan_deletion(coarse, baseline, coarse_nb)
    if series.kind == "source":
        out += _scan_source(coarse, baseline)
    else:
        out += _scan_ambient(coarse, baseline, coarse_nb)
    return out


def _scan_frozen(
    series: StationSeries, baseline: StationBaseline, neighbours: Mapping[str, StationSeries]
) -> list[Evidence]:
    out: list[Evidence] = []
    times = series.times
    codes = [c for c in series.values if c in baseline.frozen]
    vals = {c: series.valid(c) for c in codes}
    for code in codes:
        others = [c for c in codes if c != code and not c.endswith(CORRECTED_SUFFIX)]
        share = (
            still_share([vals[c] for c in others], [baseline.resolution.get(c, 0.0) for c in others])
            if others
            else None
        )
        params = [code]
        if code + CORRECTED_SUFFIX in series.values:
            params.append(code + CORRECTED_SUFFIX)
        nstill = network_still(series, code, baseline, neighbours)
        out += frozen_values(
            times,
            vals[code],
            baseline.frozen[code],
            station=series.station_id,
            parameters=params,
            lod=series.param(code).lod,
            others_still=share,
            network_still=nstill,
            floor=baseline.floor.get(code, -math.inf),
            pollutant=is_pollutant(code),
        )
    return out


def _scan_clip(
    series: StationSeries, baseline: StationBaseline, neighbours: Mapping[str, StationSeries]
) -> list[Evidence]:
    out: list[Evidence] = []
    for code, cb in baseline.clip.items():
        if code not in series.values:
            continue
        lx, ex = covariate(series, baseline, code, neighbours)
        if lx is None or ex is None:
            continue
        model = baseline.neighbours.get(code)
        shift = model.shift if model is not None else baseline.load_curves[code].shift
        params = [code]
        if code + CORRECTED_SUFFIX in series.values:
            params.append(code + CORRECTED_SUFFIX)
        elif code.endswith(CORRECTED_SUFFIX):
            params.insert(0, code.removesuffix(CORRECTED_SUFFIX))
        out += ceiling_clip(
            series.times,
            series.valid(code),
            lx,
            ex,
            cb,
            shift=shift,
            station=series.station_id,
            parameters=params,
            covariate="neighbours" if model is not None else "unit load",
        )
    return out


def _scan_deletion(
    series: StationSeries, baseline: StationBaseline, neighbours: Mapping[str, StationSeries]
) -> list[Evidence]:
    out: list[Evidence] = []
    for code, db in baseline.deletion.items():
        if code not in series.values:
            continue
        gaps = gap_ranks(series, baseline, code, neighbours)
        if gaps is None:
            continue
        params = [code]
        if series.kind == "ambient" and code in (PM25, PM10):
            params = [c for c in (PM25, PM10) if c in series.values]
        elif code + CORRECTED_SUFFIX in series.values:
            params.append(code + CORRECTED_SUFFIX)
        out += selective_deletion(
            series.times,
            gaps,
            db,
            station=series.station_id,
            parameters=params,
            proxy_name="unit load and adjacent values"
            if series.kind == "source"
            else "neighbours and own gases",
            over_range_possible=series.kind == "ambient" and code not in (PM25, PM10),
        )
    return out


def _scan_ambient(
    series: StationSeries, baseline: StationBaseline, neighbours: Mapping[str, StationSeries]
) -> list[Evidence]:
    sid = series.station_id
    out = _scan_copies(series, baseline, neighbours)
    resid = ambient_residuals(series, baseline, neighbours)
    for code, bb in baseline.bunching.items():
        if code in series.values:
            days, daily = daily_values(series, code)
            predicted = predicted_daily(series, baseline, code, neighbours, resid)
            if predicted is not None and bb.residual_quantiles:
                out += predicted_bunching(
                    days,
                    daily,
                    predicted,
                    bb,
                    station=sid,
                    parameters=[code],
                    utc_offset_s=series.utc_offset_s,
                )
            else:
                out += limit_bunching(
                    days, daily, bb, station=sid, parameters=[code], utc_offset_s=series.utc_offset_s
                )
    if baseline.level is not None:
        lres = regression_residuals(series, baseline.regressions, neighbours)
        if len(lres) >= 3:
            days, dres = daily_residuals(series, lres)
            out += level_shift(days, dres, baseline.level, station=sid, utc_offset_s=series.utc_offset_s)
    if baseline.interference is not None:
        inputs = particle_inputs(series, baseline, neighbours, resid)
        if inputs is not None:
            params = [c for c in (PM25, PM10) if c in series.values]
            out += sampler_interference(
                series.times,
                inputs,
                baseline.interference,
                station=sid,
                parameters=params,
                utc_offset_s=series.utc_offset_s,
            )
    return out


def _scan_quality(series: StationSeries, baseline: StationBaseline) -> list[Evidence]:
    times = series.times
    sid = series.station_id
    hours = max(1, 3600 // series.step) if series.step < 3600 else 1
    out = flagged_runs(times, {c: f for c, f in series.flags.items() if f.any()}, station=sid)
    for code in series.values:
        if not is_pollutant(code) or code.endswith(CORRECTED_SUFFIX):
            continue
        v = series.valid(code)
        out += detection_limit_runs(
            times,
            v,
            station=sid,
            parameter=code,
            lod=series.param(code).lod,
            floor=baseline.floor.get(code, -math.inf),
            min_points=max(2, 24 * hours) if series.per_day > 1 else 7,
        )
        out += ordinary_gaps(
            times, v, station=sid, parameter=code, min_points=max(2, 6 * hours) if series.per_day > 1 else 3
        )
    if series.has(PM25) and series.has(PM10):
        out += pm25_above_pm10(
            times,
            series.valid(PM25),
            series.valid(PM10),
            station=sid,
            resolution=baseline.resolution.get(PM25, 0.0),
            min_points=max(2, 3 * hours) if series.per_day > 1 else 1,
        )
    for code in series.values:
        if not is_pollutant(code) or code.endswith(CORRECTED_SUFFIX) or not series.has(code):
            continue
        v = series.valid(code)
        info = series.param(code)
        low = -3.0 * info.lod if math.isfinite(info.lod) else -math.inf
        high = info.span if math.isfinite(info.span) and info.span > 0 else math.inf
        out += out_of_range(times, v, station=sid, parameter=code, low=low, high=high)
        out += spikes(times, v, station=sid, parameter=code)
    if series.kind == "source":
        # the raw values: a stopped unit's hours carry flag F and are not valid data
        o2 = series.values.get(O2)
        out += startup_shutdown(times, series.values.get(LOAD), o2, station=sid, max_gap=max(1, 2 * hours))
    return out


def _scan_source(series: StationSeries, baseline: StationBaseline) -> list[Evidence]:
    out: list[Evidence] = []
    times = series.times
    load = load_of(series)
    sid = series.station_id
    if baseline.diluent is not None and series.has(O2) and series.has(CO2):
        params = [O2, CO2] + [
            c for g in SOURCE_GASES for c in (g, g + CORRECTED_SUFFIX) if c in series.values
        ]
        out += diluent_inconsistency(
            times, series.valid(O2), series.valid(CO2), load, baseline.diluent, station=sid, parameters=params
        )
    for code, lr in correction_ratios(series).items():
        cb = baseline.correction.get(code)
        if cb is not None:
            params = [code, code.removesuffix(CORRECTED_SUFFIX), O2]
            out += forged_correction(times, lr, cb, station=sid, parameters=params)
    if load is not None:
        resid: dict[str, FloatArray] = {}
        steps: dict[str, list[Step]] = {}
        for code, sb in baseline.steps.items():
            lc = baseline.load_curves.get(code)
            if lc is None or code not in series.values:
                continue
            resid[code] = lc.residual(series.valid(code), load)
            lod = series.param(code).lod
            floor = max(3.0 * lod if math.isfinite(lod) else -math.inf, baseline.floor.get(code, -math.inf))
            found = emission_steps(code, resid[code], sb, values=series.valid(code), floor=floor)
            if found:
                steps[code] = found
        for pattern, group in classify_steps(steps, SOURCE_GASES):
            params = [c for s in group for c in (s.code, s.code + CORRECTED_SUFFIX) if c in series.values]
            out.append(step_evidence(times, pattern, group, resid, station=sid, parameters=params))
    return out


@dataclass
class _CopyPair:
    """One pair of stations under test for copying (all the parameters they share)."""

    series: StationSeries
    other: StationSeries
    codes: tuple[str, ...]
    neighbours: Mapping[str, StationSeries]
    resolution: Mapping[str, float]
    window: int
    _losses: dict[tuple[int, int], float] | None = None

    def margin(self, a: int, b: int) -> float:
        """How much more this station's relations changed than the other's during [a, b), summed
        over the shared parameters and over two partners (its own CO, and the third stations),
        plus how much more its series jumps at the two ends: a copy carries the source's air, so
        only the copier's relation to its own air changes, and only the copier is spliced."""
        if self._losses is None:
            self._losses = {}
        if (a, b) not in self._losses:
            total = 0.0
            me, them = self.series, self.other
            for code in self.codes:
                mine = me.valid(code)
                theirs = align(them.valid(code), them, me)
                m = match_indicator(mine[a:b], theirs[a:b], self.resolution.get(code, 0.0))
                if not (np.isfinite(m).any() and float(np.nanmean(m)) >= 0.5):
                    continue  # only the parameters copied in this stretch speak for its direction
                mine_log = to_log(mine, 1.0)
                theirs_log = to_log(theirs, 1.0)
                for use_co in (True, False):
                    own_p = partner_log(me, code, {them.station_id}, self.neighbours, use_co=use_co)
                    their_p = align(
                        partner_log(them, code, {me.station_id}, self.neighbours, use_co=use_co), them, me
                    )
                    if not (np.isfinite(own_p).any() and np.isfinite(their_p).any()):
                        continue
                    # a copier's relation to its own air changes; the source's does not
                    total += relation_change(mine_log, own_p, a, b)
                    total -= relation_change(theirs_log, their_p, a, b)
                # the copier's series is spliced at both ends of the copy, the source's is not
                total += splice_jumps(mine_log, a, b) - splice_jumps(theirs_log, a, b)
            self._losses[(a, b)] = total
        return self._losses[(a, b)]

    def shared(self, code: str, y: FloatArray, a: int, b: int) -> bool:
        """Whether a third station also matches the other station's values during [a, b)."""
        for tid, o in self.neighbours.items():
            if tid in (self.other.station_id, self.series.station_id):
                continue
            if o.kind != self.series.kind or code not in o.values:
                continue
            z = align(o.valid(code), o, self.series)[a:b]
            m = match_indicator(y[a:b], z, self.resolution.get(code, 0.0))
            if np.isfinite(m).any() and float(np.nanmean(m)) >= SHARED_MATCH:
                return True
        return False


def _scan_copies(
    series: StationSeries, baseline: StationBaseline, neighbours: Mapping[str, StationSeries]
) -> list[Evidence]:
    out: list[Evidence] = []
    window = max(3, series.per_day)
    pairs: dict[str, _CopyPair] = {}
    for code, models in baseline.copy_models.items():
        if code not in series.values:
            continue
        x = series.valid(code)
        res = baseline.hour_resolution.get(code, 0.0)
        for sid, mm in models.items():
            other = neighbours.get(sid)
            if other is None or code not in other.values:
                continue
            if sid not in pairs:
                shared_codes = tuple(
                    c for c in baseline.copy_models if sid in baseline.copy_models[c] and c in other.values
                )
                pairs[sid] = _CopyPair(
                    series, other, shared_codes, neighbours, baseline.hour_resolution, window
                )
            pair = pairs[sid]
            y = align(other.valid(code), other, series)
            out += copied_series(
                series.times,
                x,
                y,
                res=res,
                station=series.station_id,
                source=sid,
                parameters=[code],
                copier_margin=pair.margin,
                model=mm,
                shared=functools.partial(pair.shared, code, y),
            )
    return out


def detect_network(
    stations: Mapping[str, StationSeries], baselines: Mapping[str, StationBaseline] | None = None
) -> list[Evidence]:
    """Fit (unless given) and scan every station of a network; evidence of all stations."""
    out: list[Evidence] = []
    for sid, series in stations.items():
        bl = baselines[sid] if baselines is not None and sid in baselines else fit_station(series, stations)
        out += scan_station(series, bl, stations)
    return out
