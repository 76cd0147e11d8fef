"""Period data (2051 / 2061 / 2031) made from the real-time stream."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.sim import FACTORS, PeriodAggregator, Province, Sample, build_stations, corrected
from envtrace.sim.aggregate import period_start
from envtrace.sim.physics import round_half_up

T0 = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
STEP = 30.0
STATIONS = build_stations(9, seed=4)
PROVINCE = Province(STATIONS, seed=4)


def run_day(index: int, hours: float = 26.0) -> tuple[list[Sample], list]:
    cfg = STATIONS[index]
    agg = PeriodAggregator(cfg.factors, kind=cfg.kind, min_interval_min=10, o2_ref=cfg.o2_ref)
    samples, records = [], []
    for k in range(int(hours * 3600 / STEP)):
        s = PROVINCE.sample(cfg.mn, T0 + k * STEP)
        samples.append(s)
        records.extend(agg.add(s, STEP))
    return samples, records


RUNS = {i: run_day(i) for i in range(3)}  # flue gas, water, ambient


@pytest.mark.parametrize("index", [0, 1, 2])
def test_min_avg_max_are_ordered_and_zs_too(index: int) -> None:
    _, records = RUNS[index]
    assert {r.cn for r in records} == {"2051", "2061", "2031"}
    for rec in records:
        for v in rec.values:
            assert v.min <= v.avg <= v.max, (rec.cn, v)
            if v.zs_avg is not None:
                assert v.zs_min is not None
                assert v.zs_max is not None
                assert v.zs_min <= v.zs_avg <= v.zs_max


@pytest.mark.parametrize("index", [0, 1, 2])
def test_periods_are_stamped_with_their_start_on_the_local_clock(index: int) -> None:
    _, records = RUNS[index]
    for rec in records:
        local = datetime.fromtimestamp(rec.start + 8 * 3600, tz=UTC)
        if rec.cn == "2051":
            assert local.minute % 10 == 0
            assert local.second == 0
        elif rec.cn == "2061":
            assert (local.minute, local.second) == (0, 0)
        else:
            assert (local.hour, local.minute, local.second) == (0, 0, 0)
    hours = [r.start for r in records if r.cn == "2061"]
    assert hours == sorted(hours)
    assert all(b - a == 3600 for a, b in itertools.pairwise(hours))


@pytest.mark.parametrize("index", [0, 1])
def test_flow_totals_are_the_sum_of_flow_times_interval(index: int) -> None:
    samples, records = RUNS[index]
    flow_code = "a00000" if index == 0 else "w00000"
    scale = 1.0 if index == 0 else 1e-3
    for rec in records:
        if rec.cn != "2061":
            continue
        inside = [s for s in samples if rec.start <= s.time < rec.start + 3600]
        want = sum(s.values[flow_code] * STEP * scale for s in inside)
        v = rec.value(flow_code)
        assert v.cou == pytest.approx(want, abs=0.006)
        if v.flag == "N" and all(s.flags[flow_code] == "N" for s in inside):
            assert v.cou == pytest.approx(v.avg * len(inside) * STEP * scale, rel=1e-3, abs=0.01)


def test_pollutant_loads_are_flow_times_concentration() -> None:
    samples, records = RUNS[1]  # wastewater: kg = m3 * mg/L * 1e-3
    for rec in (r for r in records if r.cn == "2061"):
        inside = [s for s in samples if rec.start <= s.time < rec.start + 3600]
        valid = [s for s in inside if s.flags["w01018"] in ("N", "T")]
        want = sum(s.values["w00000"] * 1e-3 * STEP * s.values["w01018"] * 1e-3 for s in valid)
        assert rec.value("w01018").cou == pytest.approx(want, abs=6e-5)


def test_zs_avg_is_the_formula_on_the_period_values() -> None:
    _, records = RUNS[0]
    o2_ref = STATIONS[0].o2_ref
    assert o2_ref is not None
    checked = 0
    for rec in records:
        o2 = rec.value("a19001").avg
        for v in rec.values:
            if v.zs_avg is None:
                continue
            want = round_half_up(corrected(v.avg, o2, o2_ref), FACTORS[v.code].decimals)
            assert v.zs_avg == want
            checked += 1
    assert checked > 100


def _sample(t: float, flags: dict[str, str], values: dict[str, float]) -> Sample:
    return Sample(t, values, flags)


def test_flue_gas_period_is_normal_with_75_percent_normal_samples() -> None:
    factors = {"a21026": FACTORS["a21026"]}
    agg = PeriodAggregator(factors, kind="flue_gas", min_interval_min=10)
    start = period_start("2051", T0, 480, 10)
    flags = ["N"] * 15 + ["C"] * 5
    for k, f in enumerate(flags):
        agg.add(_sample(start + k * 30.0, {"a21026": f}, {"a21026": 10.0 if f == "N" else 80.0}), 30.0)
    rec = next(r for r in agg.close(start + 600.0) if r.cn == "2051")
    v = rec.value("a21026")
    assert v.flag == "N"
    assert v.avg == 10.0
    assert v.max == 10.0
    agg2 = PeriodAggregator(factors, kind="flue_gas", min_interval_min=10)
    for k, f in enumerate(["N"] * 14 + ["C"] * 6):
        agg2.add(_sample(start + k * 30.0, {"a21026": f}, {"a21026": 10.0}), 30.0)
    assert next(r for r in agg2.close(start + 600.0) if r.cn == "2051").value("a21026").flag == "C"


def test_one_abnormal_wastewater_sample_makes_the_period_abnormal() -> None:
    factors = {"w01018": FACTORS["w01018"]}
    agg = PeriodAggregator(factors, kind="water", min_interval_min=10)
    start = period_start("2051", T0, 480, 10)
    for k in range(20):
        agg.add(_sample(start + k * 30.0, {"w01018": "M" if k == 7 else "N"}, {"w01018": 20.0}), 30.0)
    assert next(r for r in agg.close(start + 600.0) if r.cn == "2051").value("w01018").flag == "M"


values = st.floats(0.0, 500.0, allow_nan=False)
flags = st.sampled_from("NNNNNNCFMDT")


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(values, values, st.floats(0.5, 19.0), flags), min_size=1, max_size=80))
def test_any_stream_gives_ordered_values_and_consistent_flow_totals(rows: list) -> None:
    codes = ("a00000", "a21026", "a19001")
    factors = {c: FACTORS[c] for c in codes}
    agg = PeriodAggregator(factors, kind="flue_gas", min_interval_min=5, o2_ref=6.0)
    records, flow_sum = [], 0.0
    for k, (flow, so2, o2, flag) in enumerate(rows):
        v = {
            "a00000": round_half_up(flow, 2),
            "a21026": round_half_up(so2, 2),
            "a19001": round_half_up(o2, 2),
        }
        flow_sum += v["a00000"] * 30.0
        records.extend(agg.add(Sample(T0 + k * 30.0, v, dict.fromkeys(codes, flag)), 30.0))
    records.extend(agg.flush())
    days = [r for r in records if r.cn == "2031"]
    assert sum(r.value("a00000").cou or 0.0 for r in days) == pytest.approx(flow_sum, abs=0.01 * len(days))
    for rec in records:
        for v in rec.values:
            assert v.min <= v.avg <= v.max
            if v.zs_avg is not None:
                assert not math.isnan(v.zs_avg)
