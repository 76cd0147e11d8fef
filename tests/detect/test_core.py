"""Series, statistics and evidence: the pieces every detector stands on."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from envtrace.detect import Evidence, StationSeries, merge_evidence, stations_from_frames
from envtrace.detect.errors import InvalidParameter, SeriesError
from envtrace.detect.robust import (
    binom_sf,
    excursions,
    fit_excursion_tail,
    negbin_sf,
    poisson_sf,
    rolling_mean,
    rolling_sum,
    runs,
    score_from_expected,
)
from envtrace.detect.series import align, hourly_means


def ev(
    start: int, end: int, pattern: str = "frozen_value", score: float = 0.9, kind: str = "fraud"
) -> Evidence:
    return Evidence("d", "s1", ("a34004",), start, end, pattern, kind, score, 1.0, 0.0, 0.5, "en", "zh")


def test_stations_from_frames_places_rows_on_a_grid() -> None:
    data = pl.DataFrame(
        {
            "station_id": ["a", "a", "a", "b"],
            "parameter": ["a34004", "a34004", "a34002", "a34004"],
            "time": [
                "2015-01-01T00:00:00+08:00",
                "2015-01-01T03:00:00+08:00",
                "2015-01-01T01:00:00+08:00",
                "2015-01-01T00:00:00+08:00",
            ],
            "value": [10.0, None, 20.0, 5.0],
            "flag": ["N", "D", "N", "N"],
        }
    )
    params = pl.DataFrame(
        {
            "station_id": ["a"],
            "parameter": ["a34004"],
            "unit": ["ug/m3"],
            "limit": ["75"],
            "span": [""],
            "lod": [""],
            "o2_ref": [""],
        }
    )
    net = stations_from_frames(data, None, params)
    a = net["a"]
    assert a.step == 3600
    assert a.n == 4
    assert a.t0 == 1420041600
    np.testing.assert_array_equal(a.values["a34004"], [10.0, np.nan, np.nan, np.nan])
    assert a.flags["a34004"][3] == ord("D")
    assert a.param("a34004").limit == 75.0
    assert math.isnan(a.param("a34004").lod)
    assert a.utc_offset_s == 8 * 3600


def test_off_grid_time_is_refused() -> None:
    data = pl.DataFrame(
        {
            "station_id": ["a"] * 4,
            "parameter": ["x"] * 4,
            "time": [
                "2015-01-01T00:00:00+08:00",
                "2015-01-01T01:00:00+08:00",
                "2015-01-01T02:00:00+08:00",
                "2015-01-01T02:30:00+08:00",
            ],
            "value": [1.0, 2.0, 3.0, 4.0],
            "flag": ["N"] * 4,
        }
    )
    with pytest.raises(SeriesError, match="off the"):
        stations_from_frames(data)


def test_align_and_hourly_means() -> None:
    v = np.arange(180, dtype=np.float64)
    f = np.zeros(180, dtype=np.uint8)
    f[60:80] = ord("C")
    minute = StationSeries("m", "source", 1420041600, 60, {"x": v}, {"x": f})
    hourly = hourly_means(minute)
    assert hourly.step == 3600
    assert hourly.n == 3
    assert hourly.values["x"][0] == pytest.approx(29.5)
    assert math.isnan(hourly.values["x"][1])  # 40 of 60 minutes valid < 45
    assert hourly.flags["x"][1] == ord("C")
    other = StationSeries(
        "o", "source", 1420041600 + 3600, 3600, {"x": np.array([7.0, 8.0])}, {"x": np.zeros(2, np.uint8)}
    )
    np.testing.assert_array_equal(align(other.values["x"], other, hourly), [np.nan, 7.0, 8.0])


def test_runs_and_rolling_windows() -> None:
    s, e = runs(np.array([0, 1, 1, 0, 1], dtype=bool))
    assert s.tolist() == [1, 4]
    assert e.tolist() == [3, 5]
    x = np.array([1.0, np.nan, 3.0, 4.0])
    total, count = rolling_sum(x, 2)
    assert total.tolist() == [1.0, 1.0, 3.0, 7.0]
    assert count.tolist() == [1.0, 1.0, 1.0, 2.0]
    centred = rolling_mean(np.arange(5.0), 3, center=True)
    assert centred.tolist() == [0.5, 1.0, 2.0, 3.0, 3.5]
    with pytest.raises(InvalidParameter, match="window=0"):
        rolling_sum(x, 0)


@pytest.mark.parametrize(("k", "n", "p"), [(0, 5, 0.3), (3, 10, 0.2), (10, 10, 0.5), (7, 40, 0.05)])
def test_binomial_tail_matches_the_sum(k: int, n: int, p: float) -> None:
    want = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
    assert binom_sf(k, n, p) == pytest.approx(want, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("k", "mu"), [(1, 0.5), (5, 2.0), (30, 3.0)])
def test_poisson_and_negative_binomial_tails(k: int, mu: float) -> None:
    want = 1 - sum(math.exp(-mu) * mu**i / math.factorial(i) for i in range(k))
    assert poisson_sf(k, mu) == pytest.approx(want, rel=1e-6, abs=1e-15)
    assert negbin_sf(k, mu, 1.0) == pytest.approx(want, rel=1e-6, abs=1e-15)
    if k > 2 * mu:
        assert negbin_sf(k, mu, 3.0) > poisson_sf(k, mu)  # overdispersion fattens the upper tail


def test_excursion_tail_and_score() -> None:
    z = np.array([0, 3, 4, 0, 0, 2.5, 0], dtype=np.float64)
    ex = excursions(z, 2.0)
    assert [(e.start, e.stop) for e in ex] == [(1, 3), (5, 6)]
    assert ex[0].mass == pytest.approx(3.0)
    rng = np.random.default_rng(0)
    tail = fit_excursion_tail(rng.exponential(2.0, 2000).tolist(), years=10.0)
    assert tail.beta == pytest.approx(2.0, rel=0.15)
    assert tail.expected_per_year(tail.threshold + 2.0 * math.log(10)) == pytest.approx(
        tail.rate_per_year / 10, rel=0.2
    )
    assert score_from_expected(0.0) == 1.0
    assert 0.0 <= score_from_expected(50.0) < 1e-20
    with pytest.raises(InvalidParameter, match="years=0"):
        fit_excursion_tail([1.0], years=0)


def test_evidence_validates_its_fields() -> None:
    with pytest.raises(InvalidParameter, match=r"score=1\.5"):
        ev(0, 10, score=1.5)
    with pytest.raises(InvalidParameter, match="kind='maybe'"):
        ev(0, 10, kind="maybe")
    with pytest.raises(InvalidParameter, match="end=5"):
        ev(10, 5)


def test_merge_keeps_nested_findings_of_other_patterns_apart() -> None:
    long = ev(0, 1000, pattern="ceiling_clip", score=0.99)
    short = ev(100, 120, pattern="frozen_value", score=0.999)
    same = ev(900, 1100, pattern="ceiling_clip", score=0.95)
    alarms = merge_evidence([long, short, same])
    assert len(alarms) == 2
    clip = next(a for a in alarms if a.pattern == "ceiling_clip")
    assert (clip.start, clip.end, clip.score) == (0, 1100, 0.99)
    frozen = next(a for a in alarms if a.pattern == "frozen_value")
    assert (frozen.start, frozen.end) == (100, 120)


def test_merge_names_an_alarm_after_its_best_finding_and_never_mixes_kinds() -> None:
    a = ev(0, 100, pattern="slope_tamper", score=0.9)
    b = ev(10, 100, pattern="dilution_after_o2", score=0.99)
    q = ev(0, 100, pattern="flag_C", score=0.5, kind="qc")
    alarms = merge_evidence([a, b, q])
    assert [(x.kind, x.pattern) for x in alarms] == [("fraud", "dilution_after_o2"), ("qc", "flag_C")]
    with pytest.raises(InvalidParameter):
        merge_evidence([a], min_jaccard=0.0)
