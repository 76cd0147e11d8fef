"""Automatic standard-sample checks (HJ 212-2025 CN 2062) judged for CEMS validity (HJ 75 practice).

A 2025 data logger reports each automatic standard-sample check as ``{PolId}-SampleRd`` (measured),
``-StandardValue`` (nominal) and ``-ResultType`` (1 pass, 0 fail), DataTime = the check's start
(``shared/specs/hj212-2025-and-hj75.md`` §1.4, IMPL of the appendix C tables). Two judgements of one
check are possible:

* the **station's** own verdict, ``ResultType``;
* the **platform's** HJ 75 drift judgement: the drift ``(measured - nominal) / span`` in % of the
  analyser's full scale against the span limits of ``tables/hj75_drift_limits.csv``
  (:func:`envtrace.standards.cems.judge_drift`). Only beyond the **out-of-control** limit does the
  check fail: a drift above the calibration limit but within the out-of-control limit asks for a
  recalibration, not for discarding data (HJ 75-2017 table 4 as remembered, **UNVERIFIED**). It
  needs the span and a CEMS unit kind (:func:`cems_unit_kind`).

:func:`judge_check` combines them by a *basis*: ``station``, ``platform`` (falls back to the
station's verdict when the platform cannot judge: no span, no unit kind, a value missing) or
``either`` (fails when any available judgement fails). A check neither can judge is evidence only.

:func:`out_of_control_periods` turns a parameter's judged checks into the periods its analyser was
out of control, by a *scope*: ``until_pass`` -- from a failed check until the next passing check
(HJ 75 practice as implemented: "an out-of-control period runs from the failed check until the unit
again meets the limits", spec §2.3, **UNVERIFIED**) -- or ``hour`` (only the hour the failed check
started in). :func:`hour_out_of_control` says whether an hour overlaps one: any overlap makes the
whole hour out of control (envtrace rule: the hour is the unit of validity; a check that passes at
10:05 leaves 10:00-10:05 out of control).

Leaves out: zero checks (CN 2062 carries standard samples only), checks of one analyser that
measures several codes (each code is judged by its own checks), and the absolute velocity limits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from envtrace.standards.cems import DriftJudgement, DriftLimit, drift_limit, judge_drift
from envtrace.standards.errors import InvalidInput

BASES = ("station", "platform", "either")
SCOPES = ("until_pass", "hour")
HOUR_S = 3600

#: HJ 212-2017 codes of the CEMS units by the groups of HJ 75-2017 table 4 (particulate, gaseous,
#: velocity). Codes outside are not judged by the platform (the station's verdict stands).
CEMS_UNIT_KINDS: dict[str, str] = {
    "a34013": "particulate",
    "a21026": "gaseous",  # SO2
    "a21002": "gaseous",  # NOx
    "a21003": "gaseous",  # NO
    "a21004": "gaseous",  # NO2
    "a21005": "gaseous",  # CO
    "a21024": "gaseous",  # HCl
    "a21001": "gaseous",  # NH3
    "a05001": "gaseous",  # CO2
    "a19001": "gaseous",  # O2
    "a01011": "velocity",
}


def cems_unit_kind(parameter: str) -> str | None:
    """The HJ 75 table 4 group of a CEMS parameter (``particulate``, ``gaseous``, ``velocity``)."""
    return CEMS_UNIT_KINDS.get(parameter)


@dataclass(frozen=True, slots=True)
class CheckVerdict:
    """One check judged. ``passed`` is None when the basis could not judge it (evidence only).

    ``station_passed``: the ResultType (None when absent); ``drift_pct_fs`` / ``drift``: the
    platform's drift and its :class:`DriftJudgement` (None when it could not judge); ``judged_by``:
    ``station``, ``platform``, ``station+platform`` or ``none``.
    """

    passed: bool | None
    station_passed: bool | None
    drift_pct_fs: float | None
    drift: DriftJudgement | None
    judged_by: str


def platform_drift(
    measured: float | None,
    nominal: float | None,
    span: float | None,
    unit_kind: str | None,
    *,
    limit: DriftLimit | None = None,
) -> tuple[float, DriftJudgement] | None:
    """The drift in % of full scale and its judgement; None when it cannot be judged."""
    if measured is None or nominal is None or span is None or unit_kind is None:
        return None
    if not (math.isfinite(measured) and math.isfinite(nominal) and math.isfinite(span)) or span <= 0:
        return None
    use = limit if limit is not None else drift_limit(unit_kind, "span")
    drift = (measured - nominal) / span * 100.0
    return drift, DriftJudgement(int(judge_drift([drift], use)[0]))


def judge_check(
    measured: float | None,
    nominal: float | None,
    result: int | None,
    *,
    span: float | None,
    unit_kind: str | None,
    basis: str,
    limit: DriftLimit | None = None,
) -> CheckVerdict:
    """Judge one standard-sample check on ``basis`` (see the module docstring)."""
    if basis not in BASES:
        raise InvalidInput(f"basis must be one of {BASES}", basis)
    station = None if result not in (0, 1) else result == 1
    found = platform_drift(measured, nominal, span, unit_kind, limit=limit)
    drift, judgement = (None, None) if found is None else found
    platform = None if judgement is None else judgement != DriftJudgement.OUT_OF_CONTROL
    if basis == "station" or (basis == "platform" and platform is None):
        by = "station" if station is not None else "none"
        return CheckVerdict(station, station, drift, judgement, by)
    if basis == "platform":
        return CheckVerdict(platform, station, drift, judgement, "platform")
    known = [v for v in (station, platform) if v is not None]
    by = "+".join(n for n, v in (("station", station), ("platform", platform)) if v is not None) or "none"
    return CheckVerdict(all(known) if known else None, station, drift, judgement, by)


@dataclass(frozen=True, slots=True)
class OutOfControl:
    """``[start, end)`` out of control (``end`` None: no passing check yet), opened by the failed
    check at index ``failed`` of the input."""

    start: int
    end: int | None
    failed: int


def out_of_control_periods(
    times: Sequence[int], passed: Sequence[bool | None], *, scope: str
) -> list[OutOfControl]:
    """The out-of-control periods of one parameter from its checks (times ascending)."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {SCOPES}", scope)
    if len(times) != len(passed):
        raise InvalidInput(f"times and passed differ in length: {len(times)} and {len(passed)}")
    if any(b < a for a, b in pairwise(times)):
        raise InvalidInput("check times must be ascending", list(times))
    out: list[OutOfControl] = []
    if scope == "hour":
        for i, (t, ok) in enumerate(zip(times, passed, strict=True)):
            if ok is False:
                h = t - t % HOUR_S
                out.append(OutOfControl(h, h + HOUR_S, i))
        return out
    start: int | None = None
    first = -1
    for i, (t, ok) in enumerate(zip(times, passed, strict=True)):
        if ok is False and start is None:
            start, first = t, i
        elif ok is True and start is not None:
            out.append(OutOfControl(start, t, first))
            start = None
    if start is not None:
        out.append(OutOfControl(start, None, first))
    return out


def hour_out_of_control(hour_ts: int, periods: Sequence[OutOfControl]) -> OutOfControl | None:
    """The out-of-control period overlapping ``[hour_ts, hour_ts + 3600)`` (the latest), if any."""
    found = None
    for p in periods:
        if p.start < hour_ts + HOUR_S and (p.end is None or p.end > hour_ts):
            found = p
    return found
