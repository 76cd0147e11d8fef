"""Benchmark: AQI + hourly validity for 10 million station-hours, vectorised vs row by row.

What is timed
* vectorised: ``envtrace.standards`` on numpy arrays, in chunks of 1 million station-hours: the hourly
  validity of each of the six pollutants from minutes of sampling (GB 3095: >= 45), invalid hours
  masked, then ``aqi_table`` (HJ 633 realtime report, the edition in force at each hour: the hours
  straddle 2026-03-01, so both editions run), categories and the primary-pollutant masks;
* row by row: a straightforward pure-Python implementation of the same rules (GB/T 8170 rounding with
  ``decimal``, bisect on the breakpoints, integer round-up), timed on a random subsample and scaled
  linearly to the full count. Its results are checked equal to the vectorised ones on that subsample.

Data are synthetic but realistic, in time order (a year of hours from 2025-09-01, many stations per
hour): log-normal PM2.5 (median 35 µg/m³), PM10 = PM2.5 x U(1.2, 2.5), O3
median 60, NO2 25, SO2 8, CO 0.7 mg/m³, reported as the release does (integers, CO to 0.1); per
pollutant 0.5 % of hours missing and 1 % with a random 0-59 minutes of sampling.

Usage: ``python bench/standards.py [--quick]`` (--quick: 1 million station-hours, < 1 min).
The last line is ``station_hours_per_s=.. ratio_vs_rowwise=..``.
"""

from __future__ import annotations

import argparse
import bisect
import time
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from envtrace.standards import (
    Family,
    ambient_hourly_validity,
    aqi_table,
    breakpoints,
    edition_codes_at,
    editions,
    report_items,
)
from envtrace.standards.editions import cst_to_unix

POLLUTANTS = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")
CHUNK = 1_000_000


def synthesize(n: int, seed: int = 7) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    pm25 = np.round(rng.lognormal(np.log(35), 0.8, n))
    conc = {
        "PM2.5": pm25,
        "PM10": np.round(pm25 * rng.uniform(1.2, 2.5, n)),
        "O3": np.round(rng.lognormal(np.log(60), 0.6, n)),
        "NO2": np.round(rng.lognormal(np.log(25), 0.6, n)),
        "SO2": np.round(rng.lognormal(np.log(8), 0.9, n)),
        "CO": np.round(rng.lognormal(np.log(0.7), 0.5, n), 1),
    }
    minutes = {}
    for p in POLLUTANTS:
        conc[p][rng.random(n) < 0.005] = np.nan
        m = np.full(n, 60, dtype=np.int16)
        short = rng.random(n) < 0.01
        m[short] = rng.integers(0, 60, int(short.sum()))
        minutes[p] = m
    # station-hours in time order (hour-major), as the platform evaluates a period: a year of hours
    # from 2025-09-01, across the HJ 633-2026 switch on 2026-03-01
    hours = np.arange(n) * 8760 // n
    times = cst_to_unix(2025, 9, 1) + 3600 * hours
    return conc, minutes, times.astype(np.int64)


def vectorised(
    conc: dict[str, np.ndarray], minutes: dict[str, np.ndarray], times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(times)
    aqi = np.empty(n, dtype=np.int64)
    primary = np.empty(n, dtype=np.uint16)
    level = np.empty(n, dtype=np.int8)
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        items = {}
        for p in POLLUTANTS:
            ok = ambient_hourly_validity(minutes[p][lo:hi]).valid
            items[f"{p}_1h"] = np.where(ok, conc[p][lo:hi], np.nan)
        codes = edition_codes_at(Family.AQI, times[lo:hi])
        # the realtime report of each edition; 2012's moving-mean items are absent here (one hour each)
        table = aqi_table(items, edition=codes, report="release", missing="standard")
        aqi[lo:hi], primary[lo:hi], level[lo:hi] = table.aqi, table.primary, table.level
    return aqi, primary, level


def _rowwise_tables() -> dict[int, dict[str, tuple[list[int], list[int], int]]]:
    out: dict[int, dict[str, tuple[list[int], list[int], int]]] = {}
    for code, edition in enumerate(editions(Family.AQI)):
        per = {}
        for spec in report_items(edition, "release"):
            bp = breakpoints(edition, spec.pollutant, spec.averaging)
            per[spec.pollutant] = (bp.concentration.tolist(), bp.iaqi.tolist(), bp.decimals)
        out[code] = per
    return out


def rowwise(
    conc: dict[str, np.ndarray], minutes: dict[str, np.ndarray], times: np.ndarray, rows: np.ndarray
) -> tuple[list[int], list[int]]:
    """One station-hour at a time in plain Python (the baseline)."""
    tables = _rowwise_tables()
    switch = cst_to_unix(2026, 3, 1)
    cols = {p: conc[p][rows].tolist() for p in POLLUTANTS}
    mins = {p: minutes[p][rows].tolist() for p in POLLUTANTS}
    ts = times[rows].tolist()
    order = ("PM10", "PM2.5", "O3", "NO2", "SO2", "CO")
    out_aqi, out_level = [], []
    for i in range(len(ts)):
        code = 1 if ts[i] >= switch else 0
        table = tables[code]
        best, missing, iaqis = -1, False, {}
        for p in POLLUTANTS:
            c = cols[p][i]
            if mins[p][i] < 45 or c != c or c < 0:
                missing = True
                continue
            bps, idx, dec = table[p]
            q = Decimal(repr(c)).quantize(Decimal(1).scaleb(-dec), rounding=ROUND_HALF_EVEN)
            x = int(q.scaleb(dec))
            if x > bps[-1]:
                v = 500 if idx[-1] == 500 else (200 if code == 1 else -1)
            else:
                j = min(max(bisect.bisect_left(bps, x), 1), len(bps) - 1)
                v = idx[j - 1] + -(-(idx[j] - idx[j - 1]) * (x - bps[j - 1]) // (bps[j] - bps[j - 1]))
            if v < 0:
                missing = True
                continue
            iaqis[p] = v
            best = max(best, v)
        aqi = best if (not missing or best > 100) else -1
        _ = [p for p in order if aqi > 50 and iaqis.get(p) == aqi]
        level = (
            0
            if aqi < 0
            else (
                1
                if aqi <= 50
                else 2
                if aqi <= 100
                else 3
                if aqi <= 150
                else 4
                if aqi <= 200
                else 5
                if aqi <= 300
                else 6
            )
        )
        out_aqi.append(aqi)
        out_level.append(level)
    return out_aqi, out_level


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 million station-hours instead of 10 million")
    args = parser.parse_args()
    n = 1_000_000 if args.quick else 10_000_000
    sample = 20_000 if args.quick else 50_000
    t0 = time.perf_counter()
    conc, minutes, times = synthesize(n)
    print(f"synthesized {n:,} station-hours in {time.perf_counter() - t0:.1f} s")

    head = slice(0, 100_000)
    vectorised({p: v[head] for p, v in conc.items()}, {p: v[head] for p, v in minutes.items()}, times[head])
    t0 = time.perf_counter()
    aqi, _, level = vectorised(conc, minutes, times)
    vec_s = time.perf_counter() - t0
    vec_rate = n / vec_s
    na = float(np.mean(aqi < 0))
    print(f"vectorised: {vec_s:.2f} s for {n:,} station-hours ({vec_rate:,.0f}/s); AQI NA share {na:.3f}")

    rows = np.random.default_rng(11).choice(n, sample, replace=False)
    t0 = time.perf_counter()
    r_aqi, r_level = rowwise(conc, minutes, times, rows)
    row_s = time.perf_counter() - t0
    row_rate = sample / row_s
    same = np.array_equal(np.asarray(r_aqi), aqi[rows]) and np.array_equal(np.asarray(r_level), level[rows])
    if not same:
        raise SystemExit("row-wise and vectorised results differ on the subsample")
    print(
        f"row-wise: {row_s:.2f} s for a subsample of {sample:,} ({row_rate:,.0f}/s), scaled to {n:,}: "
        f"{n / row_rate:.0f} s; results identical on the subsample"
    )
    print(f"station_hours_per_s={vec_rate:.0f} ratio_vs_rowwise={vec_rate / row_rate:.1f}")


if __name__ == "__main__":
    main()
