"""Properties every detector run must have, whatever the data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.detect.conftest import flue_unit

from envtrace.detect import StationSeries, detect_network, merge_evidence
from envtrace.detect.quality import out_of_range, spikes

pytestmark = pytest.mark.property

UNIT = flue_unit(days=120, seed=11)


def renamed(series: StationSeries, sid: str, shift_s: int) -> StationSeries:
    return StationSeries(
        sid,
        series.kind,
        series.t0 + shift_s,
        series.step,
        series.values,
        series.flags,
        series.info,
        series.utc_offset_s,
    )


def signature(series: StationSeries) -> list[tuple[str, str, tuple[str, ...], int, int, str, float]]:
    out = detect_network({series.station_id: series})
    return sorted(
        (e.kind, e.detector, e.parameters, e.start - series.t0, e.end - series.t0, e.pattern, e.score)
        for e in out
    )


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sid=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12),
    weeks=st.integers(min_value=-520, max_value=520),
)
def test_evidence_is_invariant_to_station_id_and_to_a_whole_week_time_shift(sid: str, weeks: int) -> None:
    base = signature(UNIT)
    moved = signature(renamed(UNIT, sid, weeks * 7 * 86400))
    assert moved == base


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6)), min_size=3, max_size=200),
)
def test_quality_tests_take_any_values(values: list[float | None]) -> None:
    v = np.array([np.nan if x is None else x for x in values], dtype=np.float64)
    t = 1420041600 + 3600 * np.arange(len(v), dtype=np.int64)
    for e in spikes(t, v, station="s", parameter="x") + out_of_range(
        t, v, station="s", parameter="x", low=0, high=100
    ):
        assert e.kind == "qc"
        assert 0.0 <= e.score <= 1.0
        assert t[0] <= e.start < e.end <= t[-1] + 3600


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10_000), scale=st.floats(min_value=0.2, max_value=5.0))
def test_scores_are_probabilities_and_alarms_cover_their_evidence(seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    values = {c: v * scale for c, v in UNIT.values.items()}
    x = values["a21002"]
    a = int(rng.integers(0, len(x) - 200))
    x[a : a + int(rng.integers(3, 100))] = x[a]
    s = StationSeries(UNIT.station_id, "source", UNIT.t0, UNIT.step, values, UNIT.flags, UNIT.info)
    evidence = detect_network({s.station_id: s})
    assert all(0.0 <= e.score <= 1.0 for e in evidence)
    for alarm in merge_evidence(evidence):
        assert 0.0 <= alarm.score <= 1.0
        assert all(alarm.start <= e.start and e.end <= alarm.end for e in alarm.evidence)


def test_constant_missing_data_gives_no_fraud_evidence() -> None:
    n = 24 * 60
    nan = np.full(n, np.nan)
    s = StationSeries(
        "empty",
        "source",
        1420041600,
        3600,
        {c: nan.copy() for c in UNIT.values},
        {c: np.zeros(n, np.uint8) for c in UNIT.values},
        UNIT.info,
    )
    assert [e for e in detect_network({"empty": s}) if e.kind == "fraud"] == []
