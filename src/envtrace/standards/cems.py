"""Flue-gas CEMS validity (HJ 75/76 as far as known), capture rate, missing-hour substitution, drift.

Implements
* minute, hour, day and month validity: a minute mean from >= 12 valid readings, an hour from >= 45
  valid minutes, a day from >= 20 valid hours (HJ 212-2017 appendix D, citing HJ/T 75/76-2007), a month
  from >= 25 valid days, February >= 23 (HJ 76 appendix B via a vendor summary, UNVERIFIED wording);
  figures in ``tables/cems_validity.csv``;
* the treatment of flagged periods through :mod:`envtrace.standards.flags`: F stopped (out of the
  capture denominators), M maintenance, C calibration, D fault, B comms, S manual value: invalid with
  that reason; T over range: valid (lower bound) unless ``over_range_valid=False`` (UNVERIFIED);
* an invalid hour's reason is the commonest cause among its non-valid minutes (ties go to the more
  severe); the hour is STOPPED only when stopped minutes are that commonest cause, so a plant cannot
  turn a fault hour into a stopped one by flagging a few minutes F;
* the quarterly capture rate ``(hours - stopped - invalid) / (hours - stopped)`` and the substitution of
  invalid hours by the maximum of the previous N valid hours, N chosen from the capture rate and the gap
  length (90 % / 75 % and 180 / 720 / 2160 h): ``tables/hj75_substitution.csv``. **UNVERIFIED**: this is
  HJ/T 75-2007 Table 3 as implemented by a public platform; the HJ 75-2017 text was not available;
* calibration drift judgement against ``tables/hj75_drift_limits.csv`` (UNVERIFIED, configurable by
  passing other limits).

Leaves out: the out-of-control refinement "previous N valid hours before the last passing calibration"
(callers can pass the hours that precede the calibration), start-up/shut-down marking, and the
comparison (RATA-like) acceptance criteria.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cache

import numpy as np
import numpy.typing as npt

from envtrace.standards import tables
from envtrace.standards.errors import InvalidInput, TableError, UnknownItem
from envtrace.standards.flags import FlagStatus, System, flag_rules, flag_status
from envtrace.standards.validity import Reason, Validity, count_validity


@cache
def rule_minimum(rule: str, *, february: bool = False) -> int:
    """A minimum count from ``tables/cems_validity.csv`` (minute, hourly, daily, monthly)."""
    for row in tables.load("cems_validity"):
        if row["rule"] == rule:
            column = "february_minimum" if february and row["february_minimum"] else "minimum"
            return int(tables.number("cems_validity", row, column))
    raise TableError("cems_validity", f"no rule {rule!r}")


def minute_validity(valid_readings: npt.ArrayLike, *, minimum: int | None = None) -> Validity:
    """A minute mean is valid from ``minimum`` (12) valid readings at <= 5 s."""
    need = rule_minimum("minute") if minimum is None else minimum
    return count_validity(valid_readings, need, Reason.INSUFFICIENT_READINGS)


def hourly_validity_from_counts(valid_minutes: npt.ArrayLike, *, minimum: int | None = None) -> Validity:
    """An hour is valid from ``minimum`` (45) valid minutes."""
    need = rule_minimum("hourly") if minimum is None else minimum
    return count_validity(valid_minutes, need, Reason.INSUFFICIENT_MINUTES)


def hourly_validity(
    minute_flags: npt.ArrayLike,
    *,
    edition: str,
    system: System | str = System.FLUE_GAS,
    minimum: int | None = None,
    over_range_valid: bool = True,
) -> Validity:
    """Validity of each hour (rows) from the flags of its minute values (columns; ``""`` = no value).

    The reason of an invalid hour is described in the module docstring.
    """
    flags = np.asarray(minute_flags, dtype=str)
    if flags.ndim != 2:
        raise InvalidInput(f"minute_flags must be 2-D (hours x minutes), got shape {flags.shape}")
    need = rule_minimum("hourly") if minimum is None else minimum
    present = np.char.str_len(flags) > 0
    status, reason = flag_status(np.where(present, flags, "N"), edition=edition, system=system)
    ok_minute = present & (
        (status == FlagStatus.VALID) | (over_range_valid & (status == FlagStatus.OVER_RANGE))
    )
    n_valid = ok_minute.sum(axis=1)
    valid = n_valid >= need
    bad_reason = np.where(present, reason, Reason.MISSING)
    bad_reason = np.where(ok_minute, -1, bad_reason)
    severity = _severity(edition, system)
    dominant = _dominant_reason(bad_reason, severity)
    dominant = np.where(dominant < 0, Reason.INSUFFICIENT_MINUTES, dominant)
    out_reason = np.where(valid, Reason.VALID, dominant).astype(np.int16)
    return Validity(valid, out_reason)


def _severity(edition: str, system: System | str) -> dict[int, int]:
    sev = {int(Reason.MISSING): 0, int(Reason.UNKNOWN_FLAG): 8}
    for rule in flag_rules(edition, system).values():
        sev[int(rule.reason)] = max(sev.get(int(rule.reason), 0), rule.severity)
    return sev


def _dominant_reason(reasons: npt.NDArray[np.int64], severity: dict[int, int]) -> npt.NDArray[np.int64]:
    """Per row, the commonest non-negative code; ties to the higher severity; -1 when none."""
    codes = sorted({int(c) for c in np.unique(reasons) if c >= 0}, key=lambda c: -severity.get(c, 0))
    best = np.full(reasons.shape[0], -1, dtype=np.int64)
    best_n = np.zeros(reasons.shape[0], dtype=np.int64)
    for code in codes:
        n = (reasons == code).sum(axis=1)
        take = n > best_n
        best[take] = code
        best_n[take] = n[take]
    return best


def daily_validity(valid_hours: npt.ArrayLike, *, minimum: int | None = None) -> Validity:
    """A day is valid from ``minimum`` (20) valid hours."""
    need = rule_minimum("daily") if minimum is None else minimum
    return count_validity(valid_hours, need, Reason.INSUFFICIENT_HOURS)


def monthly_validity(valid_days: npt.ArrayLike, month: npt.ArrayLike) -> Validity:
    """A month is valid from 25 valid days, February from 23 (``month`` 1-12, broadcast)."""
    days = np.asarray(valid_days)
    m = np.broadcast_to(np.asarray(month), days.shape)
    if np.any((m < 1) | (m > 12)):
        raise InvalidInput("month must be 1-12", month)
    need = np.where(m == 2, rule_minimum("monthly", february=True), rule_minimum("monthly"))
    ok = days >= need
    return Validity(ok, np.where(ok, Reason.VALID, Reason.INSUFFICIENT_DAYS).astype(np.int16))


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


# ---------------------------------------------------------------------------- capture and substitution


class HourState(IntEnum):
    VALID = 0
    INVALID = 1
    STOPPED = 2


def hour_states(validity: Validity) -> npt.NDArray[np.int8]:
    """Hour states for substitution: valid, stopped, or invalid (everything else, missing included)."""
    out = np.where(validity.valid, HourState.VALID, HourState.INVALID).astype(np.int8)
    out[validity.reason == Reason.STOPPED] = HourState.STOPPED
    return out


def capture_rate(states: npt.ArrayLike) -> float:
    """``(hours - stopped - invalid) / (hours - stopped)``; NaN when every hour is stopped."""
    s = np.asarray(states)
    running = int((s != HourState.STOPPED).sum())
    if running == 0:
        return float("nan")
    return float((s == HourState.VALID).sum()) / running


@dataclass(frozen=True, slots=True)
class SubstitutionRule:
    capture_min: float
    capture_max: float
    gap_min_hours: int
    gap_max_hours: int | None
    lookback_valid_hours: int | None
    statistic: str
    source: str


@cache
def substitution_rules() -> tuple[SubstitutionRule, ...]:
    """``tables/hj75_substitution.csv`` (UNVERIFIED; see the module docstring)."""
    out = []
    for row in tables.load("hj75_substitution"):
        gmax = tables.optional_number("hj75_substitution", row, "gap_max_hours")
        look = tables.optional_number("hj75_substitution", row, "lookback_valid_hours")
        if row["statistic"] not in ("max", "manual"):
            raise TableError("hj75_substitution", f"unknown statistic {row['statistic']!r}")
        out.append(
            SubstitutionRule(
                tables.number("hj75_substitution", row, "capture_min"),
                tables.number("hj75_substitution", row, "capture_max"),
                int(tables.number("hj75_substitution", row, "gap_min_hours")),
                None if gmax is None else int(gmax),
                None if look is None else int(look),
                row["statistic"],
                row["source"],
            )
        )
    return tuple(out)


def _rule_for(rate: float, gap: int, rules: Sequence[SubstitutionRule]) -> SubstitutionRule | None:
    for rule in rules:
        top_ok = rate <= rule.capture_max if rule.capture_max >= 1.0 else rate < rule.capture_max
        if (
            rule.capture_min <= rate
            and top_ok
            and gap >= rule.gap_min_hours
            and (rule.gap_max_hours is None or gap <= rule.gap_max_hours)
        ):
            return rule
    return None


@dataclass(frozen=True, slots=True)
class Substitution:
    """``values`` with invalid hours filled where a rule allows; ``lookback[i]`` is the N used (0 = none)."""

    values: npt.NDArray[np.float64]
    substituted: npt.NDArray[np.bool_]
    lookback: npt.NDArray[np.int32]
    capture_rate: float


def substitute_invalid_hours(
    values: npt.ArrayLike,
    states: npt.ArrayLike,
    *,
    rate: float | None = None,
    rules: Sequence[SubstitutionRule] | None = None,
) -> Substitution:
    """Fill each run of invalid hours with the max of the previous N valid hours (HJ 75 practice).

    ``states`` are :class:`HourState` codes for one station's consecutive hours (one quarter, by the
    rule); ``rate`` defaults to the capture rate of ``states``. Stopped hours are never filled. A run
    whose rule is "manual" (capture < 75 %) or that has no valid hour before it stays NaN. The
    substituted values are estimates for emission accounting: callers keep the original flags.
    """
    v = np.asarray(values, dtype=np.float64).copy()
    s = np.asarray(states)
    if v.shape != s.shape or v.ndim != 1:
        raise InvalidInput(f"values and states must be 1-D of one length, got {v.shape} and {s.shape}")
    use_rules = substitution_rules() if rules is None else tuple(rules)
    r = capture_rate(s) if rate is None else rate
    valid_idx = np.flatnonzero(s == HourState.VALID)
    substituted = np.zeros(v.shape, dtype=bool)
    lookback = np.zeros(v.shape, dtype=np.int32)
    v[s != HourState.VALID] = np.nan
    invalid = (s == HourState.INVALID).astype(np.int8)
    edges = np.diff(np.concatenate(([0], invalid, [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    for start, end in zip(starts, ends, strict=True):
        rule = _rule_for(r, int(end - start), use_rules)
        if rule is None or rule.statistic != "max" or rule.lookback_valid_hours is None:
            continue
        before = valid_idx[valid_idx < start][-rule.lookback_valid_hours :]
        if before.size == 0:
            continue
        v[start:end] = np.max(v[before])
        substituted[start:end] = True
        lookback[start:end] = rule.lookback_valid_hours
    return Substitution(v, substituted, lookback, r)


# ---------------------------------------------------------------------------------------- drift


class DriftJudgement(IntEnum):
    WITHIN = 0
    DRIFT_EXCEEDED = 1
    OUT_OF_CONTROL = 2


@dataclass(frozen=True, slots=True)
class DriftLimit:
    unit_kind: str
    check: str
    drift_limit_pct_fs: float
    out_of_control_pct_fs: float
    source: str


def drift_limit(unit_kind: str, check: str) -> DriftLimit:
    """Drift limits of ``tables/hj75_drift_limits.csv`` (UNVERIFIED) for a CEMS unit and zero/span."""
    rows = tables.load("hj75_drift_limits")
    for row in rows:
        if row["unit_kind"] == unit_kind and row["check"] == check:
            return DriftLimit(
                unit_kind,
                check,
                tables.number("hj75_drift_limits", row, "drift_limit_pct_fs"),
                tables.number("hj75_drift_limits", row, "out_of_control_pct_fs"),
                row["source"],
            )
    raise UnknownItem(
        "CEMS unit/check", f"{unit_kind}/{check}", [f"{r['unit_kind']}/{r['check']}" for r in rows]
    )


def judge_drift(drift_pct_fs: npt.ArrayLike, limit: DriftLimit) -> npt.NDArray[np.int8]:
    """:class:`DriftJudgement` per check result (absolute drift in % of full scale)."""
    d = np.abs(np.asarray(drift_pct_fs, dtype=np.float64))
    out = np.full(d.shape, DriftJudgement.WITHIN, dtype=np.int8)
    out[d > limit.drift_limit_pct_fs] = DriftJudgement.DRIFT_EXCEEDED
    out[d > limit.out_of_control_pct_fs] = DriftJudgement.OUT_OF_CONTROL
    return out
