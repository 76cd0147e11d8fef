"""Frozen and too-still values: an analyser output held constant, or nearly so, for too long.

Targets the ``frozen_value`` manipulation (a pollutant keeps reporting the same value, or one
within a tiny fraction of the span, while the process or the other pollutants move) and separates
it from the genuine still runs of a monitor: values at the analyser's reporting floor or detection
limit, and the short repeats that integer resolution produces at any level.

Notes
-----
A *still run* for a band ``b`` is a maximal run of consecutive valid values whose successive
differences are all within ``b``. The bands are the exact repeat (half the reporting resolution)
and 0.5 %, 1 % and 2 % of the analyser span (of the median level when the span is unknown). The
null model is learned from the station's own history, separately for each band and for five
level bins (quantiles of the series): the yearly rate of runs of length >= 2 and the probability
``q`` that a run goes on one more step, pooled over lengths 2..5 so that the few long runs a
manipulation leaves do not inflate it. The number of null runs at least ``L`` long expected per
station-year is then ``rate * q ** (L - 2)`` (a geometric run-length law, as in the runs tests of
Mood 1940; conditioning on level follows the stale-value checks of pvanalytics and the QARTOD
flat-line test, here with a learned rather than a fixed tolerance). A run is evidence when that
expectation falls below the detector's budget; runs at or below three detection limits, and runs
during which most other parameters are still as well (a data-logger hold), are quality findings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence, plot_series
from envtrace.detect.robust import FloatArray, IntArray, runs, score_from_expected, segment_reduce

SPAN_FRACTIONS = (0.0, 0.005, 0.01, 0.02)
LEVEL_BINS = 5
MIN_RUN = 3
MAX_RELATIVE_BAND = 0.05
POOL_LENGTHS = 4


@dataclass(frozen=True, slots=True)
class FrozenBaseline:
    """Learned still-run law of one parameter at one station."""

    bands: tuple[float, ...]
    level_edges: tuple[float, ...]
    rate_per_year: tuple[tuple[float, ...], ...]
    continuation: tuple[tuple[float, ...], ...]

    def expected_per_year(self, band: int, level: float, length: int) -> float:
        k = int(np.searchsorted(np.asarray(self.level_edges[1:-1]), level, side="right"))
        rate = self.rate_per_year[band][k]
        q = self.continuation[band][k]
        return rate * q ** max(0, length - 2)

    def expected_per_year_many(self, band: int, levels: FloatArray, lengths: IntArray) -> FloatArray:
        """:meth:`expected_per_year` for many runs at once."""
        k = np.searchsorted(np.asarray(self.level_edges[1:-1]), levels, side="right")
        rate = np.asarray(self.rate_per_year[band])[k]
        q = np.asarray(self.continuation[band])[k]
        out: FloatArray = rate * q ** np.maximum(0, lengths - 2)
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "bands": list(self.bands),
            "level_edges": [_finite_or_str(x) for x in self.level_edges],
            "rate_per_year": [list(r) for r in self.rate_per_year],
            "continuation": [list(r) for r in self.continuation],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> FrozenBaseline:
        return cls(
            bands=tuple(float(str(x)) for x in _seq(d["bands"])),
            level_edges=tuple(float(str(x)) for x in _seq(d["level_edges"])),
            rate_per_year=tuple(tuple(float(str(x)) for x in _seq(r)) for r in _seq(d["rate_per_year"])),
            continuation=tuple(tuple(float(str(x)) for x in _seq(r)) for r in _seq(d["continuation"])),
        )


def _seq(x: object) -> Sequence[object]:
    if not isinstance(x, list | tuple):
        raise InvalidParameter("baseline", x, "a list")
    return x


def _finite_or_str(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def frozen_bands(values: FloatArray, *, resolution: float, span: float) -> tuple[float, ...]:
    """The still-bands of a parameter: exact repeats and fractions of span (or median level)."""
    if resolution < 0:
        raise InvalidParameter("resolution", resolution, "a non-negative number")
    finite = values[np.isfinite(values)]
    scale = (
        span if math.isfinite(span) and span > 0 else (float(np.median(np.abs(finite))) if finite.size else 0)
    )
    exact = max(0.5 * resolution, 1e-9)
    bands = sorted({round(max(exact, f * scale), 9) for f in SPAN_FRACTIONS})
    return tuple(bands)


def _still_runs(values: FloatArray, band: float) -> tuple[IntArray, IntArray]:
    """Maximal runs (start, stop) of points whose successive differences are within ``band``."""
    d = np.abs(np.diff(values))
    step_still = np.isfinite(d) & (d <= band)
    s, e = runs(step_still)
    return s, e + 1  # a run of k still steps covers k + 1 points


def _qualified_runs(values: FloatArray, band: float, *, exact: bool) -> tuple[IntArray, IntArray, FloatArray]:
    """Still runs whose range stays within two bands and, unless exact, whose band is at most
    :data:`MAX_RELATIVE_BAND` of their level (a band wide against the level is not "still")."""
    s, e = _still_runs(values, band)
    levels = _run_levels(values, s, e)
    if len(s) == 0 or exact:
        return s, e, levels
    filled = np.where(np.isfinite(values), values, 0.0)
    hi = segment_reduce(np.maximum, filled, s, e)
    lo = segment_reduce(np.minimum, filled, s, e)
    ok = ((hi - lo) <= 2.0 * band) & (band <= MAX_RELATIVE_BAND * np.abs(levels))
    return s[ok], e[ok], levels[ok]


def _run_levels(values: FloatArray, starts: IntArray, stops: IntArray) -> FloatArray:
    if len(starts) == 0:
        return np.zeros(0)
    cs = np.concatenate(([0.0], np.cumsum(np.nan_to_num(values))))
    return np.asarray((cs[stops] - cs[starts]) / (stops - starts), dtype=np.float64)


def fit_frozen(values: FloatArray, *, resolution: float, span: float, years: float) -> FrozenBaseline:
    """Learn the still-run law of a series (valid values only, NaN elsewhere)."""
    if years <= 0:
        raise InvalidParameter("years", years, "a positive number of station-years")
    bands = frozen_bands(values, resolution=resolution, span=span)
    finite = values[np.isfinite(values)]
    if finite.size >= LEVEL_BINS * 20:
        inner = np.unique(np.quantile(finite, np.linspace(0, 1, LEVEL_BINS + 1)[1:-1]))
    else:
        inner = np.zeros(0)
    edges = (-math.inf, *[float(x) for x in inner], math.inf)
    nbin = len(edges) - 1
    rates: list[tuple[float, ...]] = []
    conts: list[tuple[float, ...]] = []
    for bi, band in enumerate(bands):
        s, e, levels = _qualified_runs(values, band, exact=bi == 0)
        lengths = e - s
        k = np.searchsorted(np.asarray(inner), levels, side="right") if len(levels) else np.zeros(0, int)
        r_row: list[float] = []
        q_row: list[float] = []
        for b in range(nbin):
            lb = lengths[k == b]
            n2 = float(np.count_nonzero(lb >= 2))
            num = sum(float(np.count_nonzero(lb >= j + 1)) for j in range(2, 2 + POOL_LENGTHS))
            den = sum(float(np.count_nonzero(lb >= j)) for j in range(2, 2 + POOL_LENGTHS))
            q_row.append((num + 1.0) / (den + 2.0))
            r_row.append(max(n2, 1.0) / years)
        rates.append(tuple(r_row))
        conts.append(tuple(q_row))
    return FrozenBaseline(bands, edges, tuple(rates), tuple(conts))


def frozen_values(
    times: IntArray,
    values: FloatArray,
    baseline: FrozenBaseline,
    *,
    station: str,
    parameters: Sequence[str],
    lod: float = math.nan,
    others_still: FloatArray | None = None,
    network_still: FloatArray | None = None,
    floor: float = -math.inf,
    budget_per_year: float = 1e-4,
    pollutant: bool = True,
) -> list[Evidence]:
    """Runs of constant or nearly constant values too long for their level at this station.

    Parameters
    ----------
    times, values
        Grid instants (Unix s) and valid values (NaN where missing or flagged).
    baseline
        The still-run law from :func:`fit_frozen` (learned on this station's history).
    lod
        Detection limit; runs at or below ``3 * lod`` are reported as quality findings.
    others_still
        Share (0..1), per grid point, of the station's other parameters that are still at that
        point; a run during which it averages 0.5 or more is a data-logger hold (quality).
    network_still
        Share (0..1), per grid point, of the neighbour stations whose same parameter is still;
        a run shared by most neighbours is a network or data-system artefact (quality).
    floor
        The station's reporting floor for this parameter; runs at or below it are quality.
    budget_per_year
        Expected null findings per station-year and band tolerated (the false-alarm budget).
    pollutant
        False for process parameters (O2, temperature, load ...): their runs are quality findings.

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    found: dict[tuple[int, int], tuple[float, int, float, float]] = {}
    for bi, band in enumerate(baseline.bands):
        s, e, levels = _qualified_runs(values, band, exact=bi == 0)
        long = (e - s) >= MIN_RUN
        s, e, levels = s[long], e[long], levels[long]
        exp = baseline.expected_per_year_many(bi, levels, e - s)
        keep = exp <= budget_per_year
        for a, b, lev, exp_year in zip(
            s[keep].tolist(), e[keep].tolist(), levels[keep].tolist(), exp[keep].tolist(), strict=True
        ):
            prev = found.get((a, b))
            if prev is None or exp_year < prev[0]:
                found[(a, b)] = (exp_year, bi, band, lev)
    out: list[Evidence] = []
    claimed: list[tuple[int, int]] = []
    step = int(times[1] - times[0]) if len(times) > 1 else 3600
    # keep the strongest of overlapping runs (different bands find nested runs)
    for (a, b), (exp_year, _bi, band, lev) in sorted(found.items(), key=lambda kv: kv[1][0]):
        if any(a < cb and b > ca for ca, cb in claimed):
            continue
        claimed.append((a, b))
        near_lod = (math.isfinite(lod) and lev <= 3.0 * lod) or lev <= floor
        hold = _mostly(others_still, a, b)
        shared = _mostly(network_still, a, b)
        kind = "fraud" if pollutant and not near_lod and not hold and not shared else "qc"
        why = (
            "held at the detection limit or reporting floor"
            if near_lod
            else "data-logger hold"
            if hold
            else "shared by the neighbour stations"
            if shared
            else ""
        )
        duration = (b - a) * step / 3600.0
        reason_en = (
            f"{parameters[0]} stayed within {band:.3g} of {lev:.4g} for {b - a} values ({duration:.0f} h); "
            f"at this level the station shows {exp_year:.2g} such runs per year"
            + (f" ({why})" if why else "")
        )
        reason_zh = (
            f"{parameters[0]}连续{b - a}个数据（约{duration:.0f}小时）在{lev:.4g}附近变化不超过{band:.3g}；"
            f"该站在此浓度水平每年预计仅出现{exp_year:.2g}次" + (f"（{_zh(why)}）" if why else "")
        )
        pad = max(6, (b - a) // 2)
        out.append(
            Evidence(
                detector="frozen_values",
                station=station,
                parameters=tuple(parameters),
                start=int(times[a]),
                end=int(times[b - 1]) + step,
                pattern="frozen_value",
                kind=kind,
                score=score_from_expected(exp_year) if kind == "fraud" else 0.5,
                statistic=float(b - a),
                baseline=float(exp_year),
                threshold=float(budget_per_year),
                reason_en=reason_en,
                reason_zh=reason_zh,
                expected_per_year=float(exp_year),
                plots=(plot_series(parameters[0], times, values, a - pad, b + pad),),
            )
        )
    return out


def _mostly(share: FloatArray | None, a: int, b: int) -> bool:
    if share is None:
        return False
    s = share[a:b]
    s = s[np.isfinite(s)]
    return bool(s.size) and float(s.mean()) >= 0.5


def _zh(why: str) -> str:
    return {
        "held at the detection limit or reporting floor": "处于检出限或最低报告值附近",
        "data-logger hold": "数采仪整体停滞",
        "shared by the neighbour stations": "邻近站点同时出现，属网络或数据系统问题",
    }.get(why, why)


def still_share(series_values: Sequence[FloatArray], resolution: Sequence[float]) -> FloatArray:
    """Per grid point, the share of the given parameters whose value repeats the previous one."""
    if not series_values:
        raise InvalidParameter("series_values", len(series_values), "at least one series")
    n = len(series_values[0])
    acc = np.zeros(n)
    cnt = np.zeros(n)
    for v, res in zip(series_values, resolution, strict=True):
        d = np.abs(np.diff(v, prepend=np.nan))
        ok = np.isfinite(d)
        acc += np.where(ok & (d <= max(0.5 * res, 1e-9)), 1.0, 0.0)
        cnt += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, acc / cnt, np.nan)


def still_shared(
    series_values: Sequence[FloatArray], resolution: Sequence[float], min_run: int = 4
) -> FloatArray:
    """Per grid point, 1.0 where any of the given series is inside a still run of ``min_run``
    or more exact repeats (0.0 elsewhere): marks still runs a network shares."""
    if not series_values:
        raise InvalidParameter("series_values", len(series_values), "at least one series")
    out = np.zeros(len(series_values[0]))
    for v, res in zip(series_values, resolution, strict=True):
        s, e = _still_runs(v, max(0.5 * res, 1e-9))
        for a, b in zip(s.tolist(), e.tolist(), strict=True):
            if b - a >= min_run:
                out[a:b] = 1.0
    return out
