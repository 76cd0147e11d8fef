"""What a station should have measured, judged from the stations that move with it.

Ambient pollutant levels over a city or a region rise and fall together with the weather, so the
stations whose hour-to-hour anomalies correlate best with a station's own predict it well. The
model here picks up to five such neighbours per parameter (by the correlation of their log
anomalies, i.e. log values minus a 30-day running mean), learns each neighbour's typical log ratio
to the station (median, so robust to the station's own manipulated stretches), and predicts the
station's log level as the median of the offset-corrected neighbour values. The residual
``log(x + c) - expected`` is what the ambient detectors test.

Notes
-----
Selecting reference sites by correlation rather than by distance follows the spatial consistency
checks used for air-quality networks (e.g. the "buddy check" of meteorological QC and the
neighbour-based screening of CNEMC data, Zhang et al. 2017 used this dataset). Medians make the
prediction robust to one neighbour being manipulated itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.robust import FloatArray, location_scale, rolling_mean

MAX_NEIGHBOURS = 5
MIN_CORRELATION = 0.5


@dataclass(frozen=True, slots=True)
class NeighbourModel:
    """Neighbour prediction of one parameter at one station (log scale, shifted by ``shift``)."""

    code: str
    shift: float
    neighbours: tuple[str, ...]
    offsets: tuple[float, ...]
    correlations: tuple[float, ...]
    residual_median: float
    residual_scale: float

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "shift": self.shift,
            "neighbours": list(self.neighbours),
            "offsets": list(self.offsets),
            "correlations": list(self.correlations),
            "residual_median": self.residual_median,
            "residual_scale": self.residual_scale,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> NeighbourModel:
        def floats(x: object) -> tuple[float, ...]:
            return tuple(float(v) for v in x) if isinstance(x, list | tuple) else ()

        nb = d["neighbours"]
        return cls(
            code=str(d["code"]),
            shift=float(str(d["shift"])),
            neighbours=tuple(str(v) for v in nb) if isinstance(nb, list | tuple) else (),
            offsets=floats(d["offsets"]),
            correlations=floats(d["correlations"]),
            residual_median=float(str(d["residual_median"])),
            residual_scale=float(str(d["residual_scale"])),
        )


def log_shift(values: FloatArray, lod: float) -> float:
    """The constant ``c`` of ``log(x + c)``: the detection limit, or 5 % of the median level."""
    v = values[np.isfinite(values)]
    med = float(np.median(v)) if v.size else 1.0
    c = max(0.05 * abs(med), 1e-6)
    if math.isfinite(lod) and lod > 0:
        c = max(c, lod)
    return c


def to_log(values: FloatArray, shift: float) -> FloatArray:
    """``log(max(x, 0) + shift)``, NaN kept."""
    with np.errstate(invalid="ignore"):
        return np.log(np.maximum(values, 0.0) + shift)


def anomalies(logv: FloatArray, per_day: int) -> FloatArray:
    """Log values minus their centred 30-day running mean."""
    w = max(3, 30 * per_day)
    return logv - rolling_mean(logv, w, min_count=max(1, w // 4), center=True)


def _corr(a: FloatArray, b: FloatArray, min_overlap: int) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if np.count_nonzero(ok) < min_overlap:
        return math.nan
    x = a[ok] - a[ok].mean()
    y = b[ok] - b[ok].mean()
    # elementwise products: BLAS dot products spin up threads that cost more than they save here
    den = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    return float((x * y).sum()) / den if den > 0 else math.nan


def fit_neighbour_model(
    code: str,
    target: FloatArray,
    candidates: Mapping[str, FloatArray],
    *,
    lod: float = math.nan,
    per_day: int = 24,
    max_neighbours: int = MAX_NEIGHBOURS,
    min_correlation: float = MIN_CORRELATION,
) -> NeighbourModel | None:
    """Choose the neighbours of one parameter and learn their offsets; None if none qualify.

    ``target`` and every candidate are valid values on the same grid (NaN where missing).

    Raises
    ------
    InvalidParameter
        when ``max_neighbours`` < 1 or ``min_correlation`` is outside [-1, 1].
    """
    if max_neighbours < 1:
        raise InvalidParameter("max_neighbours", max_neighbours, "an integer >= 1")
    if not -1.0 <= min_correlation <= 1.0:
        raise InvalidParameter("min_correlation", min_correlation, "a correlation in [-1, 1]")
    shift = log_shift(target, lod)
    lt = to_log(target, shift)
    at = anomalies(lt, per_day)
    min_overlap = max(10, 30 * per_day)
    scored: list[tuple[float, str]] = []
    for sid, vals in candidates.items():
        c = _corr(at, anomalies(to_log(vals, shift), per_day), min_overlap)
        if math.isfinite(c) and c >= min_correlation:
            scored.append((c, sid))
    if not scored:
        return None
    scored.sort(reverse=True)
    chosen = scored[:max_neighbours]
    names = tuple(s for _, s in chosen)
    offsets: list[float] = []
    for s in names:
        d = lt - to_log(candidates[s], shift)
        med, _ = location_scale(d, floor=1e-3)
        offsets.append(med if math.isfinite(med) else 0.0)
    model = NeighbourModel(code, shift, names, tuple(offsets), tuple(c for c, _ in chosen), 0.0, 1.0)
    r = lt - expected_log(model, candidates)
    med, scale = location_scale(r, floor=1e-3)
    if not math.isfinite(med):
        return None
    return NeighbourModel(code, shift, names, model.offsets, model.correlations, med, scale)


def expected_log(model: NeighbourModel, candidates: Mapping[str, FloatArray]) -> FloatArray:
    """Median of the offset-corrected neighbour log values at each grid point (NaN if none)."""
    cols = [
        to_log(candidates[s], model.shift) + off
        for s, off in zip(model.neighbours, model.offsets, strict=True)
        if s in candidates
    ]
    if not cols:
        return np.zeros(0)
    return nan_median_rows(np.vstack(cols))


def nan_median_rows(m: FloatArray) -> FloatArray:
    """Median over axis 0 ignoring NaN, NaN where a column has no finite value (no warnings)."""
    s = np.sort(m, axis=0)  # NaN sort last
    cnt = np.isfinite(m).sum(axis=0)
    lo = np.clip((cnt - 1) // 2, 0, m.shape[0] - 1)
    hi = np.clip(cnt // 2, 0, m.shape[0] - 1)
    idx = np.arange(m.shape[1])
    med = 0.5 * (s[lo, idx] + s[hi, idx])
    return np.where(cnt > 0, med, np.nan)


def residual(model: NeighbourModel, target: FloatArray, candidates: Mapping[str, FloatArray]) -> FloatArray:
    """``log(x + c) - expected - residual_median``: the station's departure from its neighbours."""
    e = expected_log(model, candidates)
    if e.size == 0:
        return np.full(len(target), np.nan)
    return to_log(target, model.shift) - e - model.residual_median
