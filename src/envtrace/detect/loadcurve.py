"""What a flue-gas pollutant should read at a given unit load: the unit's own load curve.

A unit's raw-gas concentrations and its abatement both depend on load, so the log concentration
of a pollutant is summarised per unit as the median in each of ten load deciles (running hours
with normal flags only), joined by linear interpolation. The residual ``log(x + c) - curve(load)``
is what the flue-gas detectors test; medians make the curve insensitive to the weeks a
manipulation may have touched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.neighbours import to_log
from envtrace.detect.robust import FloatArray

LOAD_BINS = 10
MIN_POINTS = 200


@dataclass(frozen=True, slots=True)
class LoadCurve:
    """Median log level of a pollutant at the centre of each load bin."""

    shift: float
    centres: tuple[float, ...]
    medians: tuple[float, ...]

    def expected(self, load: FloatArray) -> FloatArray:
        """Expected ``log(x + shift)`` at each load (NaN where the load is missing or <= 0)."""
        if not self.centres:
            return np.full(len(load), np.nan)
        e = np.interp(load, np.asarray(self.centres), np.asarray(self.medians))
        return np.where(np.isfinite(load) & (load > 0), e, np.nan)

    def residual(self, values: FloatArray, load: FloatArray) -> FloatArray:
        """``log(x + shift) - expected(load)``."""
        return to_log(values, self.shift) - self.expected(load)

    def to_dict(self) -> dict[str, object]:
        return {"shift": self.shift, "centres": list(self.centres), "medians": list(self.medians)}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> LoadCurve:
        c = d["centres"]
        m = d["medians"]
        return cls(
            float(str(d["shift"])),
            tuple(float(x) for x in c) if isinstance(c, list) else (),
            tuple(float(x) for x in m) if isinstance(m, list) else (),
        )


def fit_load_curve(values: FloatArray, load: FloatArray, shift: float) -> LoadCurve | None:
    """Learn the load curve of a pollutant; None with fewer than 200 running hours.

    Raises
    ------
    InvalidParameter
        when ``shift`` is not positive.
    """
    if not (math.isfinite(shift) and shift > 0):
        raise InvalidParameter("shift", shift, "a positive log offset")
    lv = to_log(values, shift)
    ok = np.isfinite(lv) & np.isfinite(load) & (load > 0)
    if np.count_nonzero(ok) < MIN_POINTS:
        return None
    ld = load[ok]
    y = lv[ok]
    edges = np.unique(np.quantile(ld, np.linspace(0, 1, LOAD_BINS + 1)))
    if len(edges) < 2:
        return LoadCurve(shift, (float(np.median(ld)),), (float(np.median(y)),))
    k = np.clip(np.searchsorted(edges, ld, side="right") - 1, 0, len(edges) - 2)
    centres: list[float] = []
    medians: list[float] = []
    for b in range(len(edges) - 1):
        sel = k == b
        if np.count_nonzero(sel) >= 10:
            centres.append(float(np.median(ld[sel])))
            medians.append(float(np.median(y[sel])))
    return LoadCurve(shift, tuple(centres), tuple(medians))
