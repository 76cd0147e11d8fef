"""CEMS validity (minute/hour/day/month), capture rate, substitution and drift (HJ 75/76 practice)."""

from __future__ import annotations

import numpy as np
import pytest

from envtrace.standards import (
    DriftJudgement,
    HourState,
    Reason,
    capture_rate,
    cems_daily_validity,
    cems_hourly_validity,
    cems_hourly_validity_from_counts,
    drift_limit,
    hour_states,
    judge_drift,
    monthly_validity,
    substitute_invalid_hours,
)
from envtrace.standards.cems import minute_validity

ED = "HJ 212-2017"


def test_minute_needs_12_readings() -> None:
    assert minute_validity([11, 12]).valid.tolist() == [False, True]


def test_hour_44_vs_45_minutes() -> None:
    v = cems_hourly_validity_from_counts([44, 45, 60])
    assert v.valid.tolist() == [False, True, True]
    assert v.reason.tolist() == [Reason.INSUFFICIENT_MINUTES, 0, 0]


def test_hour_from_minute_flags() -> None:
    rows = [
        ["N"] * 45 + ["C"] * 15,  # 45 valid: valid
        ["N"] * 44 + ["C"] * 16,  # calibration took it below 45
        ["N"] * 20 + ["F"] * 40,  # stopped most of the hour
        ["N"] * 40 + ["F"] * 10 + ["D"] * 10,  # tie F/D: the more severe (fault) wins
        ["N"] * 44 + ["T"] * 16,  # over range counts as valid by default
        ["N"] * 30 + [""] * 30,  # no values
    ]
    v = cems_hourly_validity(rows, edition=ED)
    assert v.valid.tolist() == [True, False, False, False, True, False]
    assert v.reason.tolist() == [0, Reason.CALIBRATION, Reason.STOPPED, Reason.FAULT, 0, Reason.MISSING]
    strict = cems_hourly_validity(rows[4:5], edition=ED, over_range_valid=False)
    assert strict.reason.tolist() == [Reason.OVER_RANGE]


def test_day_19_vs_20_hours() -> None:
    assert cems_daily_validity([19, 20]).valid.tolist() == [False, True]


def test_month_25_days_february_23() -> None:
    v = monthly_validity([24, 25, 22, 23], [1, 1, 2, 2])
    assert v.valid.tolist() == [False, True, False, True]


def test_capture_rate_ignores_stopped() -> None:
    s = [HourState.VALID] * 8 + [HourState.INVALID] * 2 + [HourState.STOPPED] * 10
    assert capture_rate(s) == pytest.approx(0.8)
    assert np.isnan(capture_rate([HourState.STOPPED]))


def _states(valid: int, invalid: int, stopped: int = 0) -> np.ndarray:
    return np.array([HourState.VALID] * valid + [HourState.INVALID] * invalid + [HourState.STOPPED] * stopped)


def test_substitution_short_gap_high_capture_uses_180_hours() -> None:
    s = _states(400, 3)
    values = np.arange(403, dtype=float)
    values[0:220] = 1000.0  # outside the 180 valid hours before the gap
    sub = substitute_invalid_hours(values, s, rate=0.95)
    assert sub.substituted[400:].all()
    assert not sub.substituted[:400].any()
    assert sub.values[400] == 399.0
    assert sub.lookback[400] == 180


def test_substitution_long_gap_uses_720_hours() -> None:
    s = _states(800, 30)
    values = np.zeros(830)
    values[100] = 50.0  # within the last 720 valid hours
    sub = substitute_invalid_hours(values, s, rate=0.95)
    assert sub.values[800] == 50.0
    assert sub.lookback[800] == 720


def test_substitution_capture_75_to_90_uses_2160() -> None:
    sub = substitute_invalid_hours(np.ones(20), _states(18, 2), rate=0.8)
    assert sub.lookback[19] == 2160


def test_substitution_below_75_is_manual_and_stopped_untouched() -> None:
    sub = substitute_invalid_hours(np.ones(10), _states(5, 5), rate=0.5)
    assert not sub.substituted.any()
    assert np.isnan(sub.values[5:]).all()
    sub2 = substitute_invalid_hours(np.ones(12), _states(10, 0, 2))
    assert not sub2.substituted.any()
    assert sub2.capture_rate == 1.0


def test_hour_states_from_validity() -> None:
    v = cems_hourly_validity([["N"] * 60, ["F"] * 60, ["D"] * 60], edition=ED)
    assert hour_states(v).tolist() == [HourState.VALID, HourState.STOPPED, HourState.INVALID]


def test_drift_judgement() -> None:
    gas_span = drift_limit("gaseous", "span")
    assert judge_drift([1.0, -3.0, 12.0], gas_span).tolist() == [
        DriftJudgement.WITHIN,
        DriftJudgement.DRIFT_EXCEEDED,
        DriftJudgement.OUT_OF_CONTROL,
    ]
    assert drift_limit("particulate", "zero").out_of_control_pct_fs == 8.0
