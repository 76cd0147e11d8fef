"""Flue-gas corrections and conversions (HJ 212-2017 appendix D)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from envtrace.standards import (
    Reason,
    correct_by_excess_air,
    correct_to_reference_o2,
    emission_rate_kg_h,
    emission_total_t,
    flow_m3_per_h,
    mg_m3_to_ppm,
    nox_as_no2_mg_m3,
    ppm_to_mg_m3,
    reference_o2,
    standard_dry_flow_m3_per_h,
    to_dry_basis,
    to_standard_state,
)


@pytest.mark.parametrize(
    ("c", "o2", "ref", "want"),
    [
        (100.0, 6.0, 6.0, 100.0),  # at the reference: unchanged
        (100.0, 9.0, 6.0, 125.0),  # 100 * 15 / 12
        (30.0, 12.0, 6.0, 50.0),  # 30 * 15 / 9
        (50.0, 15.0, 15.0, 50.0),  # gas turbine at 15 %
        (80.0, 11.0, 9.0, 96.0),  # industrial coal boiler: 80 * 12 / 10
        (20.0, 1.0, 3.0, 18.0),  # O2 below the reference lowers the value
    ],
)
def test_reference_o2_examples(c: float, o2: float, ref: float, want: float) -> None:
    assert correct_to_reference_o2([c], [o2], ref).values[0] == pytest.approx(want)


def test_o2_guard() -> None:
    r = correct_to_reference_o2([10.0] * 6, [19.0, 19.5, 21.0, 22.0, -1.0, np.nan], 6.0)
    assert r.validity.valid.tolist() == [True, False, False, False, False, False]
    assert r.validity.reason.tolist()[1:] == [
        Reason.O2_ABOVE_CAP,
        Reason.O2_AT_OR_ABOVE_AMBIENT,
        Reason.O2_AT_OR_ABOVE_AMBIENT,
        Reason.OUT_OF_PHYSICAL_RANGE,
        Reason.MISSING,
    ]
    assert math.isnan(r.values[1])
    stopped = correct_to_reference_o2([10.0], [20.0], 6.0, above_cap="stopped")
    assert stopped.validity.reason.tolist() == [Reason.STOPPED]
    looser = correct_to_reference_o2([10.0], [20.0], 6.0, o2_cap_pct=20.5)
    assert looser.values[0] == pytest.approx(150.0)


def test_excess_air_equals_reference_o2_form() -> None:
    o2 = np.array([3.0, 6.0, 9.0, 12.0])
    alpha_s = 21 / (21 - 6)
    a = correct_by_excess_air([100.0] * 4, o2, alpha_s).values
    b = correct_to_reference_o2([100.0] * 4, o2, 6.0).values
    assert np.allclose(a, b)


def test_dry_basis_and_standard_state() -> None:
    assert to_dry_basis([90.0], [0.1]).values[0] == pytest.approx(100.0)
    assert to_dry_basis([90.0], [1.0]).validity.reason[0] == Reason.MOISTURE_INVALID
    # at 0 °C and 101325 Pa nothing changes; at 273 °C the gas is twice as dilute
    assert to_standard_state([50.0, 50.0], [0.0, 273.0], [101325.0, 101325.0]).tolist() == [50.0, 100.0]


def test_ppm_conversions() -> None:
    assert ppm_to_mg_m3([100.0], "SO2")[0] == pytest.approx(100 * 64.064 / 22.4)
    assert mg_m3_to_ppm(ppm_to_mg_m3([35.0], "NO2"), "NO2")[0] == pytest.approx(35.0)
    # 10 mg/m3 NO counts as 10 * 46.005 / 30.006 as NO2
    assert nox_as_no2_mg_m3([10.0], [5.0])[0] == pytest.approx(10 * 46.005 / 30.006 + 5)


def test_flow_and_emission_rate() -> None:
    assert flow_m3_per_h([10.0], "m3/s")[0] == 36000.0
    assert flow_m3_per_h([36000.0], "m3/h")[0] == 36000.0
    q = standard_dry_flow_m3_per_h([36000.0], [0.0], [101325.0], [0.0])
    assert q[0] == pytest.approx(36000.0)
    rate = emission_rate_kg_h([50.0], q)
    assert rate[0] == pytest.approx(1.8)  # 50 mg/m3 * 36000 m3/h = 1.8 kg/h
    assert emission_total_t([1.8] * 1000) == pytest.approx(1.8)


def test_reference_o2_table() -> None:
    assert reference_o2("thermal_power", "coal_boiler").o2_ref_pct == 6
    assert reference_o2("thermal_power", "gas_turbine").o2_ref_pct == 15
    assert reference_o2("industrial_boiler", "coal_boiler").o2_ref_pct == 9
    assert reference_o2("waste_incineration", "incinerator").o2_ref_pct == 11
    assert reference_o2("cement", "kiln").o2_ref_pct == 10
