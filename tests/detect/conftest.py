"""Synthetic stations for the detector tests: an ambient network and a flue-gas unit.

The generators mimic the structure the detectors rely on (and nothing more): ambient stations
share a regional log signal (weather) and add their own persistent noise; a coal unit's
pollutants follow a load curve with hour-scale persistence, O2 and CO2 follow the coal relation,
and the unit stops, starts up, calibrates weekly and has faults. Injections modify copies.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from envtrace.detect import ParameterInfo, StationSeries

T0 = 1420041600  # 2015-01-01T00:00:00+08:00
HOUR = 3600
AMBIENT_CODES = ("a34004", "a34002", "a21026", "a21004", "a21005", "a05024")


def ar1(rng: np.random.Generator, n: int, rho: float, sd: float) -> np.ndarray:
    e = rng.normal(0.0, sd * np.sqrt(1.0 - rho * rho), n)
    x = np.empty(n)
    prev = 0.0
    for i in range(n):
        prev = rho * prev + e[i]
        x[i] = prev
    return x


def ambient_network(n_stations: int = 4, days: int = 365, seed: int = 0) -> dict[str, StationSeries]:
    """``n_stations`` correlated ambient stations, hourly, all six pollutants."""
    rng = np.random.default_rng(seed)
    n = days * 24
    t = T0 + HOUR * np.arange(n, dtype=np.int64)
    hour = ((t + 8 * HOUR) % 86400) / 3600.0
    doy = ((t + 8 * HOUR) // 86400) % 365
    season = 0.35 * np.cos((doy - 15) / 365 * 2 * np.pi)
    regional = ar1(rng, n, 0.97, 0.7) + season + 0.15 * np.sin((hour - 20) / 24 * 2 * np.pi)
    out: dict[str, StationSeries] = {}
    for k in range(n_stations):
        sid = f"st{k:02d}"
        own = ar1(rng, n, 0.9, 0.22)
        pm25 = np.exp(np.log(55.0) + regional + own + 0.1 * k)
        pm10 = pm25 * np.exp(0.45 + ar1(rng, n, 0.9, 0.12))
        co = np.exp(np.log(0.9) + 0.8 * regional + 0.6 * own + ar1(rng, n, 0.9, 0.12))
        no2 = np.exp(np.log(45.0) + 0.5 * regional + 0.5 * own + ar1(rng, n, 0.9, 0.2))
        so2 = np.exp(np.log(10.0) + 0.6 * regional + 0.5 * own + ar1(rng, n, 0.9, 0.25))
        o3 = np.exp(
            np.log(45.0) - 0.3 * regional + 0.6 * np.sin((hour - 9) / 24 * 2 * np.pi) + ar1(rng, n, 0.9, 0.25)
        )
        values = {
            "a34004": np.round(pm25),
            "a34002": np.round(pm10),
            "a21026": np.maximum(np.round(so2), 2.0),
            "a21004": np.round(no2),
            "a21005": np.round(co, 1),
            "a05024": np.round(o3),
        }
        gaps = rng.random(n) < 0.01
        for v in values.values():
            v[gaps] = np.nan
        flags = {c: np.zeros(n, dtype=np.uint8) for c in values}
        info = {
            "a34004": ParameterInfo("a34004", "ug/m3", limit=75.0),
            "a34002": ParameterInfo("a34002", "ug/m3", limit=150.0),
            "a21026": ParameterInfo("a21026", "ug/m3", lod=2.0),
            "a21004": ParameterInfo("a21004", "ug/m3"),
            "a21005": ParameterInfo("a21005", "mg/m3"),
            "a05024": ParameterInfo("a05024", "ug/m3"),
        }
        out[sid] = StationSeries(
            sid, "ambient", T0, HOUR, values, flags, info, lat=40.0 + 0.05 * k, lon=116.3
        )
    return out


def flue_unit(days: int = 365, seed: int = 1, sid: str = "unit01") -> StationSeries:
    """A 300 MW coal unit, hourly: load, O2, CO2, SO2, NOx, particulates and corrected values,
    two shut-downs with start-ups, weekly calibrations, a few faults, SO2 near its detection limit
    on some days."""
    rng = np.random.default_rng(seed)
    n = days * 24
    t = T0 + HOUR * np.arange(n, dtype=np.int64)
    hour = ((t + 8 * HOUR) % 86400) / 3600.0
    load = np.clip(220 + 60 * np.sin((hour - 9) / 24 * 2 * np.pi) + ar1(rng, n, 0.95, 20), 120, 300)
    stopped = np.zeros(n, dtype=bool)
    startup = np.zeros(n, dtype=bool)
    for d0 in (days // 3, 2 * days // 3):
        stopped[d0 * 24 : d0 * 24 + 60] = True
        startup[d0 * 24 + 60 : d0 * 24 + 66] = True
    load[stopped] = 0.0
    load[startup] = 60.0
    co2 = 13.0 + 2.0 * (load - 220) / 80 + ar1(rng, n, 0.9, 0.25)
    co2[startup] = 5.0
    co2[stopped] = 0.05
    o2 = 20.9 - 1.12 * co2 + rng.normal(0, 0.04, n)
    rel = np.maximum(load, 1) / 220
    so2 = np.exp(np.log(18.0) + 0.7 * np.log(rel) + ar1(rng, n, 0.93, 0.25))
    nox = np.exp(np.log(35.0) + 0.3 * np.log(rel) + ar1(rng, n, 0.93, 0.2))
    dust = np.exp(np.log(4.0) + 0.6 * np.log(rel) + ar1(rng, n, 0.93, 0.2))
    for x in (so2, nox, dust):
        x[startup] *= 3.0
        x[stopped] = 0.0
    so2 = np.maximum(so2, 1.0)
    values = {
        "load": np.round(load, 1),
        "a19001": np.round(o2, 2),
        "a05001": np.round(co2, 2),
        "a21026": np.round(so2, 2),
        "a21002": np.round(nox, 2),
        "a34013": np.round(dust, 2),
    }
    flags = {c: np.zeros(n, dtype=np.uint8) for c in values}
    for w in range(days // 7):
        c = w * 7 * 24 + 10
        for code, span_gas in (("a21026", 80.0), ("a21002", 160.0), ("a34013", 40.0)):
            values[code][c] = span_gas
            flags[code][c] = ord("C")
    for code in values:
        flags[code][stopped] = ord("F")
    faults = rng.random(n) < 0.004
    for code in ("a21026", "a21002", "a34013"):
        values[code][faults] = np.nan
        flags[code][faults] = ord("D")
    corrected = {}
    for code in ("a21026", "a21002", "a34013"):
        z = np.round(values[code] * (21 - 6.0) / (21 - values["a19001"]), 2)
        z[stopped | (flags[code] == ord("C"))] = np.nan
        corrected[code + "-Zs"] = z
    values.update(corrected)
    for code in corrected:
        flags[code] = np.where(stopped, ord("F"), 0).astype(np.uint8)
    info = {
        "load": ParameterInfo("load", "MW", span=300.0),
        "a19001": ParameterInfo("a19001", "%", span=25.0, lod=0.1),
        "a05001": ParameterInfo("a05001", "%", span=20.0, lod=0.1),
        "a21026": ParameterInfo("a21026", "mg/m3", span=100.0, lod=1.0),
        "a21002": ParameterInfo("a21002", "mg/m3", span=200.0, lod=1.0),
        "a34013": ParameterInfo("a34013", "mg/m3", span=50.0, lod=0.5),
        "a21026-Zs": ParameterInfo("a21026-Zs", "mg/m3", limit=35.0, o2_ref=6.0),
        "a21002-Zs": ParameterInfo("a21002-Zs", "mg/m3", limit=50.0, o2_ref=6.0),
        "a34013-Zs": ParameterInfo("a34013-Zs", "mg/m3", limit=10.0, o2_ref=6.0),
    }
    return StationSeries(sid, "source", T0, HOUR, values, flags, info)


def modified(series: StationSeries, **values: np.ndarray) -> StationSeries:
    """A copy of ``series`` with some parameters' values replaced (keyword = code, ``-`` as ``_``)."""
    new = {c: v.copy() for c, v in series.values.items()}
    for key, v in values.items():
        new[key.replace("_", "-")] = v
    return StationSeries(
        series.station_id,
        series.kind,
        series.t0,
        series.step,
        new,
        series.flags,
        series.info,
        series.utc_offset_s,
    )


def to_frame(network: dict[str, StationSeries]) -> pl.DataFrame:
    """The long case table (``station_id, parameter, time, value, flag``) of a network."""
    parts = []
    for sid, s in network.items():
        local = (s.times + s.utc_offset_s).astype("datetime64[s]").astype(str)
        times = np.char.add(local.astype("U19"), "+08:00")
        for code, v in s.values.items():
            f = s.flags[code]
            letters = np.where(f == 0, "N", np.array([chr(x) if x else "N" for x in f]))
            parts.append(
                pl.DataFrame(
                    {
                        "station_id": [sid] * len(v),
                        "parameter": [code] * len(v),
                        "time": times.tolist(),
                        "value": [None if not np.isfinite(x) else float(x) for x in v],
                        "flag": letters.tolist(),
                    },
                    schema={
                        "station_id": pl.String,
                        "parameter": pl.String,
                        "time": pl.String,
                        "value": pl.Float64,
                        "flag": pl.String,
                    },
                )
            )
    return pl.concat(parts)


@pytest.fixture(scope="session")
def network() -> dict[str, StationSeries]:
    """Four clean ambient stations, one year."""
    return ambient_network()


@pytest.fixture(scope="session")
def unit() -> StationSeries:
    """One clean coal unit, one year."""
    return flue_unit()


@pytest.fixture(scope="session")
def make_network() -> Callable[..., dict[str, StationSeries]]:
    return ambient_network


@pytest.fixture(scope="session")
def make_unit() -> Callable[..., StationSeries]:
    return flue_unit
