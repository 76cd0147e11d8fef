"""Ambient detectors on a synthetic network: each fires on its injected manipulation, at the
right station and time, and stays silent on clean data and on benign look-alikes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from tests.detect.conftest import HOUR, modified

from envtrace.detect import Evidence, StationSeries, detect_network, fit_station, scan_station

DAY = 24


def fraud(evidence: list[Evidence], station: str | None = None) -> list[Evidence]:
    return [e for e in evidence if e.kind == "fraud" and (station is None or e.station == station)]


def overlaps(e: Evidence, series: StationSeries, a: int, b: int) -> bool:
    t0, t1 = series.t0 + a * HOUR, series.t0 + b * HOUR
    return e.start < t1 + 86400 and e.end > t0 - 86400


def run_on(network: dict[str, StationSeries], sid: str, new: StationSeries) -> list[Evidence]:
    net = dict(network)
    net[sid] = new
    return scan_station(new, fit_station(new, net), net)


def test_clean_network_raises_no_fraud(network: dict[str, StationSeries]) -> None:
    assert fraud(detect_network(network)) == []


def test_frozen_value_is_found(network: dict[str, StationSeries]) -> None:
    s = network["st00"]
    a, b = 200 * DAY + 5, 200 * DAY + 41
    pm10 = s.values["a34002"].copy()
    pm10[a:b] = np.nanmedian(pm10) * 1.2 // 1
    found = fraud(run_on(network, "st00", modified(s, a34002=pm10)), "st00")
    hits = [e for e in found if e.pattern == "frozen_value" and overlaps(e, s, a, b)]
    assert hits, found
    assert "a34002" in hits[0].parameters
    assert 0.0 <= hits[0].score <= 1.0
    assert hits[0].reason_en
    assert hits[0].reason_zh


@pytest.mark.parametrize("factor", [0.35, 0.5])
def test_sampler_interference_is_found(network: dict[str, StationSeries], factor: float) -> None:
    s = network["st01"]
    pm25 = s.values["a34004"].copy()
    pm10 = s.values["a34002"].copy()
    start = 100 * DAY
    for ep in range(4):
        a = start + ep * 5 * DAY
        pm25[a : a + 36] = np.round(pm25[a : a + 36] * factor)
        pm10[a : a + 36] = np.round(pm10[a : a + 36] * factor)
    found = fraud(run_on(network, "st01", modified(s, a34004=pm25, a34002=pm10)), "st01")
    hits = [
        e for e in found if e.pattern == "sampler_interference" and overlaps(e, s, start, start + 20 * DAY)
    ]
    assert hits, found


def test_level_shift_is_found(network: dict[str, StationSeries]) -> None:
    s = network["st02"]
    a, b = 150 * DAY, 185 * DAY
    new = {}
    for code, v in s.values.items():
        x = v.copy()
        x[a:b] = np.round(x[a:b] * 0.6, 1 if code == "a21005" else 0)
        new[code.replace("-", "_")] = x
    found = fraud(run_on(network, "st02", modified(s, **new)), "st02")
    hits = [e for e in found if e.pattern == "level_shift" and overlaps(e, s, a, b)]
    assert hits, found


def test_copied_series_is_found_at_the_copier_only(network: dict[str, StationSeries]) -> None:
    src, dst = network["st01"], network["st03"]
    a, b = 60 * DAY, 81 * DAY
    pm25 = dst.values["a34004"].copy()
    pm10 = dst.values["a34002"].copy()
    pm25[a:b] = src.values["a34004"][a:b]
    pm10[a:b] = src.values["a34002"][a:b]
    net = dict(network)
    net["st03"] = modified(dst, a34004=pm25, a34002=pm10)
    evidence = detect_network(net)
    copier = [e for e in fraud(evidence, "st03") if e.pattern == "copied_series"]
    assert copier
    assert overlaps(copier[0], dst, a, b)
    assert [e for e in fraud(evidence, "st01") if e.pattern == "copied_series"] == []


def test_ceiling_clip_is_found(network: dict[str, StationSeries]) -> None:
    s = network["st00"]
    a, b = 240 * DAY, 285 * DAY
    pm25 = s.values["a34004"].copy()
    seg = pm25[a:b]
    cap = float(np.nanquantile(s.values["a34004"], 0.7))
    rng = np.random.default_rng(3)
    over = np.isfinite(seg) & (seg > cap)
    seg[over] = np.round(cap * rng.uniform(0.85, 1.0, int(over.sum())))
    found = fraud(run_on(network, "st00", modified(s, a34004=pm25)), "st00")
    hits = [e for e in found if e.pattern == "ceiling_clip" and overlaps(e, s, a, b)]
    assert hits, found


def test_threshold_shaving_is_found(network: dict[str, StationSeries]) -> None:
    s = network["st01"]
    pm25 = s.values["a34004"].copy()
    rng = np.random.default_rng(5)
    a_day, b_day = 0, 150
    for d in range(a_day, b_day):
        day = slice(d * DAY, (d + 1) * DAY)
        mean = float(np.nanmean(pm25[day]))
        if 75 <= mean < 100:
            pm25[day] = np.round(pm25[day] * rng.uniform(64, 74.5) / mean)
    found = fraud(run_on(network, "st01", modified(s, a34004=pm25)), "st01")
    hits = [e for e in found if e.pattern == "threshold_shaving"]
    assert hits, found
    assert hits[0].start < s.t0 + b_day * 86400


def test_selective_deletion_is_found(network: dict[str, StationSeries]) -> None:
    s = network["st02"]
    a, b = 120 * DAY, 160 * DAY
    pm25 = s.values["a34004"].copy()
    pm10 = s.values["a34002"].copy()
    seg = pm25[a:b]
    top = np.isfinite(seg) & (seg >= np.nanquantile(seg, 0.9))
    pm25[a:b][top] = np.nan
    pm10[a:b][top] = np.nan
    found = fraud(run_on(network, "st02", modified(s, a34004=pm25, a34002=pm10)), "st02")
    hits = [e for e in found if e.pattern == "selective_deletion" and overlaps(e, s, a, b)]
    assert hits, found


def test_benign_look_alikes_are_quality_not_fraud(network: dict[str, StationSeries]) -> None:
    """SO2 at its detection limit for days, PM2.5 above PM10, and a three-day outage."""
    s = network["st03"]
    so2 = s.values["a21026"].copy()
    so2[50 * DAY : 56 * DAY] = 2.0
    pm25 = s.values["a34004"].copy()
    pm10 = s.values["a34002"].copy()
    pm25[70 * DAY : 70 * DAY + 8] = pm10[70 * DAY : 70 * DAY + 8] + 5
    outage = slice(90 * DAY, 93 * DAY)
    values = {c.replace("-", "_"): v.copy() for c, v in s.values.items()}
    for v in values.values():
        v[outage] = np.nan
    values.update(a21026=so2, a34004=pm25)
    values["a34004"][outage] = np.nan
    evidence = run_on(network, "st03", modified(s, **values))
    assert fraud(evidence, "st03") == []
    patterns = {e.pattern for e in evidence if e.kind == "qc"}
    assert {"near_detection_limit", "pm25_above_pm10", "gap"} <= patterns


def test_daily_network_runs(make_network: Callable[..., dict[str, StationSeries]]) -> None:
    """Daily means (the control case's shape) go through the suite without fraud on clean data."""
    hourly = make_network(n_stations=3, days=730, seed=4)
    daily = {}
    for sid, s in hourly.items():
        n = s.n // 24
        vals = {
            c: np.nanmean(v[: n * 24].reshape(n, 24), axis=1) for c, v in s.values.items() if c == "a34004"
        }
        flags = {c: np.zeros(n, dtype=np.uint8) for c in vals}
        daily[sid] = StationSeries(sid, "ambient", s.t0, 86400, vals, flags, {"a34004": s.param("a34004")})
    assert fraud(detect_network(daily)) == []
