"""The suite on real data nobody here wrote: four Beijing stations (not those of the dev case), 2015."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from tests.detect.conftest import modified

from envtrace.detect import ParameterInfo, StationSeries, detect_network

STATIONS = ("Huairou", "Nongzhanguan", "Tiantan", "Wanliu")
COLUMNS = {
    "PM2.5": "a34004",
    "PM10": "a34002",
    "SO2": "a21026",
    "NO2": "a21004",
    "CO": "a21005",
    "O3": "a05024",
}
T0 = 1420041600  # 2015-01-01T00:00+08:00


def load(shared: Path, name: str) -> StationSeries:
    path = next((shared / "data" / "real" / "beijing12").glob(f"PRSA_Data_{name}_*.csv.gz"))
    df = pl.read_csv(path, null_values="NA", infer_schema_length=None).filter(pl.col("year") == 2015)
    values = {}
    for col, code in COLUMNS.items():
        v = df[col].cast(pl.Float64).to_numpy()
        values[code] = v / 1000.0 if code == "a21005" else v  # CO ug/m3 -> mg/m3
    n = df.height
    flags = {c: np.zeros(n, dtype=np.uint8) for c in values}
    info = {
        "a34004": ParameterInfo("a34004", "ug/m3", limit=75.0),
        "a34002": ParameterInfo("a34002", "ug/m3", limit=150.0),
        "a21026": ParameterInfo("a21026", "ug/m3", lod=2.0),
    }
    return StationSeries(name.lower(), "ambient", T0, 3600, values, flags, info)


@pytest.fixture(scope="module")
def beijing(shared_dir: Path) -> dict[str, StationSeries]:
    return {name.lower(): load(shared_dir, name) for name in STATIONS}


def test_real_stations_raise_few_fraud_alarms(beijing: dict[str, StationSeries]) -> None:
    evidence = detect_network(beijing)
    fraud = [e for e in evidence if e.kind == "fraud"]
    # four station-years: the calibrated budgets allow a fraction of an alarm per station-year;
    # real data hold a few genuine oddities (stuck analysers), so allow one per station
    assert len(fraud) <= len(beijing), [(e.station, e.pattern, e.start) for e in fraud]
    assert {e.pattern for e in evidence if e.kind == "qc"} >= {"gap", "pm25_above_pm10"}


def test_injections_into_real_data_are_found(beijing: dict[str, StationSeries]) -> None:
    net = dict(beijing)
    s = net["tiantan"]
    pm25 = s.values["a34004"].copy()
    pm25[3000:3030] = 88.0
    net["tiantan"] = modified(s, a34004=pm25)
    src = net["wanliu"]
    dst = net["huairou"]
    a, b = 5000, 5000 + 21 * 24
    pm25_h = dst.values["a34004"].copy()
    pm10_h = dst.values["a34002"].copy()
    pm25_h[a:b] = src.values["a34004"][a:b]
    pm10_h[a:b] = src.values["a34002"][a:b]
    net["huairou"] = modified(dst, a34004=pm25_h, a34002=pm10_h)
    fraud = [e for e in detect_network(net) if e.kind == "fraud"]
    assert any(e.station == "tiantan" and e.pattern == "frozen_value" for e in fraud)
    assert any(e.station == "huairou" and e.pattern == "copied_series" for e in fraud)
    assert not any(e.station == "wanliu" and e.pattern == "copied_series" for e in fraud)
