"""Flue-gas detectors on a synthetic coal unit: each fires on its injected manipulation and stays
silent on clean data, shut-downs, start-ups, calibrations, faults and SO2 at its detection limit."""

from __future__ import annotations

import numpy as np
import pytest
from tests.detect.conftest import HOUR, modified

from envtrace.detect import Evidence, StationSeries, detect_network

DAY = 24


def fraud(evidence: list[Evidence]) -> list[Evidence]:
    return [e for e in evidence if e.kind == "fraud"]


def hits(series: StationSeries, pattern: str, a: int, b: int) -> list[Evidence]:
    found = fraud(detect_network({series.station_id: series}))
    t0, t1 = series.t0 + a * HOUR, series.t0 + b * HOUR
    return [e for e in found if e.pattern == pattern and e.start < t1 + 86400 and e.end > t0 - 86400]


def corrected(series: StationSeries, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Recompute the corrected values from (possibly changed) measured values and O2."""
    o2 = values.get("a19001", series.values["a19001"])
    out = {}
    for code in ("a21026", "a21002", "a34013"):
        meas = values.get(code, series.values[code])
        z = np.round(meas * (21 - 6.0) / (21 - o2), 2)
        z[~np.isfinite(series.values[code + "-Zs"])] = np.nan
        out[code.replace("-", "_") + "_Zs"] = z
    return out


def test_clean_unit_raises_no_fraud(unit: StationSeries) -> None:
    assert fraud(detect_network({unit.station_id: unit})) == []


def test_look_alikes_are_named_quality(unit: StationSeries) -> None:
    so2 = unit.values["a21026"].copy()
    so2[30 * DAY : 40 * DAY] = 1.0  # at the detection limit for ten days (well-scrubbed)
    values = {"a21026": so2}
    new = modified(unit, **values, **corrected(unit, values))
    evidence = detect_network({unit.station_id: new})
    assert fraud(evidence) == []
    qc = {e.pattern for e in evidence if e.kind == "qc"}
    assert {"flag_C", "flag_F", "flag_D", "shutdown_startup"} <= qc


def test_diluent_tamper_is_found(unit: StationSeries) -> None:
    a, b = 50 * DAY, 60 * DAY
    factor = 0.7
    values = {c: unit.values[c].copy() for c in ("a05001", "a21026", "a21002")}
    for v in values.values():
        v[a:b] = np.round(v[a:b] * factor, 2)
    new = modified(unit, **values, **corrected(unit, values))
    found = hits(new, "diluent_tamper", a, b)
    assert found
    assert "a05001" in found[0].parameters


def test_dilution_after_o2_is_found(unit: StationSeries) -> None:
    a, b = 150 * DAY, 165 * DAY
    values = {c: unit.values[c].copy() for c in ("a21026", "a21002")}
    for v in values.values():
        v[a:b] = np.round(v[a:b] * 0.6, 2)
    new = modified(unit, **values, **corrected(unit, values))
    assert hits(new, "dilution_after_o2", a, b)


def test_slope_tamper_is_found(unit: StationSeries) -> None:
    a, b = 200 * DAY, 225 * DAY
    dust = unit.values["a34013"].copy()
    dust[a:b] = np.round(dust[a:b] * 0.55, 2)
    values = {"a34013": dust}
    new = modified(unit, **values, **corrected(unit, values))
    assert hits(new, "slope_tamper", a, b)


@pytest.mark.parametrize("ratio", [0.6, 0.8])
def test_forged_correction_is_found(unit: StationSeries, ratio: float) -> None:
    a, b = 260 * DAY, 272 * DAY
    z = unit.values["a21002-Zs"].copy()
    z[a:b] = np.round(z[a:b] * ratio, 2)
    new = modified(unit, a21002_Zs=z)
    found = hits(new, "forged_correction", a, b)
    assert found
    assert found[0].parameters[0] == "a21002-Zs"


def test_frozen_measured_value_is_found(unit: StationSeries) -> None:
    a, b = 100 * DAY + 3, 100 * DAY + 27
    nox = unit.values["a21002"].copy()
    nox[a:b] = nox[a]
    values = {"a21002": nox}
    new = modified(unit, **values, **corrected(unit, values))
    assert hits(new, "frozen_value", a, b)


def test_ceiling_clip_is_found(unit: StationSeries) -> None:
    a, b = 280 * DAY, 320 * DAY
    rng = np.random.default_rng(2)
    so2 = unit.values["a21026"].copy()
    o2 = unit.values["a19001"]
    z = so2 * 15 / (21 - o2)
    cap = float(np.nanquantile(z, 0.85))
    seg = slice(a, b)
    over = np.isfinite(z[seg]) & (z[seg] > cap)
    newz = z[seg].copy()
    newz[over] = cap * rng.uniform(0.8, 0.95, int(over.sum()))
    so2[seg] = np.round(newz * (21 - o2[seg]) / 15, 2)
    values = {"a21026": so2}
    new = modified(unit, **values, **corrected(unit, values))
    assert hits(new, "ceiling_clip", a, b)


def test_selective_deletion_at_high_load_is_found(unit: StationSeries) -> None:
    a, b = 70 * DAY, 105 * DAY
    load = unit.values["load"]
    seg = slice(a, b)
    top = np.flatnonzero(load[seg] >= np.nanquantile(load[seg], 0.9)) + a
    values = {c.replace("-", "_"): v.copy() for c, v in unit.values.items()}
    for v in values.values():
        v[top] = np.nan
    new = modified(unit, **values)
    assert hits(new, "selective_deletion", a, b)
