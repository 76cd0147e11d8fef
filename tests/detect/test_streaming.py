"""The live state gives the batch run's evidence, raises it as soon as the data show it, and
survives serialisation."""

from __future__ import annotations

import numpy as np
import pytest
from tests.detect.conftest import HOUR, modified, to_frame

from envtrace.detect import Evidence, StationDetectorState, StationSeries, scan_station
from envtrace.detect.errors import StateError
from envtrace.detect.streaming import SETTLE_DAYS

DAY = 24
HISTORY_DAYS = 150


def tampered(unit: StationSeries) -> StationSeries:
    """A slope step in particulates and a frozen NOx run, both after the history."""
    dust = unit.values["a34013"].copy()
    dust[200 * DAY : 230 * DAY] = np.round(dust[200 * DAY : 230 * DAY] * 0.5, 2)
    nox = unit.values["a21002"].copy()
    nox[250 * DAY + 2 : 250 * DAY + 30] = nox[250 * DAY + 2]
    return modified(unit, a34013=dust, a21002=nox)


def key(e: Evidence) -> tuple[str, tuple[str, ...], int, int, str]:
    return (e.detector, e.parameters, e.start, e.end, e.pattern)


def test_incremental_equals_batch_after_settling(unit: StationSeries) -> None:
    full = tampered(unit)
    h = HISTORY_DAYS * DAY
    state = StationDetectorState.fit({full.station_id: full.slice(0, h)}, full.station_id)
    final: list[Evidence] = []
    for a in range(h, full.n, 7 * DAY):
        final += state.update([full.slice(a, a + 7 * DAY)]).final
    batch = scan_station(full, state.baseline, {full.station_id: full})
    history_end = full.t0 + h * HOUR
    settled = full.t0 + full.n * HOUR - SETTLE_DAYS * 86400
    expected = {key(e) for e in batch if e.kind == "fraud" and e.start >= history_end and e.end <= settled}
    got = {key(e) for e in final if e.kind == "fraud"}
    assert expected, "the injected manipulations must be in the batch run"
    assert {k[4] for k in expected} >= {"slope_tamper", "frozen_value"}
    assert got == expected


def test_alarm_is_raised_within_the_hour_that_reveals_it(unit: StationSeries) -> None:
    full = tampered(unit)
    start = 250 * DAY + 2
    h = start - 10 * DAY
    state = StationDetectorState.fit({full.station_id: full.slice(0, h)}, full.station_id)
    state.update([full.slice(h, start)])
    raised_at = None
    for i in range(start, start + 40):
        up = state.update([full.slice(i, i + 1)])
        if any(e.pattern == "frozen_value" and e.kind == "fraud" for e in up.new):
            raised_at = i
            break
    assert raised_at is not None
    # the batch run over the same data (up to that hour) finds it too, and not an hour earlier
    prefix = full.slice(0, raised_at)
    earlier = scan_station(prefix, state.baseline, {full.station_id: prefix})
    assert not any(
        e.pattern == "frozen_value" and e.kind == "fraud" and e.start >= full.t0 + start * HOUR - 3 * HOUR
        for e in earlier
    )


def test_state_round_trips_through_json_and_bytes(unit: StationSeries) -> None:
    full = tampered(unit)
    h = HISTORY_DAYS * DAY
    state = StationDetectorState.fit({full.station_id: full.slice(0, h)}, full.station_id)
    state.update([full.slice(h, h + 60 * DAY)])
    again = StationDetectorState.from_bytes(state.to_bytes())
    assert again.to_json() == state.to_json()
    chunk = full.slice(h + 60 * DAY, h + 90 * DAY)
    a = state.update([chunk])
    b = again.update([chunk])
    assert [key(e) for e in a.new] == [key(e) for e in b.new]
    assert [key(e) for e in a.final] == [key(e) for e in b.final]


def test_update_accepts_long_rows(unit: StationSeries) -> None:
    h = HISTORY_DAYS * DAY
    state = StationDetectorState.fit({unit.station_id: unit.slice(0, h)}, unit.station_id)
    rows = to_frame({unit.station_id: unit.slice(h, h + 3 * DAY)})
    up = state.update(rows)
    assert all(e.kind == "qc" for e in up.new)


def test_corrupt_state_is_refused() -> None:
    with pytest.raises(StateError):
        StationDetectorState.from_bytes(b"not a state")
    with pytest.raises(StateError):
        StationDetectorState.from_json('{"version": 99}')


def test_rows_older_than_the_window_are_refused(unit: StationSeries) -> None:
    h = HISTORY_DAYS * DAY
    state = StationDetectorState.fit({unit.station_id: unit.slice(0, h)}, unit.station_id, lookback_days=60)
    with pytest.raises(StateError):
        state.update([unit.slice(0, DAY)])
