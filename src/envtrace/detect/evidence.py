"""Evidence (what one detector found) and alarms (evidence of one station merged).

An :class:`Evidence` is a frozen value an enforcement officer can read on its own: which
detector, which station and parameters, the time span, the suspected pattern, whether it is
suspected falsification (``kind="fraud"``) or a data-quality problem (``kind="qc"``), a score in
[0, 1], the statistic with its baseline and threshold, a reason in Chinese and English, and a
compact series to plot.

:func:`merge_evidence` turns evidence into alarms: overlapping fraud evidence of one station
becomes one alarm named after its strongest piece; quality evidence is merged the same way but
never with fraud evidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from envtrace.detect.errors import InvalidParameter

KINDS = ("fraud", "qc")
MAX_PLOT_POINTS = 240
#: Findings of different patterns merge only when they share this much of their joint span.
MERGE_JACCARD = 0.5


@dataclass(frozen=True, slots=True)
class PlotSeries:
    """A compact series for a chart: Unix-second times, values (NaN allowed) and a label."""

    label: str
    times: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One finding of one detector at one station.

    ``start`` is inclusive and ``end`` exclusive, both Unix seconds (UTC). ``statistic`` is the
    detector's test statistic, ``baseline`` its value expected at this station and ``threshold``
    the value it had to pass; ``expected_per_year`` is the number of null findings at least this
    extreme expected per station-year (the calibrated false-alarm rate of this finding).
    """

    detector: str
    station: str
    parameters: tuple[str, ...]
    start: int
    end: int
    pattern: str
    kind: str
    score: float
    statistic: float
    baseline: float
    threshold: float
    reason_en: str
    reason_zh: str
    expected_per_year: float = math.nan
    plots: tuple[PlotSeries, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidParameter("kind", self.kind, "'fraud' or 'qc'")
        if not (0.0 <= self.score <= 1.0):
            raise InvalidParameter("score", self.score, "a number in [0, 1]")
        if self.end < self.start:
            raise InvalidParameter("end", self.end, f"an instant not before start={self.start}")

    @property
    def key(self) -> tuple[str, str, tuple[str, ...], int]:
        """Identity of a finding for de-duplication: detector, station, parameters, start."""
        return (self.detector, self.station, self.parameters, self.start)


@dataclass(frozen=True, slots=True)
class Alarm:
    """Overlapping evidence of one station and kind, merged; named after its best evidence."""

    station: str
    parameters: tuple[str, ...]
    start: int
    end: int
    pattern: str
    kind: str
    score: float
    evidence: tuple[Evidence, ...]

    @property
    def reason_en(self) -> str:
        return self.evidence[0].reason_en

    @property
    def reason_zh(self) -> str:
        return self.evidence[0].reason_zh


def plot_series(
    label: str, times: npt.NDArray[np.int64], values: npt.NDArray[np.float64], start: int, stop: int
) -> PlotSeries:
    """A plot of ``values[start:stop]`` thinned to at most :data:`MAX_PLOT_POINTS` points."""
    start = max(0, start)
    stop = min(len(values), stop)
    if stop <= start:
        return PlotSeries(label, (), ())
    stride = max(1, math.ceil((stop - start) / MAX_PLOT_POINTS))
    t = times[start:stop:stride]
    v = values[start:stop:stride]
    return PlotSeries(label, tuple(int(x) for x in t), tuple(round(float(x), 4) for x in v))


def _best(group: Sequence[Evidence]) -> Evidence:
    # strongest first; at equal score the more specific (shorter) finding names the alarm
    return sorted(group, key=lambda e: (-e.score, e.end - e.start, e.detector))[0]


def merge_evidence(evidence: Iterable[Evidence], *, min_jaccard: float = MERGE_JACCARD) -> list[Alarm]:
    """Merge evidence of the same station and kind into alarms.

    Two findings are merged when they overlap in time and either name the same pattern, or
    share at least ``min_jaccard`` of their joint span (intersection over union). A short finding
    nested in a long one of another pattern stays its own alarm, so alarm windows stay tight
    around each anomaly. An alarm spans the union of its findings, lists the union of their
    parameters, carries the best score and the pattern of the best finding (highest score, then
    shortest span).

    Raises
    ------
    InvalidParameter
        when ``min_jaccard`` is outside (0, 1].
    """
    if not 0.0 < min_jaccard <= 1.0:
        raise InvalidParameter("min_jaccard", min_jaccard, "a share in (0, 1]")
    groups: dict[tuple[str, str], list[Evidence]] = {}
    for e in evidence:
        groups.setdefault((e.station, e.kind), []).append(e)
    alarms: list[Alarm] = []
    for (station, kind), items in sorted(groups.items()):
        items.sort(key=lambda e: (e.start, e.end))
        parent = list(range(len(items)))
        ends = [max(e.end, e.start + 1) for e in items]
        for i, a in enumerate(items):
            for j in range(i + 1, len(items)):
                b = items[j]
                if b.start >= ends[i]:
                    break
                inter = min(ends[i], ends[j]) - b.start
                union = max(ends[i], ends[j]) - a.start
                if inter > 0 and (a.pattern == b.pattern or inter >= min_jaccard * union):
                    parent[_root(parent, j)] = _root(parent, i)
        clusters: dict[int, list[Evidence]] = {}
        for i, e in enumerate(items):
            clusters.setdefault(_root(parent, i), []).append(e)
        alarms.extend(_alarm(station, kind, c) for c in clusters.values())
    alarms.sort(key=lambda a: (a.station, a.start, a.kind))
    return alarms


def _root(parent: list[int], i: int) -> int:
    """Union-find root of ``i`` with path halving."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _alarm(station: str, kind: str, group: list[Evidence]) -> Alarm:
    best = _best(group)
    params = tuple(sorted({p for e in group for p in e.parameters}))
    ordered = tuple(sorted(group, key=lambda e: (-e.score, e.start)))
    return Alarm(
        station=station,
        parameters=params,
        start=min(e.start for e in group),
        end=max(e.end for e in group),
        pattern=best.pattern,
        kind=kind,
        score=best.score,
        evidence=ordered,
    )
