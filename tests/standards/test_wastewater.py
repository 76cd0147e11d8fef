"""Wastewater validity, discharge, loads and means (HJ 356 as far as known; HJ 212-2017 appendix D)."""

from __future__ import annotations

import numpy as np
import pytest

from envtrace.standards import Reason
from envtrace.standards.wastewater import (
    arithmetic_mean,
    discharge_m3,
    fill_missing,
    flow_validity,
    flow_weighted_mean,
    load_kg,
    value_validity,
)


def test_value_validity_reasons() -> None:
    v = value_validity(
        [30.0, -1.0, 30.0, np.nan, 30.0], flow_lps=[5.0, 5.0, 0.0, 5.0, 5.0], flags=["N", "N", "N", "N", "C"]
    )
    assert v.valid.tolist() == [True, False, False, False, False]
    assert v.reason.tolist() == [
        0,
        Reason.NEGATIVE_VALUE,
        Reason.ZERO_FLOW,
        Reason.MISSING,
        Reason.CALIBRATION,
    ]


def test_ph_range() -> None:
    assert value_validity([7.0, 15.0], is_ph=True).reason.tolist() == [0, Reason.OUT_OF_PHYSICAL_RANGE]


def test_flow_zero_is_valid_negative_not() -> None:
    assert flow_validity([0.0, -0.1]).valid.tolist() == [True, False]


def test_appendix_d_units() -> None:
    d = discharge_m3([10.0], [3600.0])  # 10 L/s for an hour = 36 m3
    assert d[0] == pytest.approx(36.0)
    assert load_kg([100.0], d)[0] == pytest.approx(3.6)  # 100 mg/L * 36 m3 = 3.6 kg


def test_flow_weighted_vs_arithmetic() -> None:
    c = np.array([[100.0, 20.0]])
    q = np.array([[30.0, 10.0]])
    mean, total_d, total_g = flow_weighted_mean(c, q, 3600.0, np.ones_like(c, dtype=bool))
    assert mean[0] == pytest.approx((100 * 30 + 20 * 10) / 40)
    assert total_d[0] == pytest.approx(144.0)
    assert total_g[0] == pytest.approx(100 * 108e-3 + 20 * 36e-3)
    assert arithmetic_mean(c, np.ones_like(c, dtype=bool))[0] == 60.0


def test_flow_weighted_skips_invalid_concentrations() -> None:
    c = np.array([[100.0, 999.0]])
    q = np.array([[10.0, 10.0]])
    mean, total_d, _ = flow_weighted_mean(c, q, 3600.0, np.array([[True, False]]))
    assert mean[0] == 100.0
    assert total_d[0] == pytest.approx(72.0)


def test_fill_missing_mean_and_ph_median() -> None:
    v = np.array([1.0, np.nan, 3.0, 10.0])
    filled, mask = fill_missing(v, ~np.isnan(v))
    assert filled[1] == 2.0
    assert mask.tolist() == [False, True, False, False]
    ph = np.array([7.0, 7.2, np.nan, 9.0, 7.1])
    filled, _ = fill_missing(ph, ~np.isnan(ph), is_ph=True, neighbours=2)
    assert filled[2] == pytest.approx(np.median([7.0, 7.2, 9.0, 7.1]))
