"""Rules added for the roll-up: ambient hourly validity from minute flags, wastewater period validity,
the AQI items of an hourly series."""

from __future__ import annotations

import numpy as np
import pytest

from envtrace.standards import (
    Family,
    InvalidInput,
    Reason,
    ambient_hourly_validity_from_flags,
    aqi_hourly_items,
    aqi_series,
    aqi_table,
    edition_codes_at,
)
from envtrace.standards.wastewater import period_minimum, period_validity

E = "HJ 212-2017"


def test_ambient_flags_45_minutes() -> None:
    flags = [["N"] * 44 + [""] * 16, ["N"] * 45 + [""] * 15, ["N"] * 44 + ["C"] * 16, ["N"] * 30 + ["F"] * 30]
    v = ambient_hourly_validity_from_flags(flags, edition=E, pollutant="SO2")
    assert v.valid.tolist() == [False, True, False, False]
    assert v.reason.tolist() == [Reason.MISSING, 0, Reason.CALIBRATION, Reason.INSTRUMENT_STOPPED]


@pytest.mark.parametrize("pollutant", ["PM10", "PM2.5", "O3", None])
def test_ambient_flags_same_minimum_for_pm(pollutant: str | None) -> None:
    v = ambient_hourly_validity_from_flags([["N"] * 45 + [""] * 15], edition=E, pollutant=pollutant)
    assert v.valid.tolist() == [True]


def test_ambient_over_range_is_configurable() -> None:
    flags = [["N"] * 40 + ["T"] * 20]
    assert ambient_hourly_validity_from_flags(flags, edition=E).valid.tolist() == [True]
    strict = ambient_hourly_validity_from_flags(flags, edition=E, over_range_valid=False)
    assert strict.reason.tolist() == [Reason.OVER_RANGE]


def test_wastewater_period_validity() -> None:
    assert (period_minimum("hourly"), period_minimum("daily")) == (1, 1)
    hourly = period_validity([0, 1, 6], period="hourly")
    assert hourly.valid.tolist() == [False, True, True]
    assert hourly.reason.tolist()[0] == Reason.INSUFFICIENT_MINUTES
    daily = period_validity([0, 3], period="daily", minimum=4)
    assert daily.reason.tolist() == [Reason.INSUFFICIENT_HOURS, Reason.INSUFFICIENT_HOURS]
    with pytest.raises(InvalidInput):
        period_validity([1], period="weekly")  # type: ignore[arg-type]


def test_hourly_items_fill_gaps_and_feed_aqi_series() -> None:
    t0 = 1_777_000_000 // 3600 * 3600
    times = t0 + 3600 * np.array([0, 1, 3])  # hour 2 missing
    grid, items = aqi_hourly_items(times, {"PM2.5": [30.0, 40.0, 50.0], "O3": [100.0, 110.0, 120.0]})
    assert grid.tolist() == [t0, t0 + 3600, t0 + 7200, t0 + 10800]
    assert np.isnan(items["PM2.5_1h"][2])
    assert np.isnan(items["PM2.5_24h"]).all()  # fewer than 20 hours
    assert items["O3_8h"].tolist()[:2] == [pytest.approx(np.nan, nan_ok=True)] * 2  # fewer than 6
    series = aqi_series(times, {"PM2.5": [30.0, 40.0, 50.0], "O3": [100.0, 110.0, 120.0]}, report="release")
    table = aqi_table(items, edition=edition_codes_at(Family.AQI, grid), report="release")
    assert series.aqi.tolist() == table.aqi[[0, 1, 3]].tolist()
    with pytest.raises(InvalidInput):
        aqi_hourly_items([t0 + 1], {"SO2": [1.0]})
