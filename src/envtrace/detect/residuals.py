"""The series the detectors test, derived from a station and its neighbours.

Residuals against the neighbours (ambient) or the load curve (flue gas), daily means, the
particle-gas contrast, the gaps with the rank of their proxies, the correction-formula ratios, and
the stillness of the neighbours: each is computed from a :class:`StationSeries`, the station's
:class:`StationBaseline` and the neighbour series, the same way in batch and live runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from envtrace.detect.baseline import StationBaseline
from envtrace.detect.correction import correction_log_ratio
from envtrace.detect.deletion import (
    LOCAL_DAYS,
    MAX_INTERPOLATED_GAP_HOURS,
    GapRuns,
    combined_rank,
    gap_runs,
    interpolate_short_gaps,
)
from envtrace.detect.frozen import still_shared
from envtrace.detect.interference import SMOOTH_HOURS, ParticleResiduals, particle_residuals
from envtrace.detect.neighbours import expected_log, nan_median_rows, residual, to_log
from envtrace.detect.regression import RegressionModel, network_spread, predict_log
from envtrace.detect.robust import FloatArray, IntArray, daily_index, daily_means, resolution, rolling_mean
from envtrace.detect.series import (
    CO,
    CORRECTED_SUFFIX,
    FLAG_CALIBRATION,
    FLAG_STOPPED,
    LOAD,
    NO2,
    O2,
    PM10,
    PM25,
    SO2,
    StationSeries,
    align,
)

GAS_CODES = (CO, NO2, SO2)


def is_pollutant(code: str) -> bool:
    """True for pollutant codes (HJ 212 a21*, a34*, O3 ...), measured or corrected."""
    base = code.removesuffix(CORRECTED_SUFFIX)
    return base.startswith(("a21", "a34", "a05024", "a24", "a25"))


def neighbour_values(
    series: StationSeries, code: str, neighbours: Mapping[str, StationSeries]
) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    for sid, other in neighbours.items():
        if sid == series.station_id or other.kind != series.kind or code not in other.values:
            continue
        out[sid] = align(other.valid(code), other, series)
    return out


def ambient_residuals(
    series: StationSeries, baseline: StationBaseline, neighbours: Mapping[str, StationSeries]
) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    for code, model in baseline.neighbours.items():
        if code not in series.values:
            continue
        cand = {s: v for s, v in neighbour_values(series, code, neighbours).items() if s in model.neighbours}
        if not cand:
            continue
        out[code] = residual(model, series.valid(code), cand)
    return out


def load_of(series: StationSeries) -> FloatArray | None:
    return series.valid(LOAD) if series.has(LOAD) else None


def correction_ratios(series: StationSeries) -> dict[str, FloatArray]:
    """Log ratio of every corrected parameter to its HJ 75 formula, where it can be formed."""
    out: dict[str, FloatArray] = {}
    if not series.has(O2):
        return out
    o2 = series.valid(O2)
    for code in series.values:
        if not code.endswith(CORRECTED_SUFFIX):
            continue
        meas = code.removesuffix(CORRECTED_SUFFIX)
        ref = series.param(code).o2_ref
        if not (series.has(meas) and series.has(code) and math.isfinite(ref)):
            continue
        out[code] = correction_log_ratio(
            series.valid(meas), series.valid(code), o2, o2_ref=ref, lod=series.param(meas).lod
        )
    return out


def deletion_codes(series: StationSeries) -> list[str]:
    """Pollutants whose gaps are tested: the measured ones (a corrected value follows them)."""
    if series.per_day <= 1:
        return []
    return [
        c for c in series.values if is_pollutant(c) and not c.endswith(CORRECTED_SUFFIX) and series.has(c)
    ]


def gap_ranks(
    series: StationSeries, bl: StationBaseline, code: str, neighbours: Mapping[str, StationSeries]
) -> GapRuns | None:
    """Gap runs of a parameter with the rank of their proxies (None without any proxy)."""
    v = series.valid(code)
    flag = series.flag(code)
    short = max(1, MAX_INTERPOLATED_GAP_HOURS * 3600 // series.step)
    window = LOCAL_DAYS * series.per_day
    proxies: list[FloatArray] = [interpolate_short_gaps(to_log(v, 1.0), short)]
    if series.kind == "source":
        load = load_of(series)
        if load is None:
            return None
        load_i = interpolate_short_gaps(load, short)
        proxies.append(load_i)
        missing = (
            ~np.isfinite(v)
            & (flag != FLAG_STOPPED)
            & (flag != FLAG_CALIBRATION)
            & (np.nan_to_num(load_i) > 0)
        )
    else:
        model = bl.neighbours.get(code)
        if model is not None:
            cand = {
                s: x for s, x in neighbour_values(series, code, neighbours).items() if s in model.neighbours
            }
            if cand:
                proxies.append(expected_log(model, cand))
        for gas in (CO, NO2):
            if gas != code and series.has(gas):
                proxies.append(to_log(series.valid(gas), 0.1))
        if len(proxies) < 2:
            return None
        missing = ~np.isfinite(v)
    return gap_runs(missing, combined_rank(proxies, missing, window))


def clip_codes(series: StationSeries) -> list[str]:
    """Parameters a cap can be applied to: those with a limit, and their measured twins."""
    out = []
    for code in series.values:
        lim = series.param(code).limit
        twin_lim = series.param(code + CORRECTED_SUFFIX).limit
        if (math.isfinite(lim) and lim > 0) or (math.isfinite(twin_lim) and twin_lim > 0):
            out.append(code)
    return out


def covariate(
    series: StationSeries, bl: StationBaseline, code: str, neighbours: Mapping[str, StationSeries]
) -> tuple[FloatArray | None, FloatArray | None]:
    """``log(x + c)`` and its expected value from the neighbours (ambient) or the load curve."""
    v = series.valid(code)
    model = bl.neighbours.get(code)
    if model is not None:
        cand = {s: x for s, x in neighbour_values(series, code, neighbours).items() if s in model.neighbours}
        if cand:
            return to_log(v, model.shift), expected_log(model, cand) + model.residual_median
    lc = bl.load_curves.get(code)
    if lc is not None and series.has(LOAD):
        return to_log(v, lc.shift), lc.expected(series.valid(LOAD))
    return None, None


def daily_residuals(
    series: StationSeries, resid: Mapping[str, FloatArray]
) -> tuple[IntArray, dict[str, FloatArray]]:
    """Daily means of hourly residuals (half the day needed)."""
    out: dict[str, FloatArray] = {}
    days = daily_index(series.times[:1], series.utc_offset_s)
    for code, r in resid.items():
        if series.per_day <= 1:
            days, out[code] = daily_index(series.times, series.utc_offset_s), r
        else:
            days, out[code], _ = daily_means(
                r, series.times, series.utc_offset_s, min_count=series.per_day // 2
            )
    return days, out


def daily_values(series: StationSeries, code: str) -> tuple[IntArray, FloatArray]:
    """Local days and daily means (20 valid hours needed for hourly data)."""
    v = series.valid(code)
    if series.per_day <= 1:
        return daily_index(series.times, series.utc_offset_s), v
    days, means, _ = daily_means(
        v, series.times, series.utc_offset_s, min_count=max(1, series.per_day * 20 // 24)
    )
    return days, means


def gas_covariates(resid: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """The station's gas residuals against their neighbours (CO, NO2, SO2): the covariates of
    the particle regressions (co-emitted with combustion particles)."""
    return {c: resid[c] for c in GAS_CODES if c in resid}


def regression_candidates(
    series: StationSeries, rm: RegressionModel, neighbours: Mapping[str, StationSeries]
) -> dict[str, FloatArray]:
    return {s: v for s, v in neighbour_values(series, rm.code, neighbours).items() if s in rm.neighbours}


def regression_prediction(
    series: StationSeries,
    rm: RegressionModel,
    neighbours: Mapping[str, StationSeries],
    covariates: Mapping[str, FloatArray] | None = None,
) -> FloatArray:
    """Predicted ``log(x + shift)`` of ``rm.code`` at ``series`` (NaN where no neighbour reports)."""
    cand = regression_candidates(series, rm, neighbours)
    if not cand:
        return np.full(series.n, np.nan)
    return predict_log(rm, cand, series.times, utc_offset_s=series.utc_offset_s, covariates=covariates)


def regression_residuals(
    series: StationSeries, models: Mapping[str, RegressionModel], neighbours: Mapping[str, StationSeries]
) -> dict[str, FloatArray]:
    """Log residuals of every parameter with a regression model (no covariates)."""
    out: dict[str, FloatArray] = {}
    for code, rm in models.items():
        if code not in series.values:
            continue
        pred = regression_prediction(series, rm, neighbours)
        if np.isfinite(pred).any():
            out[code] = to_log(series.valid(code), rm.shift) - pred
    return out


def predicted_daily(
    series: StationSeries,
    bl: StationBaseline,
    code: str,
    neighbours: Mapping[str, StationSeries],
    resid: Mapping[str, FloatArray],
) -> FloatArray | None:
    """Daily means of ``code`` as the particle regression predicts them, over the hours the
    station reported (so that the prediction and the reported mean cover the same hours); None
    without a particle regression for ``code``."""
    rm = bl.particles.get(code)
    if rm is None:
        return None
    pred = regression_prediction(series, rm, neighbours, gas_covariates(resid))
    if not np.isfinite(pred).any():
        return None
    conc = np.maximum(np.exp(pred) - rm.shift, 0.0)
    conc = np.where(np.isfinite(series.valid(code)), conc, np.nan)
    if series.per_day <= 1:
        return conc
    _, means, _ = daily_means(
        conc, series.times, series.utc_offset_s, min_count=max(1, series.per_day * 20 // 24)
    )
    return means


def particle_inputs(
    series: StationSeries,
    bl: StationBaseline,
    neighbours: Mapping[str, StationSeries],
    resid: Mapping[str, FloatArray],
) -> ParticleResiduals | None:
    """The sampler-interference inputs: the particle regressions' residuals (with the station's
    gas residuals as covariates), the predicted PM2.5 level, the network spread and the hours a
    common factor can be judged; None without both particle models."""
    if PM25 not in bl.particles or PM10 not in bl.particles:
        return None
    cov = gas_covariates(resid)
    res: dict[str, FloatArray] = {}
    pred: dict[str, FloatArray] = {}
    spreads: list[FloatArray] = []
    for code in (PM25, PM10):
        rm = bl.particles[code]
        cand = regression_candidates(series, rm, neighbours)
        if not cand:
            return None
        pred[code] = predict_log(rm, cand, series.times, utc_offset_s=series.utc_offset_s, covariates=cov)
        res[code] = to_log(series.valid(code), rm.shift) - pred[code]
        sp = network_spread(rm, cand)
        if sp is not None:
            spreads.append(sp)
    smooth = max(1, int(SMOOTH_HOURS * 3600 / series.step))
    if spreads:
        m = np.vstack(spreads)
        cnt = np.isfinite(m).sum(axis=0)
        mean = np.where(
            cnt > 0, np.nansum(np.where(np.isfinite(m), m, 0.0), axis=0) / np.maximum(cnt, 1), np.nan
        )
        spread = rolling_mean(mean, smooth, min_count=max(1, smooth // 2), center=True)
    else:
        spread = np.full(series.n, np.nan)
    return particle_residuals(
        res[PM25],
        res[PM10],
        list(cov.values()),
        pred[PM25],
        spread,
        pm25_raw=series.valid(PM25),
        pm10_raw=series.valid(PM10),
        resolution=max(bl.hour_resolution.get(PM25, 0.0), bl.hour_resolution.get(PM10, 0.0)),
    )


def partner_log(
    st: StationSeries,
    code: str,
    exclude: set[str],
    neighbours: Mapping[str, StationSeries],
    *,
    use_co: bool = True,
) -> FloatArray:
    """A series a station's ``code`` is normally coupled to: its own CO (``use_co``; NaN when it
    has none), or the median of the other stations' ``code`` (``exclude`` left out)."""
    if use_co:
        if code != CO and st.has(CO):
            return to_log(st.valid(CO), 0.1)
        return np.full(st.n, np.nan)
    cols = [
        to_log(align(o.valid(code), o, st), 1.0)
        for sid, o in neighbours.items()
        if sid not in exclude and sid != st.station_id and o.kind == st.kind and code in o.values
    ]
    if not cols:
        return np.full(st.n, np.nan)
    return nan_median_rows(np.vstack(cols))


def network_still(
    series: StationSeries, code: str, baseline: StationBaseline, neighbours: Mapping[str, StationSeries]
) -> FloatArray | None:
    model = baseline.neighbours.get(code)
    if model is None:
        return None
    vals = neighbour_values(series, code, neighbours)
    cols = [vals[s] for s in model.neighbours if s in vals]
    if not cols:
        return None
    return still_shared(cols, [resolution(c) for c in cols])
