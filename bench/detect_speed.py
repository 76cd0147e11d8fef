"""Speed of the detector suite on one station-year of minute data, and of its QC tests vs saqc.

A synthetic flue-gas station is generated with eight parameters at one-minute resolution for a
year (525,960 points each): unit load with daily cycles, week-end dips and two shut-downs, O2 and
CO2 following the coal relation, SO2, NOx and particulates log-normal around a load curve with
hour-scale persistence, the SO2 and NOx values corrected to 6 % O2, weekly 15-minute calibrations
(flag C) and scattered communication gaps. Then, on one core:

- ``suite_s``: the whole suite, ``fit_station`` (learning every baseline) plus ``scan_station``
  (every detector, still-value and quality tests at minute resolution, the others on hourly means);
- the three QC tests both packages implement, on the same eight minute series: flat line
  (envtrace: ``fit_frozen`` + ``frozen_values``; saqc: ``flagConstants`` over six minutes), spike
  (``spikes``; saqc ``flagOffset``) and gross range (``out_of_range``; saqc ``flagRange``).

The last line is ``suite_s=.. qc_s=.. saqc_s=.. ratio_vs_saqc=..`` (``saqc_s / qc_s``).
``--quick`` uses a quarter of a year.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("POLARS_MAX_THREADS", "1")

import numpy as np

from envtrace.detect import ParameterInfo, StationSeries, fit_station, scan_station
from envtrace.detect.frozen import fit_frozen, frozen_values
from envtrace.detect.quality import out_of_range, spikes
from envtrace.detect.robust import resolution

MINUTE = 60
T0 = 1420041600  # 2015-01-01T00:00:00+08:00


def _ar1(rng: np.random.Generator, n: int, rho: float, sd: float) -> np.ndarray:
    """An AR(1) series with lag-one correlation ``rho`` and marginal sd ``sd`` (vectorised by
    blocks: within each block the recursion is a discounted cumulative sum)."""
    e = rng.normal(0.0, sd * np.sqrt(1 - rho**2), n)
    out = np.empty(n)
    block = 4096
    prev = 0.0
    powers = rho ** np.arange(1, block + 1)
    for a in range(0, n, block):
        seg = e[a : a + block]
        m = len(seg)
        # x_t = rho^t x_0 + sum_k rho^(t-k) e_k, computed with a scaled cumulative sum
        scale = rho ** -np.arange(m) if rho > 0.5 else None
        if scale is not None and np.isfinite(scale).all() and scale[-1] < 1e200:
            x = powers[:m] * prev + np.cumsum(seg * scale) / scale
        else:
            x = np.empty(m)
            p = prev
            for i in range(m):
                p = rho * p + seg[i]
                x[i] = p
        out[a : a + m] = x
        prev = float(x[-1])
    return out


def synthetic_station(days: int, seed: int = 7) -> StationSeries:
    """Eight minute-resolution parameters of a 300 MW coal unit (see the module documentation)."""
    rng = np.random.default_rng(seed)
    n = days * 1440
    t = T0 + MINUTE * np.arange(n, dtype=np.int64)
    hour = ((t + 8 * 3600) % 86400) / 3600.0
    dow = ((t + 8 * 3600) // 86400 + 3) % 7
    load = 220 + 60 * np.sin((hour - 9) / 24 * 2 * np.pi) - 30 * (dow >= 5) + _ar1(rng, n, 0.999, 15)
    load = np.clip(load, 120, 300)
    stopped = np.zeros(n, dtype=bool)
    for start_day in (days // 3, 2 * days // 3):
        stopped[start_day * 1440 : start_day * 1440 + 3 * 1440] = True
    load[stopped] = 0.0
    co2 = np.where(stopped, 0.05, 13.0 + 2.0 * (load - 220) / 80 + _ar1(rng, n, 0.99, 0.3))
    o2 = np.where(stopped, 20.9, 20.9 - 1.12 * co2 + rng.normal(0, 0.04, n))
    so2 = np.exp(np.log(18.0) + 0.7 * np.log(np.maximum(load, 1) / 220) + _ar1(rng, n, 0.998, 0.25))
    nox = np.exp(np.log(35.0) + 0.3 * np.log(np.maximum(load, 1) / 220) + _ar1(rng, n, 0.998, 0.2))
    dust = np.exp(np.log(3.0) + 0.6 * np.log(np.maximum(load, 1) / 220) + _ar1(rng, n, 0.998, 0.2))
    for x in (so2, nox, dust):
        x[stopped] = np.nan
    factor = np.where(o2 < 19, (21 - 6.0) / (21 - o2), np.nan)
    values = {
        "load": np.round(load, 1),
        "a19001": np.round(o2, 2),
        "a05001": np.round(co2, 2),
        "a21026": np.round(so2, 2),
        "a21026-Zs": np.round(so2 * factor, 2),
        "a21002": np.round(nox, 2),
        "a21002-Zs": np.round(nox * factor, 2),
        "a34013": np.round(dust, 2),
    }
    flags = {k: np.zeros(n, dtype=np.uint8) for k in values}
    calib = np.zeros(n, dtype=bool)
    for week in range(days // 7):
        a = week * 7 * 1440 + 10 * 60
        calib[a : a + 15] = True
    gaps = rng.random(n) < 0.002
    for k in values:
        flags[k][stopped] = ord("F")
        if k.startswith(("a21", "a34")):
            flags[k][calib] = ord("C")
        values[k][gaps] = np.nan
    info = {
        "a21026": ParameterInfo("a21026", "mg/m3", span=100.0, lod=1.0),
        "a21026-Zs": ParameterInfo("a21026-Zs", "mg/m3", limit=35.0, o2_ref=6.0),
        "a21002": ParameterInfo("a21002", "mg/m3", span=200.0, lod=1.0),
        "a21002-Zs": ParameterInfo("a21002-Zs", "mg/m3", limit=50.0, o2_ref=6.0),
        "a34013": ParameterInfo("a34013", "mg/m3", span=50.0, lod=0.5),
        "a19001": ParameterInfo("a19001", "%", span=25.0, lod=0.1),
        "a05001": ParameterInfo("a05001", "%", span=20.0, lod=0.1),
        "load": ParameterInfo("load", "MW", span=300.0),
    }
    return StationSeries("unit-01", "source", T0, MINUTE, values, flags, info)


def time_suite(series: StationSeries) -> tuple[float, int]:
    t0 = time.perf_counter()
    baseline = fit_station(series, {})
    evidence = scan_station(series, baseline, {})
    return time.perf_counter() - t0, len(evidence)


def time_envtrace_qc(series: StationSeries) -> float:
    times = series.times
    years = series.n * series.step / (365.25 * 86400)
    t0 = time.perf_counter()
    for code in series.values:
        v = series.valid(code)
        res = resolution(v)
        info = series.param(code)
        bl = fit_frozen(v, resolution=res, span=info.span, years=years)
        frozen_values(times, v, bl, station=series.station_id, parameters=[code])
        spikes(times, v, station=series.station_id, parameter=code)
        out_of_range(times, v, station=series.station_id, parameter=code, low=0.0, high=info.span)
    return time.perf_counter() - t0


def time_saqc_qc(series: StationSeries) -> float:
    import pandas as pd
    import saqc

    index = pd.DatetimeIndex(pd.to_datetime(series.times, unit="s"))
    frame = pd.DataFrame({c: series.valid(c) for c in series.values}, index=index)
    res = {c: resolution(series.valid(c)) for c in series.values}
    t0 = time.perf_counter()
    qc = saqc.SaQC(frame)
    for code in series.values:
        info = series.param(code)
        d = np.diff(frame[code].to_numpy())
        sd = 1.4826 * float(np.nanmedian(np.abs(d - np.nanmedian(d))))
        qc = qc.flagConstants(field=code, window="6min", thresh=max(0.5 * res[code], 1e-9))
        qc = qc.flagOffset(field=code, window="3min", thresh=max(12 * sd, 1e-9))
        qc = qc.flagRange(field=code, min=0.0, max=info.span)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a quarter of a year instead of a year")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    days = 91 if args.quick else 365
    series = synthetic_station(days)
    print(f"synthetic flue-gas station: {len(series.values)} parameters x {series.n} minutes ({days} days)")
    suite_s, n_ev = time_suite(series)
    print(f"envtrace suite (fit + scan, every detector): {suite_s:.2f} s, {n_ev} findings")
    qc_s = time_envtrace_qc(series)
    print(f"envtrace flat line + spike + range: {qc_s:.3f} s")
    try:
        saqc_s = time_saqc_qc(series)
    except ImportError as exc:
        print(f"saqc not installed ({exc}); install the bench extra")
        print(f"suite_s={suite_s:.2f} qc_s={qc_s:.3f} saqc_s=nan ratio_vs_saqc=nan")
        return 0
    print(f"saqc flagConstants + flagOffset + flagRange: {saqc_s:.3f} s")
    print(f"suite_s={suite_s:.2f} qc_s={qc_s:.3f} saqc_s={saqc_s:.3f} ratio_vs_saqc={saqc_s / qc_s:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
