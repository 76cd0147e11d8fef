"""Physics invariants of the simulated monitors (flue gas, wastewater, ambient air)."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.sim import (
    FACTORS,
    AmbientModel,
    FlueGasModel,
    Province,
    WastewaterModel,
    build_stations,
    co2_from_o2,
    corrected,
)
from envtrace.sim.physics import local_hour

T0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday, 08:00 in China
HOUR = 3600.0
DAY = 86400.0
STATIONS = build_stations(24, seed=11)
PROVINCE = Province(STATIONS, seed=11)


def models(kind: type) -> list:
    return [m for m in PROVINCE.models.values() if isinstance(m, kind)]


FLUE = models(FlueGasModel)
POWER = [m for m in FLUE if m.spec.unit_type == "power"]
WATER = models(WastewaterModel)
AIR = models(AmbientModel)


def half_unit(code: str) -> float:
    return 0.5 * 10.0 ** -FACTORS[code].decimals + 1e-9


def test_the_province_has_every_kind() -> None:
    assert FLUE
    assert POWER
    assert WATER
    assert len(AIR) >= 2
    assert any(m.spec.unit_type == "boiler" for m in FLUE)


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(i=st.integers(0, len(FLUE) - 1), t=st.floats(T0, T0 + 365 * DAY))
def test_corrected_values_are_the_reference_o2_formula_on_the_reported_values(i: int, t: float) -> None:
    model = FLUE[i]
    s = model.sample(t)
    o2 = s.values["a19001"]
    for code, zs in s.zs.items():
        want = corrected(s.values[code], o2, model.spec.o2_ref)
        assert abs(zs - want) <= half_unit(code), (code, zs, want)


@pytest.mark.property
@settings(max_examples=100, deadline=None)
@given(i=st.integers(0, len(FLUE) - 1), t=st.floats(T0, T0 + 365 * DAY))
def test_a_flue_gas_frame_carries_at_least_eight_factors(i: int, t: float) -> None:
    s = FLUE[i].sample(t)
    assert len(s.values) >= 8
    assert set(s.values) >= {"a21026", "a21002", "a34013", "a19001", "a00000", "a01012", "a01013", "a01014"}


def test_o2_and_co2_obey_the_coal_combustion_relation() -> None:
    for model in FLUE:
        residuals = []
        for k in range(0, 2 * 24 * 12):
            s = model.sample(T0 + k * 300.0)
            if s.flags["a19001"] == "N" and s.flags["a05001"] == "N":
                expected = co2_from_o2(s.values["a19001"], model.spec.co2_max)
                residuals.append(s.values["a05001"] - expected)
        assert len(residuals) > 100
        assert abs(statistics.fmean(residuals)) < 0.1
        assert statistics.pstdev(residuals) < 0.15


def test_flow_follows_load_and_excess_air() -> None:
    model = POWER[0]
    sp = model.spec
    ratios = []
    for k in range(0, 3 * 24):
        t = T0 + k * HOUR
        s = model.sample(t)
        if s.flags["a00000"] != "N" or model.phase(t)[0] != "run":
            continue
        alpha = 21.0 / (21.0 - s.values["a19001"])
        ratios.append(
            s.values["a00000"] / (sp.flow_full * s.load * alpha / (21.0 / (21.0 - sp.o2_full_load)))
        )
    assert len(ratios) > 40
    assert all(0.9 < r < 1.1 for r in ratios)


def _mean_by_hour(fn, model, hours: tuple[float, float], days: int = 14) -> float:
    values = []
    for d in range(days):
        for h in (hours[0], (hours[0] + hours[1]) / 2):
            local_midnight = T0 - 8 * HOUR + d * DAY
            values.append(fn(model, local_midnight + h * HOUR))
    return statistics.fmean(values)


def test_power_units_follow_a_daily_demand_curve() -> None:
    for model in POWER:
        evening = _mean_by_hour(lambda m, t: m.demand(t), model, (19.0, 20.0))
        night = _mean_by_hour(lambda m, t: m.demand(t), model, (3.0, 4.0))
        assert evening > night + 0.1


def test_ambient_o3_peaks_in_the_afternoon_and_no2_at_rush_hour() -> None:
    for model in AIR:
        o3_afternoon = _mean_by_hour(lambda m, t: m.true_values(t)["a05024"], model, (14.0, 16.0))
        o3_night = _mean_by_hour(lambda m, t: m.true_values(t)["a05024"], model, (2.0, 4.0))
        no2_evening = _mean_by_hour(lambda m, t: m.true_values(t)["a21004"], model, (18.0, 19.0))
        no2_noon = _mean_by_hour(lambda m, t: m.true_values(t)["a21004"], model, (12.0, 13.0))
        assert o3_afternoon > o3_night
        assert no2_evening > no2_noon


def _series(model: AmbientModel, code: str, hours: int, start: float = T0) -> list[float]:
    return [model.true_values(start + k * HOUR)[code] for k in range(hours)]


def test_o3_is_anti_correlated_with_no2() -> None:
    for model in AIR:
        start = datetime(2026, 7, 1, tzinfo=UTC).timestamp()
        o3, no2 = _series(model, "a05024", 24 * 30, start), _series(model, "a21004", 24 * 30, start)
        assert statistics.correlation(o3, no2) < -0.2


def test_neighbouring_cities_are_correlated() -> None:
    a, b = AIR[0], AIR[1]
    pa, pb = _series(a, "a34004", 24 * 60), _series(b, "a34004", 24 * 60)
    assert statistics.correlation([math.log(x) for x in pa], [math.log(x) for x in pb]) > 0.5


def test_pm10_is_mostly_above_pm25() -> None:
    model = AIR[0]
    above = sum(
        model.sample(T0 + k * HOUR).values["a34002"] >= model.sample(T0 + k * HOUR).values["a34004"]
        for k in range(24 * 20)
    )
    assert above > 0.9 * 24 * 20


def test_municipal_wastewater_flows_more_by_day_than_before_dawn() -> None:
    municipal = [m for m in WATER if m.spec.works == "municipal"] or WATER
    for model in municipal:
        day = _mean_by_hour(lambda m, t: m.flow(t), model, (10.0, 12.0))
        dawn = _mean_by_hour(lambda m, t: m.flow(t), model, (3.0, 5.0))
        assert day > dawn


def test_periodic_analysers_hold_their_last_measurement() -> None:
    model = WATER[0]
    s1, s2 = model.sample(T0 + 60.0), model.sample(T0 + 90.0)
    for code in ("w01018", "w21003", "w21011", "w21001"):
        assert s1.sample_times[code] <= s1.time
        if s1.sample_times[code] == s2.sample_times[code] and s1.flags[code] == s2.flags[code]:
            assert s1.values[code] == s2.values[code]


def _find(model: FlueGasModel, phase: str) -> float:
    for k in range(0, 365 * 24 * 4):
        t = T0 + k * 900.0
        if model.phase(t)[0] == phase:
            return t
    pytest.fail(f"no {phase} phase within a year for {model.spec.key}")


def test_a_stopped_unit_reads_ambient_air_flagged_f_without_corrected_values() -> None:
    model = FLUE[0]
    t = _find(model, "stopped") + 2 * HOUR
    s = model.sample(t)
    assert s.load == 0.0
    assert s.values["a19001"] > 20.0
    assert {s.flags[c] for c in ("a00000", "a21026", "a34013")} <= {"F", "C", "M", "B", "D"}
    assert s.flags["a00000"] in ("F", "B")
    assert not s.zs


def test_start_ups_run_with_high_o2_and_elevated_concentrations() -> None:
    model = POWER[0]
    t = _find(model, "startup")
    s, later = model.sample(t + 600.0), model.sample(t + 8 * HOUR)
    assert s.values["a19001"] > later.values["a19001"] + 3.0
    assert s.zs.get("a21026", math.inf) > later.zs.get("a21026", 0.0)


def test_daily_calibration_flags_the_gas_analysers_c_without_corrected_values() -> None:
    model = FLUE[0]
    sp = model.spec
    day = T0 - 8 * HOUR + 2 * DAY
    t = day + sp.calibration_hour * HOUR + 0.75 * sp.calibration_minutes * 60.0
    s = model.sample(t)
    if model.phase(t)[0] == "stopped" or s.flags["a00000"] == "B":
        pytest.skip("unit stopped on that day")
    for code in ("a21026", "a21002", "a19001"):
        assert s.flags[code] == "C"
    assert s.values["a21026"] == pytest.approx(0.8 * sp.spans["a21026"], rel=0.05)  # span gas
    assert s.flags["a01012"] == "N"
    assert not s.zs


def test_samples_are_a_pure_function_of_time() -> None:
    again = Province(build_stations(24, seed=11), seed=11)
    for mn, model in PROVINCE.models.items():
        for t in (T0, T0 + 12345.0, T0 + 200 * DAY):
            assert again.models[mn].sample(t) == model.sample(t)


def test_local_hour_is_china_time() -> None:
    assert local_hour(T0, 480) == pytest.approx(8.0)
