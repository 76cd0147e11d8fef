"""AQI by HJ 633-2012/2026: reports, special cases (a)/(b), primary pollutant, missing pollutants."""

from __future__ import annotations

import numpy as np
import pytest

from envtrace.standards import ITEMS, InvalidInput, UnknownItem, aqi_series, aqi_table, report_items
from envtrace.standards.editions import cst_to_unix

E12, E26 = "HJ 633-2012", "HJ 633-2026"


def one(report: str, edition: str, missing: str = "standard", **items: float) -> tuple[int, str]:
    t = aqi_table(
        {k.replace("PM25", "PM2.5"): [v] for k, v in items.items()},
        edition=edition,
        report=report,
        missing=missing,
    )
    return int(t.aqi[0]), t.primary_labels("code")[0]


SIX_1H = {"SO2_1h": 5.0, "NO2_1h": 20.0, "CO_1h": 0.5, "O3_1h": 60.0, "PM10_1h": 40.0, "PM25_1h": 20.0}
REALTIME_2012 = {
    "SO2_1h": 5.0,
    "NO2_1h": 20.0,
    "CO_1h": 0.5,
    "O3_1h": 60.0,
    "O3_8h": 50.0,
    "PM10_24h": 40.0,
    "PM25_24h": 20.0,
}
DAILY = {
    "SO2_24h": 5.0,
    "NO2_24h": 20.0,
    "CO_24h": 0.5,
    "O3_1h_max": 60.0,
    "O3_8h_max": 50.0,
    "PM10_24h": 40.0,
    "PM25_24h": 20.0,
}


def test_reports_have_the_items_of_the_standard() -> None:
    assert {s.item for s in report_items(E12, "realtime")} == {
        "SO2_1h",
        "NO2_1h",
        "CO_1h",
        "O3_1h",
        "O3_8h",
        "PM10_24h",
        "PM2.5_24h",
    }
    assert {s.item for s in report_items(E12, "daily")} == {
        "SO2_24h",
        "NO2_24h",
        "CO_24h",
        "O3_1h_max",
        "O3_8h_max",
        "PM10_24h",
        "PM2.5_24h",
    }
    assert {s.item for s in report_items(E26, "realtime")} == {
        "SO2_1h",
        "NO2_1h",
        "CO_1h",
        "O3_1h",
        "PM10_1h",
        "PM2.5_1h",
    }
    assert {s.item for s in report_items(E26, "daily")} == {
        "SO2_24h",
        "NO2_24h",
        "CO_24h",
        "O3_8h_max",
        "PM10_24h",
        "PM2.5_24h",
    }
    assert {s.item: s.averaging for s in report_items(E26, "realtime")}["PM2.5_1h"] == "24h"


def test_same_concentrations_two_editions() -> None:
    items = dict(SIX_1H, PM25_1h=70.0)
    assert one("release", E12, **items) == (94, "PM2.5")  # 50 + 35/40*50 = 93.75 -> 94
    assert one("realtime", E26, **items) == (110, "PM2.5")  # 100 + 10/55*50 = 109.1 -> 110


def test_2012_realtime_uses_moving_means() -> None:
    assert one("realtime", E12, **dict(REALTIME_2012, PM25_24h=80.0)) == (107, "PM2.5")
    assert one("realtime", E12, **dict(REALTIME_2012, O3_8h=170.0)) == (110, "O3_8h")


def test_special_a_so2_above_800() -> None:
    # 2012: the 24-h based IAQI replaces the 1-h one; 2026: IAQI 200
    assert one("realtime", E12, **dict(REALTIME_2012, SO2_1h=900.0, SO2_24h=900.0)) == (213, "SO2")
    assert one("realtime", E12, **dict(REALTIME_2012, SO2_1h=900.0, SO2_24h=100.0)) == (75, "SO2")
    assert one("realtime", E26, **dict(SIX_1H, SO2_1h=900.0)) == (200, "SO2")
    assert one("realtime", E26, **dict(SIX_1H, SO2_1h=800.0)) == (200, "SO2")
    assert one("realtime", E26, **dict(SIX_1H, SO2_1h=801.0)) == (200, "SO2")


def test_special_a_without_24h_value_is_missing() -> None:
    t = aqi_table(
        {k.replace("PM25", "PM2.5"): [v] for k, v in dict(REALTIME_2012, SO2_1h=900.0).items()},
        edition=E12,
        report="realtime",
        missing="available",
    )
    assert not t.complete[0]
    assert t.iaqi["SO2_1h"][0] == -1


def test_special_b_o3_8h_above_800() -> None:
    # 2012 daily: the 8-h item drops out, the 1-h maximum is reported; 2026 daily: IAQI 300
    assert one("daily", E12, **dict(DAILY, O3_8h_max=850.0, O3_1h_max=900.0)) == (350, "O3_1h")
    t = aqi_table(
        {
            "O3_8h_max": [850.0],
            "SO2_24h": [5.0],
            "NO2_24h": [5.0],
            "CO_24h": [0.2],
            "PM10_24h": [10.0],
            "PM2.5_24h": [5.0],
        },
        edition=E26,
        report="daily",
    )
    assert int(t.aqi[0]) == 300
    assert t.primary_labels("code")[0] == "O3_8h"
    assert one("realtime", E12, **dict(REALTIME_2012, O3_8h=900.0, O3_1h=1000.0)) == (400, "O3_1h")


def test_primary_only_above_50_and_ties_all_listed() -> None:
    assert one("release", E12, **dict(SIX_1H, PM25_1h=35.0, PM10_1h=50.0)) == (50, "")
    aqi, primary = one("release", E12, **dict(SIX_1H, PM25_1h=75.0, PM10_1h=150.0))
    assert (aqi, primary) == (100, "PM10,PM2.5")
    t = aqi_table(
        {
            "PM10_1h": [150.0],
            "PM2.5_1h": [75.0],
            "O3_1h": [200.0],
            "SO2_1h": [5.0],
            "NO2_1h": [5.0],
            "CO_1h": [0.1],
        },
        edition=E12,
        report="release",
    )
    assert t.primary_labels("cnemc") == ["颗粒物(PM10),细颗粒物(PM2.5),臭氧1小时"]
    t26 = aqi_table(
        {
            "PM10_1h": [120.0],
            "PM2.5_1h": [60.0],
            "O3_1h": [200.0],
            "SO2_1h": [5.0],
            "NO2_1h": [5.0],
            "CO_1h": [0.1],
        },
        edition=E26,
        report="release",
    )
    assert t26.primary_labels("cnemc") == ["颗粒物(PM10),细颗粒物(PM2.5),臭氧1小时(O3_1h)"]


def test_missing_pollutant_rule_2026_5_3() -> None:
    low = dict(SIX_1H)
    del low["NO2_1h"]
    assert one("realtime", E26, **low) == (-1, "")  # AQI 40 from the others: NA
    assert one("realtime", E26, "available", **low)[0] == 40
    high = dict(low, PM25_1h=120.0)
    assert one("realtime", E26, **high) == (158, "PM2.5")  # 150 + 5/35*50: published from the others


def test_not_measured_is_not_missing() -> None:
    items = {k.replace("PM25", "PM2.5"): [v] for k, v in SIX_1H.items() if k != "SO2_1h"}
    t = aqi_table(items, edition=E26, report="realtime", not_measured={"SO2_1h": [True]})
    assert bool(t.complete[0])
    assert int(t.aqi[0]) == 40


def test_nothing_at_all_is_na() -> None:
    t = aqi_table({"PM2.5_1h": [np.nan]}, edition=E26, report="realtime", missing="available")
    assert int(t.aqi[0]) == -1
    assert int(t.level[0]) == 0
    assert t.category_names() == [""]


def test_category_names_and_colours() -> None:
    t = aqi_table(
        {
            "PM2.5_1h": [20.0, 120.0],
            "PM10_1h": [10.0, 10.0],
            "O3_1h": [10.0, 10.0],
            "SO2_1h": [1.0, 1.0],
            "NO2_1h": [1.0, 1.0],
            "CO_1h": [0.1, 0.1],
        },
        edition=E26,
    )
    assert t.aqi.tolist() == [29, 158]
    assert t.category_names("zh") == ["优", "中度污染"]
    assert t.category_names("en") == ["excellent", "moderately polluted"]
    assert t.colours().tolist() == [[0, 228, 0], [255, 0, 0]]


def test_per_row_editions() -> None:
    items = {
        "PM2.5_1h": [70.0, 70.0],
        "PM10_1h": [10.0, 10.0],
        "O3_1h": [10.0, 10.0],
        "SO2_1h": [1.0, 1.0],
        "NO2_1h": [1.0, 1.0],
        "CO_1h": [0.1, 0.1],
    }
    t = aqi_table(items, edition=np.array([0, 1]), report="release")
    assert t.aqi.tolist() == [94, 110]


def test_bad_inputs() -> None:
    with pytest.raises(UnknownItem):
        aqi_table({"PM2.5": [1.0]}, edition=E26)
    with pytest.raises(InvalidInput):
        aqi_table({"PM2.5_1h": [1.0], "PM10_1h": [1.0, 2.0]}, edition=E26)
    with pytest.raises(UnknownItem):
        aqi_table({"PM2.5_1h": [1.0]}, edition=E26, report="hourly")


def test_items_bitmask_fits() -> None:
    assert len(ITEMS) <= 16


# -------------------------------------------------------------------------------------- series


def test_series_switches_edition_at_the_hour() -> None:
    start = cst_to_unix(2026, 2, 28, 20)
    times = start + 3600 * np.arange(8)
    hourly = {
        "PM2.5": np.full(8, 70.0),
        "PM10": np.full(8, 10.0),
        "O3": np.full(8, 10.0),
        "SO2": np.full(8, 1.0),
        "NO2": np.full(8, 1.0),
        "CO": np.full(8, 0.1),
    }
    t = aqi_series(times, hourly, report="release")
    # hours starting 20:00..23:00 on 28 Feb are 2012, from 00:00 on 1 March 2026
    assert t.aqi.tolist() == [94, 94, 94, 94, 110, 110, 110, 110]
    assert t.edition_code.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_series_2012_realtime_needs_20_hours_for_pm() -> None:
    times = cst_to_unix(2020, 1, 1) + 3600 * np.arange(30)
    hourly = {
        "PM2.5": np.full(30, 80.0),
        "PM10": np.full(30, 10.0),
        "O3": np.full(30, 10.0),
        "SO2": np.full(30, 1.0),
        "NO2": np.full(30, 1.0),
        "CO": np.full(30, 0.1),
    }
    t = aqi_series(times, hourly, report="realtime", missing="available")
    # PM 24-h moving means exist from the 20th hour on (index 19)
    assert t.iaqi["PM2.5_24h"][18] == -1
    assert t.iaqi["PM2.5_24h"][19] == 107
    assert bool(t.complete[19])
    assert not bool(t.complete[18])


def test_series_with_gaps_and_bad_times() -> None:
    times = cst_to_unix(2026, 5, 1) + 3600 * np.array([0, 1, 5])
    hourly = {p: np.array([10.0, 10.0, 10.0]) for p in ("PM2.5", "PM10", "O3", "SO2", "NO2", "CO")}
    assert aqi_series(times, hourly).aqi.shape == (3,)
    with pytest.raises(InvalidInput):
        aqi_series(times + 1, hourly)
    with pytest.raises(InvalidInput):
        aqi_series(times[::-1], hourly)
