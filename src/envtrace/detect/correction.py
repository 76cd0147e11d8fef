"""Correction-formula consistency: the reported corrected (-Zs) value against its formula.

Targets corrected concentrations reported below what the reference-O2 correction of the
reported measured value and O2 gives (a forged ``ZsRtd``/``ZsAvg`` while the measured value is
left alone).

Notes
-----
HJ 75-2017 (and GB 13223 / GB 13271) convert a measured dry concentration to the reference oxygen
content as ``C_ref = C_meas * (21 - O2_ref) / (21 - O2_meas)``. On each running hour the log
ratio of the reported corrected value to this formula is formed. It is not exactly zero in real
DAS output, because the hour's corrected value is the mean of sub-hourly corrected values rather
than the correction of hourly means; the unit's own median and robust scale of the log ratio
absorb that. Hours at or above 19 % O2 (start-up, shut-down: the formula is not applied there),
flagged hours and measured values under three detection limits (rounding dominates) are left
out. Runs with ``z < -4`` are excursions; their masses are calibrated by peaks over threshold
on the unit's own history (:mod:`envtrace.detect.robust`). Positive deviations are quality
findings (a wrong reference O2 or unit), never fraud.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence, plot_series
from envtrace.detect.robust import (
    ExcursionTail,
    FloatArray,
    IntArray,
    excursions,
    fit_excursion_tail,
    location_scale,
    prior_mass_scale,
    score_from_expected,
)

BASE = 4.0
MAX_O2 = 19.0
AIR = 21.0


@dataclass(frozen=True, slots=True)
class CorrectionBaseline:
    """Location and scale of the log ratio reported/formula, and its excursion tail."""

    o2_ref: float
    median: float
    scale: float
    tail: ExcursionTail

    def to_dict(self) -> dict[str, object]:
        return {
            "o2_ref": self.o2_ref,
            "median": self.median,
            "scale": self.scale,
            "tail": self.tail.to_list(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> CorrectionBaseline:
        t = d["tail"]
        return cls(
            float(str(d["o2_ref"])),
            float(str(d["median"])),
            float(str(d["scale"])),
            ExcursionTail.from_list([float(x) for x in t] if isinstance(t, list) else []),
        )


def correction_log_ratio(
    measured: FloatArray, corrected: FloatArray, o2: FloatArray, *, o2_ref: float, lod: float
) -> FloatArray:
    """``log(corrected / formula)`` on hours where the formula applies (NaN elsewhere).

    Raises
    ------
    InvalidParameter
        when ``o2_ref`` is not in [0, 21).
    """
    if not (0.0 <= o2_ref < AIR):
        raise InvalidParameter("o2_ref", o2_ref, "a reference O2 in [0, 21) %")
    floor = 3.0 * lod if math.isfinite(lod) and lod > 0 else 0.0
    ok = (
        np.isfinite(measured)
        & np.isfinite(corrected)
        & np.isfinite(o2)
        & (o2 < MAX_O2)
        & (measured > max(floor, 1e-9))
        & (corrected > 0)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        formula = measured * (AIR - o2_ref) / (AIR - o2)
        r = np.log(corrected / formula)
    return np.where(ok, r, np.nan)


def fit_correction(log_ratio: FloatArray, o2_ref: float, years: float) -> CorrectionBaseline | None:
    """Learn the unit's normal deviation from the formula; None with under 100 usable hours."""
    if np.count_nonzero(np.isfinite(log_ratio)) < 100:
        return None
    med, scale = location_scale(log_ratio, floor=1e-4)
    z = -(log_ratio - med) / scale
    ex = excursions(z, BASE, max_gap=3)
    tail = fit_excursion_tail([e.mass for e in ex], years, prior_beta=prior_mass_scale(z, BASE))
    return CorrectionBaseline(o2_ref, med, scale, tail)


def forged_correction(
    times: IntArray,
    log_ratio: FloatArray,
    baseline: CorrectionBaseline,
    *,
    station: str,
    parameters: Sequence[str],
    budget_per_year: float = 1e-2,
) -> list[Evidence]:
    """Stretches where the corrected value is reported below its formula.

    ``parameters`` are the corrected code first, then its measured twin and O2.

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    step = int(times[1] - times[0]) if len(times) > 1 else 3600
    z = -(log_ratio - baseline.median) / baseline.scale
    out: list[Evidence] = []
    for ex in excursions(z, BASE, max_gap=3):
        exp_year = baseline.tail.expected_per_year(ex.mass)
        if exp_year > budget_per_year:
            continue
        a, b = ex.start, ex.stop
        ratio = math.exp(float(np.nanmedian(log_ratio[a:b])))
        out.append(
            Evidence(
                detector="forged_correction",
                station=station,
                parameters=tuple(parameters),
                start=int(times[a]),
                end=int(times[b - 1]) + step,
                pattern="forged_correction",
                kind="fraud",
                score=score_from_expected(exp_year),
                statistic=ratio,
                baseline=math.exp(baseline.median),
                threshold=budget_per_year,
                reason_en=(
                    f"{parameters[0]} was reported at {ratio:.0%} of measured x (21 - {baseline.o2_ref:g}) / "
                    f"(21 - O2) (HJ 75-2017) for {(b - a) * step / 3600:.0f} h; this unit normally reports "
                    f"{math.exp(baseline.median):.1%} +- {baseline.scale:.1%}; expected {exp_year:.2g} "
                    "times per unit-year"
                ),
                reason_zh=(
                    f"{parameters[0]}在{(b - a) * step / 3600:.0f}小时内仅为"
                    f"实测值×(21-{baseline.o2_ref:g})/(21-O2)"
                    f"（HJ 75-2017 折算公式）的{ratio:.0%}；本机组通常为{math.exp(baseline.median):.1%}±"
                    f"{baseline.scale:.1%}；每台机组每年预计仅出现{exp_year:.2g}次"
                ),
                expected_per_year=exp_year,
                plots=(plot_series("log(reported / formula)", times, log_ratio, a - 48, b + 48),),
            )
        )
    return out
