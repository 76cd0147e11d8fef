"""A station's pollutant predicted from its neighbours, the hour, the season and its own gases.

The neighbour model of :mod:`envtrace.detect.neighbours` predicts a station's log level as the
median of its offset-corrected neighbours: robust, but every neighbour counts the same, and the
station's usual departures by hour of day and season are left in the residual. This module fits,
per station and pollutant, a robust linear regression of ``log(x + c)`` on

- each chosen neighbour's offset-corrected log value (a missing neighbour is replaced by the
  median of the others), so that closer-moving neighbours get more weight;
- two harmonics of the hour of day and one of the day of the year (a suburban station reads lower
  than its urban neighbours at night and in the heating season);
- optionally the station's own covariates, e.g. its gas residuals against their neighbours: CO and
  NO2 are co-emitted with combustion particles, so a local plume raises them together.

The fit is Huber's M-estimator by iteratively reweighted least squares (Huber 1964; the scale is
the MAD of the residuals), so that the few manipulated stretches of a history do not set the
coefficients. The residual ``log(x + c) - prediction`` is what the level-shift, sampler-interference
and threshold-shaving detectors test: on the Beijing stations its hour-to-day scale is a third
lower than that of the neighbour median.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from envtrace.detect.neighbours import NeighbourModel, nan_median_rows, to_log
from envtrace.detect.robust import MAD_TO_SIGMA, FloatArray, IntArray, location_scale, month_position

#: Huber's tuning constant (95 % efficiency at the normal).
HUBER_K = 1.345
IRLS_ITERATIONS = 12
#: Rows needed per coefficient before a regression is fitted.
ROWS_PER_COEFFICIENT = 20


@dataclass(frozen=True, slots=True)
class RegressionModel:
    """Robust regression of one parameter's log value at one station (see the module notes).

    ``coef`` holds, in order: one coefficient per neighbour, the intercept, the hour-of-day terms
    (``hour_terms`` of them: 0 for daily data, else 4), the two day-of-year terms, and one per
    covariate in ``covariates``.
    """

    code: str
    shift: float
    neighbours: tuple[str, ...]
    offsets: tuple[float, ...]
    covariates: tuple[str, ...]
    hour_terms: int
    coef: tuple[float, ...]
    scale: float

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "shift": self.shift,
            "neighbours": list(self.neighbours),
            "offsets": list(self.offsets),
            "covariates": list(self.covariates),
            "hour_terms": self.hour_terms,
            "coef": list(self.coef),
            "scale": self.scale,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> RegressionModel:
        def floats(x: object) -> tuple[float, ...]:
            return tuple(float(v) for v in x) if isinstance(x, list | tuple) else ()

        def strings(x: object) -> tuple[str, ...]:
            return tuple(str(v) for v in x) if isinstance(x, list | tuple) else ()

        return cls(
            code=str(d["code"]),
            shift=float(str(d["shift"])),
            neighbours=strings(d["neighbours"]),
            offsets=floats(d["offsets"]),
            covariates=strings(d.get("covariates", [])),
            hour_terms=int(str(d["hour_terms"])),
            coef=floats(d["coef"]),
            scale=float(str(d["scale"])),
        )


def time_terms(times: IntArray, utc_offset_s: int, hour_terms: int) -> list[FloatArray]:
    """Intercept, hour-of-day harmonics (``hour_terms`` columns) and the annual harmonic."""
    n = len(times)
    cols: list[FloatArray] = [np.ones(n)]
    if hour_terms:
        hod = ((times + utc_offset_s) % 86400) / 86400.0 * 2.0 * math.pi
        for k in range(1, hour_terms // 2 + 1):
            cols += [np.sin(k * hod), np.cos(k * hod)]
    year = month_position(times, utc_offset_s) / 12.0 * 2.0 * math.pi
    cols += [np.sin(year), np.cos(year)]
    return cols


def _neighbour_columns(
    neighbours: Sequence[str],
    offsets: Sequence[float],
    shift: float,
    candidates: Mapping[str, FloatArray],
    n: int,
) -> list[FloatArray] | None:
    cols = [
        to_log(candidates[s], shift) + off if s in candidates else np.full(n, np.nan)
        for s, off in zip(neighbours, offsets, strict=True)
    ]
    if not cols or all(not np.isfinite(c).any() for c in cols):
        return None
    med = nan_median_rows(np.vstack(cols))
    return [np.where(np.isfinite(c), c, med) for c in cols]


def _design(
    neighbours: Sequence[str],
    offsets: Sequence[float],
    shift: float,
    candidates: Mapping[str, FloatArray],
    times: IntArray,
    utc_offset_s: int,
    hour_terms: int,
    covariates: Sequence[FloatArray],
) -> FloatArray | None:
    cols = _neighbour_columns(neighbours, offsets, shift, candidates, len(times))
    if cols is None:
        return None
    cols += time_terms(times, utc_offset_s, hour_terms)
    cols += [np.where(np.isfinite(c), c, 0.0) for c in covariates]
    return np.column_stack(cols)


def huber_regression(x: FloatArray, y: FloatArray, *, iterations: int = IRLS_ITERATIONS) -> FloatArray:
    """Huber M-estimate of ``y ~ x`` by iteratively reweighted least squares (rows finite)."""
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    for _ in range(iterations):
        r = y - x @ coef
        s = float(np.median(np.abs(r - np.median(r)))) * MAD_TO_SIGMA
        if not s > 0:
            break
        w = np.sqrt(np.minimum(1.0, HUBER_K * s / np.maximum(np.abs(r), 1e-12)))
        new = np.linalg.lstsq(x * w[:, None], y * w, rcond=None)[0]
        if float(np.max(np.abs(new - coef))) < 1e-5:
            coef = new
            break
        coef = new
    return np.asarray(coef, dtype=np.float64)


def fit_regression(
    model: NeighbourModel,
    target: FloatArray,
    candidates: Mapping[str, FloatArray],
    times: IntArray,
    *,
    utc_offset_s: int,
    per_day: int,
    covariates: Mapping[str, FloatArray] | None = None,
) -> RegressionModel | None:
    """Fit the regression of ``target`` (valid values on the grid of ``times``) on the
    neighbours of ``model``; None when there are too few complete rows."""
    cov = dict(covariates or {})
    hour_terms = 4 if per_day > 1 else 0
    x = _design(
        model.neighbours,
        model.offsets,
        model.shift,
        candidates,
        times,
        utc_offset_s,
        hour_terms,
        list(cov.values()),
    )
    if x is None:
        return None
    y = to_log(target, model.shift)
    ok = np.isfinite(y) & np.isfinite(x).all(axis=1)
    if np.count_nonzero(ok) < ROWS_PER_COEFFICIENT * x.shape[1]:
        return None
    coef = huber_regression(x[ok], y[ok])
    _, scale = location_scale(y[ok] - x[ok] @ coef, floor=1e-3)
    return RegressionModel(
        code=model.code,
        shift=model.shift,
        neighbours=model.neighbours,
        offsets=model.offsets,
        covariates=tuple(cov),
        hour_terms=hour_terms,
        coef=tuple(float(c) for c in coef),
        scale=scale,
    )


def predict_log(
    rm: RegressionModel,
    candidates: Mapping[str, FloatArray],
    times: IntArray,
    *,
    utc_offset_s: int,
    covariates: Mapping[str, FloatArray] | None = None,
) -> FloatArray:
    """Predicted ``log(x + shift)`` on the grid of ``times`` (NaN where no neighbour reports);
    a missing covariate counts as 0 (its usual value)."""
    cov = covariates or {}
    n = len(times)
    x = _design(
        rm.neighbours,
        rm.offsets,
        rm.shift,
        candidates,
        times,
        utc_offset_s,
        rm.hour_terms,
        [cov.get(c, np.zeros(n)) for c in rm.covariates],
    )
    if x is None or x.shape[1] != len(rm.coef):
        return np.full(n, np.nan)
    return np.asarray(x @ np.asarray(rm.coef), dtype=np.float64)


def regression_residual(
    rm: RegressionModel,
    target: FloatArray,
    candidates: Mapping[str, FloatArray],
    times: IntArray,
    *,
    utc_offset_s: int,
    covariates: Mapping[str, FloatArray] | None = None,
) -> FloatArray:
    """``log(x + shift)`` minus its prediction (NaN where either is missing)."""
    pred = predict_log(rm, candidates, times, utc_offset_s=utc_offset_s, covariates=covariates)
    return to_log(target, rm.shift) - pred


def network_spread(
    model: NeighbourModel | RegressionModel, candidates: Mapping[str, FloatArray]
) -> FloatArray | None:
    """Per grid point, the median absolute deviation of the offset-corrected neighbour log values
    from their median: how much the network disagrees with itself at that moment (fronts and
    plumes make it large, a well-mixed air mass small). None without two neighbours."""
    cols = [
        to_log(candidates[s], model.shift) + off
        for s, off in zip(model.neighbours, model.offsets, strict=True)
        if s in candidates
    ]
    if len(cols) < 2:
        return None
    m = np.vstack(cols)
    med = nan_median_rows(m)
    dev = nan_median_rows(np.abs(m - med))
    cnt = np.isfinite(m).sum(axis=0)
    return np.where(cnt >= 2, dev, np.nan)
