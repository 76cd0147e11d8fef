"""Falsification patterns: each changes the data the way the bench README describes, and nothing else."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime

import pytest

from envtrace.sim import (
    FACTORS,
    Injection,
    InjectionError,
    Injector,
    Province,
    Sample,
    build_stations,
    co2_from_o2,
    corrected,
    parse_injection,
)
from envtrace.sim.physics import AMBIENT_FACTORS, local_day_start

HOUR = 3600.0
DAY = 86400.0
T0 = datetime(2026, 1, 12, tzinfo=UTC).timestamp()
STATIONS = build_stations(30, seed=21)
PROVINCE = Province(STATIONS, seed=21)
POWER = next(s for s in STATIONS if s.kind == "flue_gas" and s.spec.unit_type == "power")  # type: ignore[union-attr]
AIR = [s for s in STATIONS if s.kind == "ambient"]
WATER = next(s for s in STATIONS if s.kind == "water")
GASES = ("a21026", "a21002", "a21005")


def half(code: str, table: dict = FACTORS) -> float:
    return 0.5 * 10.0 ** -table[code].decimals + 1e-9


def pairs(
    station,
    pattern: str,
    params: dict | None = None,
    *,
    start: float = T0 + DAY,
    days: float = 3.0,
    step: float = 300.0,
) -> list[tuple[Sample, Sample | None, bool]]:
    """(clean, injected, inside the window) at ``step`` over a day before, the window, a day after."""
    inj = Injection(pattern, station.mn, start, start + days * DAY, params or {})
    injector = Injector(station, PROVINCE, [inj])
    out = []
    t = start - DAY
    while t < start + (days + 1) * DAY:
        clean = PROVINCE.sample(station.mn, t)
        out.append((clean, injector.apply(clean), inj.active(t)))
        t += step
    return out


def untouched_outside(rows: list) -> None:
    for clean, dirty, inside in rows:
        if not inside:
            assert dirty == clean


def running(s: Sample) -> bool:
    return all(s.flags.get(c) == "N" for c in ("a19001", "a21026", "a21002"))


def zs_is_formula(s: Sample, o2_ref: float) -> None:
    for code, zs in s.zs.items():
        assert abs(zs - corrected(s.values[code], s.values["a19001"], o2_ref)) <= half(code)


# ------------------------------------------------------------------------------------ flue gas


def test_dilution_after_o2_lowers_the_gases_but_not_o2_or_co2() -> None:
    rows = pairs(POWER, "dilution_after_o2", {"factor": 0.5})
    untouched_outside(rows)
    seen = 0
    for clean, dirty, inside in rows:
        if not inside or dirty is None or not running(clean):
            continue
        seen += 1
        for code in GASES:
            assert abs(dirty.values[code] - clean.values[code] * 0.5) <= half(code)
        for code in ("a19001", "a05001", "a00000", "a01012", "a34013"):
            assert dirty.values[code] == clean.values[code]
        zs_is_formula(dirty, 6.0)
        assert dirty.zs["a21026"] < clean.zs["a21026"] or clean.zs["a21026"] < 0.02
    assert seen > 100


def test_diluent_tamper_lowers_gases_and_co2_together_and_breaks_the_o2_co2_relation() -> None:
    rows = pairs(POWER, "diluent_tamper", {"fraction": 0.3})
    untouched_outside(rows)
    gaps = []
    for clean, dirty, inside in rows:
        if not inside or dirty is None or not running(clean):
            continue
        for code in (*GASES, "a05001"):
            assert abs(dirty.values[code] - clean.values[code] * 0.7) <= half(code)
        assert dirty.values["a19001"] == clean.values["a19001"]
        co2_max = POWER.spec.co2_max  # type: ignore[union-attr]
        gaps.append(co2_from_o2(dirty.values["a19001"], co2_max) - dirty.values["a05001"])
        zs_is_formula(dirty, 6.0)
    assert statistics.fmean(gaps) > 2.5  # CO2 some 30 % below what the reported O2 implies


def test_forged_correction_reports_corrected_values_below_the_formula() -> None:
    rows = pairs(POWER, "forged_correction", {"factor": 0.7})
    untouched_outside(rows)
    for clean, dirty, inside in rows:
        if not inside or dirty is None:
            continue
        assert dirty.values == clean.values
        assert dirty.flags == clean.flags
        for code, zs in clean.zs.items():
            assert abs(dirty.zs[code] - zs * 0.7) <= half(code)


def test_frozen_value_holds_one_pollutant_while_the_rest_moves() -> None:
    rows = pairs(POWER, "frozen_value", {"code": "a21026", "jitter": 0.001})
    untouched_outside(rows)
    inside = [(c, d) for c, d, i in rows if i and d is not None]
    frozen = [d.values["a21026"] for _, d in inside]
    span = POWER.spec.spans["a21026"]  # type: ignore[union-attr]
    assert max(frozen) - min(frozen) <= 0.002 * span + 0.02
    assert statistics.pstdev([c.values["a21026"] for c, _ in inside]) > 5 * statistics.pstdev(frozen)
    for clean, dirty in inside:
        for code in ("a21002", "a19001", "a00000"):
            assert dirty.values[code] == clean.values[code]
        zs_is_formula(dirty, 6.0)  # the corrected value follows O2 only


def test_ceiling_clip_keeps_corrected_values_comfortably_below_the_limit() -> None:
    params = {"threshold": 0.5, "low": 0.3, "high": 0.45}  # a low threshold so that clipping happens often
    rows = pairs(POWER, "ceiling_clip", params)
    untouched_outside(rows)
    limits = POWER.spec.limits  # type: ignore[union-attr]
    clipped = 0
    for clean, dirty, inside in rows:
        if not inside or dirty is None:
            continue
        for code, zs in clean.zs.items():
            if zs >= 0.5 * limits[code]:
                clipped += 1
                assert dirty.zs[code] <= 0.45 * limits[code] + 2 * half(code) * 3
            else:
                assert dirty.values[code] == clean.values[code]
        zs_is_formula(dirty, 6.0)
        assert dirty.values["a19001"] == clean.values["a19001"]
    assert clipped > 20


def test_slope_tamper_scales_one_pollutant_in_measured_and_corrected_values() -> None:
    rows = pairs(POWER, "slope_tamper", {"code": "a21002", "factor": 0.6})
    untouched_outside(rows)
    for clean, dirty, inside in rows:
        if not inside or dirty is None or clean.flags["a21002"] == "C":
            continue
        assert abs(dirty.values["a21002"] - clean.values["a21002"] * 0.6) <= half("a21002")
        if "a21002" in clean.zs:
            assert abs(dirty.zs["a21002"] - clean.zs["a21002"] * 0.6) <= 3 * half("a21002")
        assert dirty.values["a21026"] == clean.values["a21026"]


def test_selective_deletion_removes_high_load_hours_only() -> None:
    rows = pairs(POWER, "selective_deletion", {"load": 0.85, "level": 0.9, "p": 1.0, "cover": 0.0}, days=4)
    untouched_outside(rows)
    model = PROVINCE.models[POWER.mn]
    deleted = kept_high = 0
    for clean, dirty, inside in rows:
        if not inside:
            continue
        mid = math.floor(clean.time / HOUR) * HOUR + 1800.0
        high = model.load(mid) >= 0.85 or any(
            z >= 0.9 * POWER.spec.limits[c]  # type: ignore[union-attr]
            for c, z in model.sample(mid).zs.items()
        )
        if dirty is None:
            deleted += 1
            assert high
        else:
            assert dirty == clean
            kept_high += high
    assert deleted > 10
    assert kept_high == 0


def test_selective_deletion_can_hide_behind_a_fault_flag() -> None:
    rows = pairs(POWER, "selective_deletion", {"load": 0.8, "p": 1.0, "cover": 1.0}, days=4)
    covered = [d for c, d, i in rows if i and d is not None and d != c]
    assert covered
    for d in covered:
        assert all(d.flags[c] == "D" and d.values[c] == 0.0 for c in ("a21026", "a21002", "a34013"))
        assert not set(d.zs) & {"a21026", "a21002", "a34013"}


# ------------------------------------------------------------------------------------ ambient


def amb_half(code: str) -> float:
    return half(code, AMBIENT_FACTORS)


def test_sampler_interference_cuts_pm_by_a_common_factor_in_episodes_and_spares_the_gases() -> None:
    rows = pairs(AIR[0], "sampler_interference", {"factor": 0.5, "p": 0.5}, days=10, step=900.0)
    untouched_outside(rows)
    hit = miss = 0
    for clean, dirty, inside in rows:
        if not inside or dirty is None:
            continue
        for code in ("a21026", "a21004", "a21005", "a05024", "a01001"):
            assert dirty.values[code] == clean.values[code]
        if dirty.values["a34004"] != clean.values["a34004"] and clean.values["a34004"] >= 20:
            hit += 1
            r25 = dirty.values["a34004"] / clean.values["a34004"]
            r10 = dirty.values["a34002"] / clean.values["a34002"]
            assert 0.35 < r25 < 0.7
            assert abs(r25 - r10) < 0.05
        elif dirty.values == clean.values:
            miss += 1
    assert hit > 10
    assert miss > 10


def test_copied_series_takes_the_neighbours_pm_for_the_same_instants() -> None:
    me, source = AIR[0], AIR[1]
    rows = pairs(me, "copied_series", {"source": source.mn}, days=2)
    untouched_outside(rows)
    for clean, dirty, inside in rows:
        if not inside or dirty is None:
            continue
        other = PROVINCE.sample(source.mn, clean.time)
        assert dirty.values["a34004"] == other.values["a34004"]
        assert dirty.values["a34002"] == other.values["a34002"]
        assert dirty.values["a21004"] == clean.values["a21004"]


def test_copied_series_defaults_to_the_nearest_ambient_station() -> None:
    rows = pairs(AIR[0], "copied_series", days=0.5)
    changed = [d for c, d, i in rows if i and d is not None and d.values["a34004"] != c.values["a34004"]]
    assert changed


def test_threshold_shaving_moves_days_just_above_the_limit_to_just_below() -> None:
    station = AIR[0]
    model = PROVINCE.models[station.mn]
    limit = 30.0  # a low limit so that the campaign has days to shave
    start = local_day_start(T0, 480)
    rows = pairs(
        station, "threshold_shaving", {"limit": limit, "band": 2.0}, start=start, days=20, step=1800.0
    )
    untouched_outside(rows)
    by_day: dict[float, list[tuple[float, float]]] = {}
    for clean, dirty, inside in rows:
        if inside and dirty is not None:
            by_day.setdefault(local_day_start(clean.time, 480), []).append(
                (clean.values["a34004"], dirty.values["a34004"])
            )
    shaved = 0
    for day, vals in by_day.items():
        true_mean = statistics.fmean(model.true_values(day + (i + 0.5) * 1800.0)["a34004"] for i in range(48))
        dirty_mean = statistics.fmean(d for _, d in vals)
        if limit < true_mean <= 2.0 * limit:
            shaved += 1
            assert dirty_mean < limit * 1.02
        else:
            assert all(c == d for c, d in vals)
    assert shaved >= 2


def test_ambient_ceiling_clip_caps_pm25() -> None:
    rows = pairs(AIR[0], "ceiling_clip", {"cap": 25.0}, days=5, step=1800.0)
    untouched_outside(rows)
    for clean, dirty, inside in rows:
        if inside and dirty is not None:
            assert dirty.values["a34004"] <= 25.0
            assert dirty.values["a34002"] == clean.values["a34002"]
            if clean.values["a34004"] <= 25.0:
                assert dirty == clean


def test_level_shift_scales_every_pollutant_and_no_weather() -> None:
    rows = pairs(AIR[0], "level_shift", {"factor": 0.7})
    untouched_outside(rows)
    for clean, dirty, inside in rows:
        if not inside or dirty is None:
            continue
        for code in ("a34004", "a34002", "a21026", "a21004", "a21005", "a05024"):
            assert abs(dirty.values[code] - clean.values[code] * 0.7) <= amb_half(code)
        for code in ("a01001", "a01002", "a01006", "a01007", "a01008"):
            assert dirty.values[code] == clean.values[code]


def test_ambient_frozen_value_and_selective_deletion() -> None:
    rows = pairs(AIR[0], "frozen_value", days=1)
    values = {d.values["a34004"] for c, d, i in rows if i and d is not None}
    assert len(values) == 1
    rows = pairs(AIR[0], "selective_deletion", {"level": 20.0, "p": 1.0}, days=3)
    dropped = [d for c, d, i in rows if i and d is not None and "a34004" not in d.values]
    assert dropped
    assert all("a34002" not in d.values and "a21004" in d.values for d in dropped)


def test_wastewater_slope_tamper_scales_cod() -> None:
    rows = pairs(WATER, "slope_tamper", {"factor": 0.5})
    untouched_outside(rows)
    for clean, dirty, inside in rows:
        if inside and dirty is not None and clean.flags["w01018"] != "C":
            assert abs(dirty.values["w01018"] - clean.values["w01018"] * 0.5) <= half("w01018")
            assert dirty.values["w00000"] == clean.values["w00000"]


# ------------------------------------------------------------------------------------ --inject


def test_injection_specs_parse_with_offsets_iso_times_and_parameters() -> None:
    inj = parse_injection("dilution_after_o2:0:+2h:6h@factor=0.4", STATIONS, origin=T0)
    assert (inj.mn, inj.start, inj.end, inj.params) == (
        STATIONS[0].mn,
        T0 + 2 * HOUR,
        T0 + 8 * HOUR,
        {"factor": 0.4},
    )
    inj = parse_injection(
        f"level_shift:{AIR[1].mn}:2026-01-12T10:00:00+08:00", STATIONS, origin=T0, end=T0 + DAY
    )
    assert (inj.mn, inj.start, inj.end) == (AIR[1].mn, T0 + 2 * HOUR, T0 + DAY)
    inj = parse_injection("copied_series", STATIONS, origin=T0)
    assert inj.mn == AIR[0].mn
    assert inj.end == math.inf
    inj = parse_injection("frozen_value::2026-01-12T12:00:3d@code=a21002", STATIONS, origin=T0)
    assert inj.start == T0 + 4 * HOUR
    assert inj.end == inj.start + 3 * DAY
    assert inj.params == {"code": "a21002"}


@pytest.mark.parametrize(
    "spec",
    [
        "no_such_pattern",
        "level_shift:0",
        "dilution_after_o2:999",
        "level_shift::tomorrow",
        "level_shift::0:5x",
    ],
)
def test_bad_injection_specs_are_refused_with_the_spec_in_the_message(spec: str) -> None:
    with pytest.raises(InjectionError, match=r"inject|pattern"):
        parse_injection(spec, STATIONS, origin=T0)


def test_an_injector_refuses_a_pattern_of_another_kind() -> None:
    with pytest.raises(InjectionError, match="applies to"):
        Injector(WATER, PROVINCE, [Injection("dilution_after_o2", WATER.mn, T0)])
