"""Ambient-air validity (GB 3095 Table 4, HJ 663): hours, days, 8-h O3, daily max 8-h, year."""

from __future__ import annotations

import numpy as np
import pytest

from envtrace.standards import (
    Reason,
    ambient_hourly_validity,
    annual_validity,
    daily_mean,
    daily_report_inputs,
    moving_mean,
    o3_8h_moving,
    o3_daily_max_8h,
)


def test_hour_44_vs_45_minutes() -> None:
    assert ambient_hourly_validity([44, 45]).valid.tolist() == [False, True]


def test_day_19_vs_20_hours() -> None:
    day = np.full((2, 24), 30.0)
    day[0, :5] = np.nan  # 19 hours
    day[1, :4] = np.nan  # 20 hours
    mean, v = daily_mean(day)
    assert v.valid.tolist() == [False, True]
    assert np.isnan(mean[0])
    assert mean[1] == 30.0
    assert v.reason.tolist() == [Reason.INSUFFICIENT_HOURS, 0]


def test_o3_8h_needs_6_of_8() -> None:
    h = np.arange(16, dtype=float)
    h5 = h.copy()
    h5[[10, 11, 12]] = np.nan  # window ending at 15 (8..15) has 5 values
    means, v = o3_8h_moving(h5)
    assert not v.valid[15]
    assert np.isnan(means[15])
    h6 = h.copy()
    h6[[10, 11]] = np.nan  # 6 values
    means, v = o3_8h_moving(h6)
    assert v.valid[15]
    assert means[15] == pytest.approx(np.mean([8, 9, 12, 13, 14, 15]))
    # the first windows see only the hours so far: index 5 has 6 values
    assert v.valid.tolist()[:7] == [False] * 5 + [True, True]


def test_moving_mean_matches_naive() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 100, 200)
    x[rng.random(200) < 0.2] = np.nan
    got, _ = moving_mean(x, 24, 20)
    for t in range(200):
        w = x[max(0, t - 23) : t + 1]
        ok = w[~np.isnan(w)]
        want = ok.mean() if ok.size >= 20 else np.nan
        assert (np.isnan(want) and np.isnan(got[t])) or got[t] == pytest.approx(want)


def test_daily_max_8h_windows_inside_the_day() -> None:
    day = np.full(24, 50.0)
    day[16:24] = 200.0  # the last window (16..23) is inside the day
    best, v = o3_daily_max_8h(day[None, :])
    assert v.valid[0]
    assert best[0] == 200.0


def test_daily_max_8h_needs_14_windows() -> None:
    day = np.full(24, 50.0)
    day[0:4] = np.nan  # windows starting 0..1 have < 6 hours: 0-7 has 4, 1-8 has 5 -> 15 valid windows
    _, v = o3_daily_max_8h(day[None, :])
    assert v.valid[0]
    day2 = np.full(24, 50.0)
    day2[0:5] = np.nan  # windows 0-7 (3), 1-8 (4), 2-9 (5) invalid -> 14 valid
    _, v2 = o3_daily_max_8h(day2[None, :])
    assert v2.valid[0]
    day3 = np.full(24, 50.0)
    day3[0:6] = np.nan  # 4 invalid windows -> 13 valid
    _, v3 = o3_daily_max_8h(day3[None, :])
    assert not v3.valid[0]
    assert v3.reason[0] == Reason.INSUFFICIENT_8H_MEANS


def test_annual_324_and_27_per_month_february_25() -> None:
    ok = np.array([28, 25, 28, 27, 28, 27, 28, 28, 27, 28, 27, 28])  # 329
    assert bool(annual_validity(ok).valid)
    feb_short = ok.copy()
    feb_short[1] = 24
    assert int(annual_validity(feb_short).reason) == Reason.INSUFFICIENT_DAYS_IN_MONTH
    few = np.full(12, 27)  # 324 exactly
    assert bool(annual_validity(few).valid)
    too_few = np.array([27, 25, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27])  # 322
    assert int(annual_validity(too_few).reason) == Reason.INSUFFICIENT_DAYS
    assert annual_validity(np.stack([ok, few])).valid.tolist() == [True, True]


def test_daily_report_inputs() -> None:
    hours = {"PM2.5": np.full((1, 24), 40.0), "O3": np.tile(np.arange(24.0), (1, 1))}
    got = daily_report_inputs(hours)
    assert got["PM2.5_24h"][0] == 40.0
    assert got["O3_1h_max"][0] == 23.0
    assert got["O3_8h_max"][0] == pytest.approx(np.mean(np.arange(16, 24)))
