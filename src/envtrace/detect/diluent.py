"""Diluent consistency: O2 and CO2 of a flue gas must obey the fuel's combustion relation.

Targets a sample diluted with air while the reported O2 is kept at (or reset to) its undiluted
value: the pollutants and CO2 drop together, but the reported O2 no longer matches the reported
CO2. Combustion fixes the relation: each fuel has a maximum CO2 (``CO2max``, about 18.5-19 % for
coal) reached at zero excess air, and excess air dilutes both, so for dry flue gas
``O2 + (20.9 / CO2max) * CO2 ~ 20.9`` (EPA Method 3B's consistency check and the F-factor
relation of EPA Method 19, ``Fo = (20.9 - O2) / CO2``, which is constant for a fuel).

Notes
-----
The unit's relation is learned from its own running hours with normal flags: ``k`` is the
median of ``(20.9 - O2) / CO2`` (the reciprocal of Method 19's ``Fo``), and the residual
``d = O2 + k CO2 - 20.9`` gets a robust location and scale per load decile (a control chart per
load bin; start-ups and low load are allowed their own spread). Hours with calibration,
maintenance or fault flags are ignored, and so are stopped hours (O2 near 20.9, CO2 near 0, which
satisfy the relation anyway). Runs of hours with ``|z| > 4`` are excursions; an excursion is
evidence when its mass (sum of ``|z| - 4``) is so large that the unit's own excursion tail (peaks
over threshold, :mod:`envtrace.detect.robust`) expects it less often than the budget per year.
A negative ``d`` (too little O2 for the CO2, or CO2 too low for the O2) is the dilution pattern
and reported as fraud; a positive one is reported as a quality finding (analyser drift).
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

AIR_O2 = 20.9
BASE = 4.0
LOAD_BINS = 5
MIN_CO2 = 1.0


@dataclass(frozen=True, slots=True)
class DiluentBaseline:
    """The unit's O2-CO2 relation and the control limits of its residual by load bin."""

    k: float
    load_edges: tuple[float, ...]
    centres: tuple[float, ...]
    scales: tuple[float, ...]
    tail: ExcursionTail

    def standardise(self, o2: FloatArray, co2: FloatArray, load: FloatArray) -> FloatArray:
        """z-score of ``O2 + k CO2 - 20.9`` against the load bin's centre and scale."""
        d = o2 + self.k * co2 - AIR_O2
        b = np.searchsorted(np.asarray(self.load_edges), np.nan_to_num(load, nan=-1.0), side="right")
        z: FloatArray = (d - np.asarray(self.centres)[b]) / np.asarray(self.scales)[b]
        return z

    def to_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "load_edges": list(self.load_edges),
            "centres": list(self.centres),
            "scales": list(self.scales),
            "tail": self.tail.to_list(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> DiluentBaseline:
        def floats(x: object) -> tuple[float, ...]:
            return tuple(float(v) for v in x) if isinstance(x, list) else ()

        return cls(
            float(str(d["k"])),
            floats(d["load_edges"]),
            floats(d["centres"]),
            floats(d["scales"]),
            ExcursionTail.from_list(floats(d["tail"])),
        )


def running_mask(o2: FloatArray, co2: FloatArray, load: FloatArray | None) -> FloatArray:
    """1.0 where the unit burns fuel (CO2 above 1 %, load positive when known), else NaN."""
    ok = np.isfinite(o2) & np.isfinite(co2) & (co2 > MIN_CO2)
    if load is not None:
        ok &= np.isfinite(load) & (load > 0)
    return np.where(ok, 1.0, np.nan)


def fit_diluent(
    o2: FloatArray, co2: FloatArray, load: FloatArray | None, years: float
) -> DiluentBaseline | None:
    """Learn ``k``, the control limits per load bin and the excursion tail; None with under 200
    running hours."""
    run = running_mask(o2, co2, load)
    ok = np.isfinite(run)
    if np.count_nonzero(ok) < 200:
        return None
    k = float(np.median((AIR_O2 - o2[ok]) / co2[ok]))
    if not (math.isfinite(k) and k > 0):
        return None
    d = o2 + k * co2 - AIR_O2
    ld = load if load is not None else np.zeros(len(o2))
    edges = (
        np.unique(np.quantile(ld[ok], np.linspace(0, 1, LOAD_BINS + 1)[1:-1]))
        if load is not None
        else np.zeros(0)
    )
    b = np.searchsorted(edges, np.nan_to_num(ld, nan=-1.0), side="right")
    centres: list[float] = []
    scales: list[float] = []
    _, overall = location_scale(d[ok], floor=1e-3)
    for i in range(len(edges) + 1):
        sel = ok & (b == i)
        c, s = location_scale(d[sel], floor=1e-3) if np.count_nonzero(sel) >= 50 else (0.0, overall)
        centres.append(c)
        scales.append(max(s, 0.02))
    bl = DiluentBaseline(
        k, tuple(float(e) for e in edges), tuple(centres), tuple(scales), ExcursionTail(0, 1, 1)
    )
    z = np.where(ok, bl.standardise(o2, co2, ld), np.nan)
    ex = excursions(np.abs(z), BASE, max_gap=2)
    tail = fit_excursion_tail([e.mass for e in ex], years, prior_beta=prior_mass_scale(z, BASE))
    return DiluentBaseline(k, bl.load_edges, bl.centres, bl.scales, tail)


def diluent_inconsistency(
    times: IntArray,
    o2: FloatArray,
    co2: FloatArray,
    load: FloatArray | None,
    baseline: DiluentBaseline,
    *,
    station: str,
    parameters: Sequence[str],
    budget_per_year: float = 1e-2,
) -> list[Evidence]:
    """Stretches where reported O2 and CO2 break the unit's combustion relation.

    ``parameters`` are those the finding concerns (O2, CO2 and the pollutants the dilution
    lowered); ``o2``, ``co2``, ``load`` are valid values (NaN where missing or flagged).

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    step = int(times[1] - times[0]) if len(times) > 1 else 3600
    run = running_mask(o2, co2, load)
    ld = load if load is not None else np.zeros(len(o2))
    z = np.where(np.isfinite(run), baseline.standardise(o2, co2, ld), np.nan)
    out: list[Evidence] = []
    for ex in excursions(np.abs(z), BASE, max_gap=2):
        exp_year = baseline.tail.expected_per_year(ex.mass)
        if exp_year > budget_per_year:
            continue
        a, b = ex.start, ex.stop
        zs = z[a:b]
        med = float(np.nanmedian(zs))
        d = o2[a:b] + baseline.k * co2[a:b] - AIR_O2
        dmed = float(np.nanmedian(d))
        fraud = med < 0
        out.append(
            Evidence(
                detector="diluent_inconsistency",
                station=station,
                parameters=tuple(parameters),
                start=int(times[a]),
                end=int(times[b - 1]) + step,
                pattern="diluent_tamper" if fraud else "diluent_drift",
                kind="fraud" if fraud else "qc",
                score=score_from_expected(exp_year) if fraud else 0.5,
                statistic=dmed,
                baseline=float(np.median(baseline.centres)),
                threshold=budget_per_year,
                reason_en=(
                    f"O2 + {baseline.k:.3f} x CO2 - 20.9 was {dmed:+.2f} % for {(b - a) * step / 3600:.0f} h "
                    f"(this unit's usual value {float(np.median(baseline.centres)):+.2f} +- "
                    f"{float(np.median(baseline.scales)):.2f}): the reported O2 does not belong to the "
                    "reported "
                    f"CO2; expected {exp_year:.2g} times per unit-year"
                ),
                reason_zh=(
                    f"O2 + {baseline.k:.3f}×CO2 - 20.9 在{(b - a) * step / 3600:.0f}小时内为{dmed:+.2f}%"
                    f"（本机组通常为{float(np.median(baseline.centres)):+.2f}±{float(np.median(baseline.scales)):.2f}）："
                    f"报送的氧含量与二氧化碳含量不符合燃料燃烧关系；每台机组每年预计仅出现{exp_year:.2g}次"
                ),
                expected_per_year=exp_year,
                plots=(
                    plot_series("O2 + k CO2 - 20.9", times, o2 + baseline.k * co2 - AIR_O2, a - 48, b + 48),
                ),
            )
        )
    return out
