"""The per-station models behind the level-shift, sampler-interference and threshold-shaving
tests: the robust regression, the common-factor logic, the conditional shaving test, the tails they
rest on, and their round trip through JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from tests.detect.conftest import HOUR, modified

from envtrace.detect import (
    Evidence,
    StationBaseline,
    StationDetectorState,
    StationSeries,
    fit_station,
    scan_station,
)
from envtrace.detect.bunching import fit_bunching, fit_conditional_bunching, predicted_bunching
from envtrace.detect.interference import InterferenceBaseline, _campaigns, campaign_expected_per_year
from envtrace.detect.level import pollutant_weights
from envtrace.detect.neighbours import NeighbourModel
from envtrace.detect.regression import RegressionModel, fit_regression, huber_regression, predict_log
from envtrace.detect.residuals import ambient_residuals, regression_residuals
from envtrace.detect.robust import (
    Excursion,
    ExcursionTail,
    ScaleTable,
    binom_sf,
    compound_negbin_sf,
    erlang_sf,
    fit_scale_table,
    location_scale,
    poisson_binomial_sf,
)
from envtrace.detect.streaming import SETTLE_DAYS

DAY = 24


def fraud(evidence: list[Evidence], station: str, pattern: str) -> list[Evidence]:
    return [e for e in evidence if e.kind == "fraud" and e.station == station and e.pattern == pattern]


def run_on(network: dict[str, StationSeries], sid: str, new: StationSeries) -> list[Evidence]:
    net = dict(network)
    net[sid] = new
    return scan_station(new, fit_station(new, net), net)


# ------------------------------------------------------------------------------- tails and tables


@pytest.mark.parametrize(("k", "n", "p"), [(0, 5, 0.3), (3, 10, 0.2), (9, 12, 0.5), (13, 12, 0.5)])
def test_poisson_binomial_with_equal_probabilities_is_binomial(k: int, n: int, p: float) -> None:
    assert poisson_binomial_sf(k, np.full(n, p)) == pytest.approx(binom_sf(k, n, p), rel=1e-9, abs=1e-15)


def test_compound_negative_binomial_is_compound_poisson_without_dispersion_and_heavier_with() -> None:
    mu, total = 1.5, 8.0
    direct = sum(
        math.exp(n * math.log(mu) - mu - math.lgamma(n + 1)) * erlang_sf(total, n, 1.0) for n in range(1, 60)
    )
    assert compound_negbin_sf(total, mu, 1.0) == pytest.approx(direct, rel=1e-9)
    assert compound_negbin_sf(total, mu, 3.0) > 2 * compound_negbin_sf(total, mu, 1.0)
    assert compound_negbin_sf(0.0, mu, 3.0) == 1.0


def test_scale_table_learns_a_noise_that_falls_with_the_level() -> None:
    rng = np.random.default_rng(0)
    level = rng.uniform(0, 1, 20000)
    other = rng.uniform(0, 1, 20000)
    x = rng.normal(0, 1, 20000) * (0.5 - 0.4 * level)
    table = fit_scale_table(x, level, other)
    low, high = table.value(np.array([0.05, 0.95]), np.array([0.5, 0.5]))
    # quintile cells: the lowest holds levels 0..0.2 (scale about 0.46), the highest 0.8..1 (0.14)
    assert low == pytest.approx(0.46, rel=0.1)
    assert high == pytest.approx(0.14, rel=0.15)
    # an unknown covariate gets the largest scale
    assert table.value(np.array([np.nan]), np.array([0.5]))[0] == max(table.table)
    assert ScaleTable.from_list(json.loads(json.dumps(table.to_list()))) == table


# ------------------------------------------------------------------------------------ regression


def test_huber_regression_ignores_gross_outliers() -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(2000), rng.normal(0, 1, 2000)])
    y = 0.3 + 0.8 * x[:, 1] + rng.normal(0, 0.1, 2000)
    y[:100] -= 3.0  # a manipulated stretch of the history
    coef = huber_regression(x, y)
    assert coef[0] == pytest.approx(0.3, abs=0.02)
    assert coef[1] == pytest.approx(0.8, abs=0.02)


def test_regression_is_less_noisy_than_the_neighbour_median(network: dict[str, StationSeries]) -> None:
    s = network["st01"]
    bl = fit_station(s, network)
    assert {"a34004", "a34002"} <= set(bl.particles)
    resid = ambient_residuals(s, bl, network)
    reg = regression_residuals(s, bl.regressions, network)
    for code in ("a34004", "a21004"):
        _, median_scale = location_scale(resid[code])
        _, reg_scale = location_scale(reg[code])
        assert reg_scale <= median_scale * 1.01, code


def test_regression_recovers_an_hour_of_day_departure() -> None:
    rng = np.random.default_rng(2)
    n = 24 * 200
    times = 1420041600 + 3600 * np.arange(n, dtype=np.int64)
    hod = ((times + 8 * 3600) % 86400) / 86400 * 2 * np.pi
    regional = np.cumsum(rng.normal(0, 0.05, n))
    nb = {
        "a": np.exp(3 + regional + rng.normal(0, 0.05, n)),
        "b": np.exp(3.2 + regional + rng.normal(0, 0.05, n)),
    }
    target = np.exp(3.1 + regional + 0.3 * np.sin(hod) + rng.normal(0, 0.05, n))
    nm = NeighbourModel("a34004", 1.0, ("a", "b"), (0.1, -0.1), (0.9, 0.9), 0.0, 1.0)
    rm = fit_regression(nm, target, nb, times, utc_offset_s=8 * 3600, per_day=24)
    assert rm is not None
    r = np.log(target + 1.0) - predict_log(rm, nb, times, utc_offset_s=8 * 3600)
    _, scale = location_scale(r)
    assert scale < 0.1  # the diurnal term (amplitude 0.3) is explained
    assert RegressionModel.from_dict(json.loads(json.dumps(rm.to_dict()))) == rm
    # a missing neighbour is replaced by the others, a missing covariate by its usual value
    nb_gap = {"a": nb["a"].copy(), "b": nb["b"]}
    nb_gap["a"][:100] = np.nan
    assert np.isfinite(predict_log(rm, nb_gap, times, utc_offset_s=8 * 3600)[:100]).all()


# ----------------------------------------------------------------------------------- level shift


def test_common_weights_do_not_count_twin_pollutants_twice() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(0, 0.1, 800)
    daily = {"x": a, "twin": a + rng.normal(0, 0.01, 800), "y": rng.normal(0, 0.1, 800)}
    w = pollutant_weights(daily)
    assert sum(w.values()) == pytest.approx(1.0)
    assert min(w.values()) >= 0.0
    # two readings of the same departure are one piece of information
    assert w["x"] + w["twin"] == pytest.approx(w["y"], rel=0.15)


def test_particles_alone_are_not_a_level_shift(network: dict[str, StationSeries]) -> None:
    s = network["st02"]
    a, b = 150 * DAY, 185 * DAY
    pm25 = s.values["a34004"].copy()
    pm10 = s.values["a34002"].copy()
    pm25[a:b] = np.round(pm25[a:b] * 0.6)
    pm10[a:b] = np.round(pm10[a:b] * 0.6)
    found = run_on(network, "st02", modified(s, a34004=pm25, a34002=pm10))
    assert fraud(found, "st02", "level_shift") == []


# --------------------------------------------------------------------------- sampler interference


def _episodes(s: StationSeries, codes: tuple[str, ...], factor: float) -> StationSeries:
    new = {}
    for code in codes:
        x = s.values[code].copy()
        for ep in range(4):
            a = 100 * DAY + ep * 5 * DAY
            x[a : a + 36] = np.round(x[a : a + 36] * factor, 1 if code == "a21005" else 0)
        new[code] = x
    return modified(s, **new)


def test_one_particle_monitor_dropping_is_not_a_common_factor(network: dict[str, StationSeries]) -> None:
    s = network["st01"]
    found = run_on(network, "st01", _episodes(s, ("a34004",), 0.4))
    assert fraud(found, "st01", "sampler_interference") == []


def test_everything_dropping_is_not_sampler_interference(network: dict[str, StationSeries]) -> None:
    s = network["st01"]
    codes = ("a34004", "a34002", "a21026", "a21004", "a21005", "a05024")
    found = run_on(network, "st01", _episodes(s, codes, 0.4))
    assert fraud(found, "st01", "sampler_interference") == []


def test_an_impossible_particle_pair_is_not_judged(network: dict[str, StationSeries]) -> None:
    """PM2.5 reported above PM10 (a monitor fault) during low episodes is a quality matter."""
    s = network["st01"]
    cut = _episodes(s, ("a34004", "a34002"), 0.4)
    pm10 = cut.values["a34002"].copy()
    pm25 = cut.values["a34004"]
    for ep in range(4):
        a = 100 * DAY + ep * 5 * DAY
        pm10[a : a + 36] = np.maximum(pm25[a : a + 36] - 5, 0)
    found = run_on(network, "st01", modified(cut, a34002=pm10))
    assert fraud(found, "st01", "sampler_interference") == []


def _campaign_baseline() -> InterferenceBaseline:
    return InterferenceBaseline(0.0, 1.0, ExcursionTail(1.0, 1.0, 20.0))


def test_a_campaign_after_a_lone_episode_is_not_split() -> None:
    """A natural episode ten days before a campaign must not anchor the campaign's window: the
    campaign (five deep episodes) is one finding, and the lone episode stays outside it."""
    window = 21 * DAY
    lone = Excursion(0, 12, 4.0, 2.0)
    camp = [Excursion(d * DAY, d * DAY + 12, 12.0, 4.0) for d in (10, 13, 16, 19, 22)]
    taken = _campaigns([lone, *camp], 1.0, _campaign_baseline(), window, 21 / 365.25)
    groups = [g for g, _ in taken]
    assert [1, 2, 3, 4, 5] in groups
    assert not any(0 in g and len(g) > 1 for g in groups)


def test_a_campaign_of_more_episodes_pays_for_more_anchors() -> None:
    """The same total excess spread over five episodes instead of two is met by five anchored
    windows instead of two: its expected null count is two and a half times the pair's."""
    bl = _campaign_baseline()
    years = 21 / 365.25
    two = campaign_expected_per_year([10.0, 10.0], bl, years)
    five = campaign_expected_per_year([4.0] * 5, bl, years)
    assert two == pytest.approx(2.0 * compound_negbin_sf(20.0, 20.0 * years, 1.0) / years)
    assert five == pytest.approx(2.5 * two)


# ----------------------------------------------------------------------------- threshold shaving


def _daily_station(seed: int, n_days: int = 900) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    days = np.arange(16436, 16436 + n_days, dtype=np.int64)
    predicted = np.exp(
        np.log(55) + np.cumsum(rng.normal(0, 0.25, n_days)) * 0.15 + rng.normal(0, 0.5, n_days)
    )
    daily = predicted * np.exp(rng.normal(0, 0.12, n_days))
    return days, predicted, daily


def test_days_predicted_above_the_limit_reported_just_below_are_shaving() -> None:
    days, predicted, daily = _daily_station(4)
    shaved = daily.copy()
    rng = np.random.default_rng(5)
    stretch = slice(600, 700)
    hit = (daily[stretch] >= 75) & (daily[stretch] < 100)
    shaved[stretch][hit] = rng.uniform(64, 74.5, int(hit.sum()))
    assert hit.sum() >= 8
    bl = fit_conditional_bunching(days, shaved, predicted, fit_bunching(shaved, 75.0))
    assert bl.residual_quantiles
    found = predicted_bunching(
        days, shaved, predicted, bl, station="s", parameters=["a34004"], utc_offset_s=0
    )
    assert found
    assert found[0].pattern == "threshold_shaving"
    assert days[600] * 86400 - 86400 * 30 <= found[0].start < days[700] * 86400
    # a natural cluster of days just under the limit, which the prediction foresaw, is not shaving
    natural_pred = predicted.copy()
    natural_pred[stretch][hit] = rng.uniform(58.0, 72.0, int(hit.sum()))
    natural = daily.copy()
    natural[stretch][hit] = natural_pred[stretch][hit] * np.exp(rng.normal(0, 0.12, int(hit.sum())))
    bl2 = fit_conditional_bunching(days, natural, natural_pred, fit_bunching(natural, 75.0))
    assert (
        predicted_bunching(
            days, natural, natural_pred, bl2, station="s", parameters=["a34004"], utc_offset_s=0
        )
        == []
    )


def test_a_slow_drift_against_the_prediction_is_not_shaving() -> None:
    days, predicted, daily = _daily_station(6)
    drift = daily * np.exp(-0.3 * np.clip((np.arange(len(days)) - 500) / 60, 0, 1))
    bl = fit_conditional_bunching(days, drift, predicted, fit_bunching(drift, 75.0))
    assert (
        predicted_bunching(days, drift, predicted, bl, station="s", parameters=["a34004"], utc_offset_s=0)
        == []
    )


# ------------------------------------------------------------------------- baselines and the live


def test_ambient_baseline_round_trips_and_old_interference_is_refitted(
    network: dict[str, StationSeries],
) -> None:
    bl = fit_station(network["st00"], network)
    assert bl.interference is not None
    assert bl.level is not None
    assert bl.regressions
    d = json.loads(json.dumps(bl.to_dict()))
    again = StationBaseline.from_dict(d)
    assert again.to_dict() == bl.to_dict()
    # an interference baseline stored before the noise model existed is not misread
    d["interference"] = {"median": 0.0, "scale": 1.0, "tail": [0.0, 1.0, 1.0], "season": [0.0] * 12}
    assert StationBaseline.from_dict(d).interference is None


def test_live_level_shift_equals_batch_after_settling(network: dict[str, StationSeries]) -> None:
    s = network["st02"]
    a, b = 230 * DAY, 262 * DAY
    new = {}
    for code, v in s.values.items():
        x = v.copy()
        x[a:b] = np.round(x[a:b] * 0.6, 1 if code == "a21005" else 0)
        new[code] = x
    full = modified(s, **new)
    net = dict(network)
    net["st02"] = full
    h = 180 * DAY
    state = StationDetectorState.fit({k: v.slice(0, h) for k, v in net.items()}, "st02")
    final: list[Evidence] = []
    for t in range(h, full.n, 14 * DAY):
        final += state.update([v.slice(t, t + 14 * DAY) for v in net.values()]).final
    batch = scan_station(full, state.baseline, net)
    settled = full.t0 + full.n * HOUR - SETTLE_DAYS * 86400
    history_end = full.t0 + h * HOUR

    def keys(ev: list[Evidence]) -> set[tuple[str, int, int]]:
        return {(e.pattern, e.start, e.end) for e in ev if e.kind == "fraud" and e.pattern == "level_shift"}

    expected = keys([e for e in batch if e.start >= history_end and e.end <= settled])
    assert expected
    assert keys(final) == expected
