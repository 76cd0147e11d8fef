"""Emission steps: a pollutant's relation to load drops and stays down, at unchanged load and O2.

Targets two manipulations of extractive flue-gas analysers that lower the reported pollutants
while the process carries on unchanged:

- ``slope_tamper``: from one moment on, one pollutant is scaled down for weeks (an analyser
  parameter, slope or range, altered): a step in its relation to load, in measured and corrected
  values alike;
- ``dilution_after_o2``: the sample gas is diluted after the O2 cell, so SO2 and NOx (measured and
  corrected) drop together while O2 and CO2 stay as they were.

Notes
-----
For each measured pollutant the residual against the unit's own load curve
(:mod:`envtrace.detect.loadcurve`) is standardised by its robust scale, and a one-sided CUSUM
(Page 1954) accumulates ``max(0, S + (-z) - k)`` with reference ``k = 0.5``: it grows while the
pollutant sits below its load curve and resets when it does not. The depth reached by each CUSUM
excursion is calibrated per unit by peaks over threshold (:mod:`envtrace.detect.robust`), which
absorbs the strong hour-to-hour correlation of flue-gas residuals without modelling it. The
evidence spans the excursion up to the point of maximum depth (where the step ended). A step
found in both gaseous pollutants over overlapping hours, of similar size, with O2 and CO2
unchanged, is ``dilution_after_o2``; a step in one pollutant is ``slope_tamper``. When the other gas
sits at its detection limit it cannot show the dilution, and the finding is named slope tampering
(the evidence still lists the parameters).
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
    correlation_length,
    fit_excursion_tail,
    location_scale,
    runs,
    score_from_expected,
)

REFERENCE = 0.5
MIN_DEPTH = 5.0


@dataclass(frozen=True, slots=True)
class StepBaseline:
    """Scale of the load-curve residual and the tail of its CUSUM excursion depths."""

    median: float
    scale: float
    tail: ExcursionTail

    def to_dict(self) -> dict[str, object]:
        return {"median": self.median, "scale": self.scale, "tail": self.tail.to_list()}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> StepBaseline:
        t = d["tail"]
        return cls(
            float(str(d["median"])),
            float(str(d["scale"])),
            ExcursionTail.from_list([float(x) for x in t] if isinstance(t, list) else []),
        )


@dataclass(frozen=True, slots=True)
class CusumRun:
    """One CUSUM excursion: from its start to the hour of maximum depth."""

    start: int
    peak: int
    stop: int
    depth: float


def cusum_runs(z: FloatArray, reference: float = REFERENCE) -> list[CusumRun]:
    """Excursions of the one-sided lower CUSUM of ``z`` (NaN points leave it unchanged).

    Vectorised: with ``C`` the cumulative sum of ``-z - reference``, the CUSUM is
    ``C - min(0, running minimum of C)`` (a reflected random walk).
    """
    x = np.where(np.isfinite(z), -z - reference, 0.0)
    c = np.cumsum(x)
    s = c - np.minimum(np.minimum.accumulate(c), 0.0)
    pos = s > 1e-12
    starts, stops = runs(pos)
    if len(starts) == 0:
        return []
    peaks = np.array(
        [a + int(np.argmax(s[a:b])) for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]
    )
    depth = s[peaks]
    return [
        CusumRun(int(a), int(p), int(b), float(d))
        for a, p, b, d in zip(starts.tolist(), peaks.tolist(), stops.tolist(), depth.tolist(), strict=True)
    ]


def fit_step(resid: FloatArray, years: float) -> StepBaseline | None:
    """Learn the residual scale and the CUSUM depth tail; None with under 500 residuals."""
    if np.count_nonzero(np.isfinite(resid)) < 500:
        return None
    med, scale = location_scale(resid, floor=1e-3)
    z = (resid - med) / scale
    runs_ = cusum_runs(z)
    # a CUSUM excursion's depth grows with the correlation length the way an excursion's mass does
    tail = fit_excursion_tail(
        [r.depth for r in runs_ if r.depth > 1.0], years, prior_beta=correlation_length(z)
    )
    return StepBaseline(med, scale, tail)


@dataclass(frozen=True, slots=True)
class Step:
    """A significant downward step of one pollutant."""

    code: str
    start: int
    stop: int
    depth: float
    drop: float
    expected_per_year: float


def emission_steps(
    code: str,
    resid: FloatArray,
    baseline: StepBaseline,
    *,
    values: FloatArray | None = None,
    floor: float = -math.inf,
    budget_per_year: float = 1e-2,
) -> list[Step]:
    """Downward steps of one pollutant against its load curve, significant for the budget.

    A step during which most ``values`` sit at or below ``floor`` (three detection limits) is a
    well-scrubbed unit reading its analyser's floor, not a scaled analyser, and is left out.

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    z = (resid - baseline.median) / baseline.scale
    out = []
    for r in cusum_runs(z):
        if r.depth < MIN_DEPTH:
            continue
        e = baseline.tail.expected_per_year(r.depth)
        if e > budget_per_year:
            continue
        seg = resid[r.start : r.peak + 1]
        if values is not None:
            v = values[r.start : r.peak + 1]
            v = v[np.isfinite(v)]
            if v.size and float(np.mean(v <= floor)) >= 0.5:
                continue
        drop = float(np.nanmedian(seg)) - baseline.median if np.isfinite(seg).any() else 0.0
        out.append(Step(code, r.start, r.peak + 1, r.depth, drop, e))
    return out


def classify_steps(steps: Mapping[str, list[Step]], gases: Sequence[str]) -> list[tuple[str, list[Step]]]:
    """Group steps into findings: overlapping steps of both gases of similar size are a dilution
    after the O2 cell; every other step is slope tampering of its pollutant."""
    used: set[tuple[str, int]] = set()
    out: list[tuple[str, list[Step]]] = []
    g = [c for c in gases if c in steps]
    if len(g) >= 2:
        for s1 in steps[g[0]]:
            for s2 in steps[g[1]]:
                inter = min(s1.stop, s2.stop) - max(s1.start, s2.start)
                shorter = min(s1.stop - s1.start, s2.stop - s2.start)
                similar = abs(s1.drop - s2.drop) <= 0.5 * max(abs(s1.drop), abs(s2.drop))
                if inter > 0.5 * shorter and similar:
                    out.append(("dilution_after_o2", [s1, s2]))
                    used |= {(s1.code, s1.start), (s2.code, s2.start)}
    for code, lst in steps.items():
        for s in lst:
            if (code, s.start) in used:
                continue
            out.append(("slope_tamper", [s]))
    return out


def step_evidence(
    times: IntArray,
    pattern: str,
    steps: Sequence[Step],
    resid: Mapping[str, FloatArray],
    *,
    station: str,
    parameters: Sequence[str],
) -> Evidence:
    """The evidence of one finding of :func:`classify_steps`."""
    step = int(times[1] - times[0]) if len(times) > 1 else 3600
    a = min(s.start for s in steps)
    b = max(s.stop for s in steps)
    exp_year = (
        min(s.expected_per_year for s in steps)
        if len(steps) == 1
        else math.prod(s.expected_per_year for s in steps) ** (1.0 / len(steps))
    )
    drops = ", ".join(f"{s.code} to {math.exp(s.drop):.0%}" for s in steps)
    drops_zh = "，".join(f"{s.code}降至{math.exp(s.drop):.0%}" for s in steps)
    hours = (b - a) * step / 3600
    what_en = (
        "SO2 and NOx fell together at unchanged load and O2 (dilution after the O2 cell)"
        if pattern == "dilution_after_o2"
        else "the pollutant fell against its load curve and stayed down (altered slope or range)"
    )
    what_zh = (
        "SO2与NOx在负荷和氧含量不变时同步下降（氧量测点之后稀释采样气）"
        if pattern == "dilution_after_o2"
        else "该污染物相对负荷曲线下降并持续（疑似修改斜率或量程）"
    )
    first = steps[0].code
    return Evidence(
        detector="emission_step",
        station=station,
        parameters=tuple(parameters),
        start=int(times[a]),
        end=int(times[b - 1]) + step,
        pattern=pattern,
        kind="fraud",
        score=score_from_expected(exp_year),
        statistic=max(s.depth for s in steps),
        baseline=0.0,
        threshold=MIN_DEPTH,
        reason_en=(
            f"For {hours:.0f} h {drops} of what this unit's load curve predicts: {what_en}; a step this "
            f"deep is expected {exp_year:.2g} times per unit-year"
        ),
        reason_zh=f"{hours:.0f}小时内{drops_zh}（相对本机组负荷曲线）：{what_zh}；每台机组每年预计仅出现{exp_year:.2g}次",
        expected_per_year=exp_year,
        plots=(plot_series(f"{first} log residual to load curve", times, resid[first], a - 72, b + 72),),
    )
