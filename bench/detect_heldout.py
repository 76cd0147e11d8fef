"""``envtrace detect`` on the six Beijing stations *not* in the dev case: clean, and injected.

The dev case holds six of the twelve stations of the UCI Beijing multi-site data
(``../shared/data/real/beijing12``); the other six (Huairou, Nongzhanguan, Shunyi, Tiantan,
Wanliu, Wanshouxigong) are real series nobody here tuned a detector on. This bench builds two
cases from them in the benchmark format and scores ``envtrace detect`` on both with
``../shared/bench/score.py``:

- ``clean``: the series as published (every fraud alarm is a false one);
- ``injected``: 42 events written from the pattern descriptions of ``../shared/bench/README.md``
  only (not from the dev labels): seven per station, one of each ambient pattern, in separate
  five-month slots, with random strengths and durations (seed 2024): frozen values of 15-50 h,
  sampler interference (3-6 episodes of 15-45 h, factor 0.30-0.65), level shifts (3-6 weeks,
  factor 0.55-0.80), copies of another station (as it reports, its own events included) for
  10-28 days, ceiling clips at the 60-80th
  percentile for 4-7 weeks, threshold shaving over 60-120 days (days with a mean in [75, 90..105)
  scaled to 64-74.5) and deletion of the top 7-15 % of PM2.5 hours for 25-45 days.

Usage: ``python bench/detect_heldout.py [--keep DIR] [--seed N]`` (another seed draws other
events). The last line is ``key=value`` pairs: ``far_clean=.. recall_injected=.. far_injected=..
acc_injected=..``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SCORER = SHARED / "bench" / "score.py"
REAL = SHARED / "data" / "real" / "beijing12"
STATIONS = ("Huairou", "Nongzhanguan", "Shunyi", "Tiantan", "Wanliu", "Wanshouxigong")
COLUMNS = {
    "PM2.5": "a34004",
    "PM10": "a34002",
    "SO2": "a21026",
    "NO2": "a21004",
    "CO": "a21005",
    "O3": "a05024",
}
LATLON = {
    "Huairou": (40.3, 116.6),
    "Nongzhanguan": (39.93, 116.47),
    "Shunyi": (40.13, 116.65),
    "Tiantan": (39.88, 116.41),
    "Wanliu": (39.99, 116.29),
    "Wanshouxigong": (39.88, 116.35),
}
PATTERNS = (
    "frozen_value",
    "sampler_interference",
    "level_shift",
    "copied_series",
    "ceiling_clip",
    "threshold_shaving",
    "selective_deletion",
)
SEED = 2024


def load_real() -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    """Hourly times (local ISO text) and values per station and code (CO in mg/m3)."""
    times: list[str] = []
    vals: dict[str, dict[str, np.ndarray]] = {}
    for name in STATIONS:
        path = next(REAL.glob(f"PRSA_Data_{name}_*.csv.gz"))
        df = pl.read_csv(path, null_values="NA", infer_schema_length=None)
        t = df.select(
            pl.datetime("year", "month", "day", "hour").dt.strftime("%Y-%m-%dT%H:%M:%S").alias("t")
        )["t"]
        times = [x + "+08:00" for x in t.to_list()]
        vals[name.lower()] = {}
        for col, code in COLUMNS.items():
            v = df[col].cast(pl.Float64).to_numpy().astype(np.float64)
            vals[name.lower()][code] = v / 1000.0 if code == "a21005" else v
    return times, vals


def inject(
    times: list[str], vals: dict[str, dict[str, np.ndarray]], seed: int = SEED
) -> tuple[dict[str, dict[str, np.ndarray]], list[dict[str, str]]]:
    """Copies of the series with 42 events, and their labels."""
    rng = np.random.default_rng(seed)
    out = {s: {c: v.copy() for c, v in d.items()} for s, d in vals.items()}
    sts = sorted(out)
    n = len(times)
    labels: list[dict[str, str]] = []

    def lab(s: str, params: list[str], a: int, b: int, pat: str) -> None:
        labels.append(
            {
                "event_id": f"H{len(labels) + 1:03d}",
                "station_id": s,
                "parameters": ";".join(params),
                "start": times[a],
                "end": times[min(b, n - 1)],
                "pattern": pat,
            }
        )

    slot = n // 8
    for k, s in enumerate(sts):
        v = out[s]
        for j in range(7):
            pat = PATTERNS[(j + k) % 7]
            base = slot * (j + 1) - slot // 2 + int(rng.integers(-200, 200))
            if pat == "frozen_value":
                code = ("a34004", "a34002", "a21004")[int(rng.integers(0, 3))]
                length = int(rng.integers(15, 50))
                a = base
                lev = np.nanmedian(v[code][a - 48 : a])
                v[code][a : a + length] = round(lev) if np.isfinite(lev) else 50
                lab(s, [code], a, a + length, pat)
            elif pat == "sampler_interference":
                f = rng.uniform(0.3, 0.65)
                a = base
                eps = int(rng.integers(3, 7))
                b = a
                for e in range(eps):
                    st = a + e * int(rng.integers(72, 120))
                    length = int(rng.integers(15, 45))
                    for c in ("a34004", "a34002"):
                        v[c][st : st + length] = np.round(v[c][st : st + length] * f)
                    b = st + length
                lab(s, ["a34004", "a34002"], a, b, pat)
            elif pat == "level_shift":
                f = rng.uniform(0.55, 0.8)
                a = base
                length = int(rng.integers(21, 42)) * 24
                for c in v:
                    v[c][a : a + length] = np.round(v[c][a : a + length] * f, 1 if c == "a21005" else 0)
                lab(s, list(v), a, a + length, pat)
            elif pat == "copied_series":
                src = sts[(k + 1 + int(rng.integers(0, 4))) % 6]
                a = base
                length = int(rng.integers(10, 28)) * 24
                for c in ("a34004", "a34002"):
                    v[c][a : a + length] = out[src][c][a : a + length]
                lab(s, ["a34004", "a34002"], a, a + length, pat)
            elif pat == "ceiling_clip":
                a = base
                length = int(rng.integers(28, 50)) * 24
                x = v["a34004"][a : a + length]
                cap = float(np.nanquantile(x, rng.uniform(0.6, 0.8)))
                over = np.isfinite(x) & (x > cap)
                x[over] = np.round(cap * rng.uniform(0.85, 1.0, int(over.sum())))
                lab(s, ["a34004"], a, a + length, pat)
            elif pat == "threshold_shaving":
                a = base - (base % 24)
                days = int(rng.integers(60, 120))
                for dd in range(days):
                    sl = slice(a + dd * 24, a + dd * 24 + 24)
                    m = np.nanmean(v["a34004"][sl])
                    if 75 <= m < rng.uniform(90, 105):
                        v["a34004"][sl] = np.round(v["a34004"][sl] * rng.uniform(64, 74.5) / m)
                lab(s, ["a34004"], a, a + days * 24, pat)
            else:  # selective_deletion
                a = base
                length = int(rng.integers(25, 45)) * 24
                x = v["a34004"][a : a + length]
                q = np.nanquantile(x, rng.uniform(0.85, 0.93))
                top = np.flatnonzero(np.isfinite(x) & (x >= q)) + a
                for c in ("a34004", "a34002"):
                    v[c][top] = np.nan
                lab(s, ["a34004", "a34002"], a, a + length, pat)
    return out, labels


def write_case(folder: Path, times: list[str], vals: dict[str, dict[str, np.ndarray]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(times)
    frames = []
    for s in sorted(vals):
        for c in sorted(vals[s]):
            x = vals[s][c]
            frames.append(
                pl.DataFrame(
                    {
                        "station_id": [s] * n,
                        "parameter": [c] * n,
                        "time": times,
                        "value": [float(y) if np.isfinite(y) else None for y in x],
                        "flag": ["N"] * n,
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
    (folder / "data.csv.gz").write_bytes(gzip.compress(pl.concat(frames).write_csv().encode("utf-8")))
    pl.DataFrame(
        {
            "station_id": [s.lower() for s in STATIONS],
            "kind": ["ambient"] * len(STATIONS),
            "name": list(STATIONS),
            "city": ["Beijing"] * len(STATIONS),
            "lat": [LATLON[s][0] for s in STATIONS],
            "lon": [LATLON[s][1] for s in STATIONS],
        }
    ).write_csv(folder / "stations.csv")
    rows = []
    for s in STATIONS:
        for code, lim, lod in (
            ("a34004", "75", ""),
            ("a34002", "150", ""),
            ("a21026", "", "2"),
            ("a21004", "", ""),
            ("a21005", "", ""),
            ("a05024", "", ""),
        ):
            unit = "mg/m3" if code == "a21005" else "ug/m3"
            rows.append(
                {
                    "station_id": s.lower(),
                    "parameter": code,
                    "unit": unit,
                    "limit": lim,
                    "span": "",
                    "lod": lod,
                    "o2_ref": "",
                }
            )
    pl.DataFrame(rows).write_csv(folder / "parameters.csv")


def detect_and_score(case: Path, labels: list[dict[str, str]], work: Path) -> dict[str, object]:
    exe = REPO / ".venv" / "bin" / "envtrace"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "envtrace"]
    alarms = work / f"{case.name}.alarms.csv"
    subprocess.run([*cmd, "detect", str(case), "--out", str(alarms)], check=True, capture_output=True)
    # the scorer reads labels.csv from the case folder: written only now, after detection
    schema = ["event_id", "station_id", "parameters", "start", "end", "pattern"]
    pl.DataFrame(labels, schema=dict.fromkeys(schema, pl.String)).write_csv(case / "labels.csv")
    out = work / f"{case.name}.score.json"
    subprocess.run(
        [sys.executable, str(SCORER), str(case), str(alarms), "--json", str(out)],
        check=True,
        capture_output=True,
    )
    result: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="keep the cases and alarms in this folder")
    ap.add_argument("--seed", type=int, default=SEED, help="seed of the injected events")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="envtrace-heldout-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        times, vals = load_real()
        injected, labels = inject(times, vals, args.seed)
        results = {}
        for name, data, lab in (("clean", vals, []), ("injected", injected, labels)):
            folder = work / name
            write_case(folder, times, data)
            t0 = time.perf_counter()
            results[name] = detect_and_score(folder, lab, work)
            r = results[name]
            print(
                f"{name}: {r['false_alarms']} false alarms in {r['station_months']:.0f} station-months "
                f"(far {r['far']:.3f}), detected {r['detected']}/{r['events']}, "
                f"{time.perf_counter() - t0:.0f} s; false by pattern {r['false_alarms_by_pattern']}"
            )
            if lab:
                per = results[name]["per_pattern"]
                assert isinstance(per, dict)
                print(
                    "  per pattern: "
                    + ", ".join(f"{p} {v['detected']}/{v['events']}" for p, v in per.items())
                )
    inj = results["injected"]
    print(
        f"far_clean={results['clean']['far']:.4f} recall_injected={inj['recall']:.3f} "
        f"far_injected={inj['far']:.4f} acc_injected={inj['pattern_accuracy']:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
