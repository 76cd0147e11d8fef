"""Quality of ``envtrace detect`` on the benchmark's dev cases, against three QC baselines.

For each dev case (``../shared/bench/dev/{ambient,plants,control}``) the case is copied *without*
``labels.csv`` to a temporary folder, exactly as acceptance does, ``envtrace detect CASE --out
ALARMS.csv`` runs on it, and ``../shared/bench/score.py`` scores the alarms against the labels.
In the same run three generic QC baselines produce alarms in the same format, so the gain is
measured rather than claimed:

- ``saqc``: SaQC 2.x ``flagConstants`` (flat line, 6 steps within half the reporting
  resolution), ``flagRange`` (outside 0 .. analyser span, or 0 .. 10 x the 99.9th percentile when
  no span is given) and ``flagZScore`` (modified z-score > 5 over a 7-day window: spikes);
- ``ioos``: ioos_qc QARTOD ``flat_line_test`` (fail after 6 steps within half the resolution),
  ``spike_test`` (fail beyond 8 robust standard deviations of the first difference) and
  ``gross_range_test`` (fail outside the same range as saqc);
- ``pyod``: PyOD ``IForest`` (contamination 1 %) on each station's standardised parameters.

A baseline's flagged points become ``fraud`` alarms: flagged points of one station and parameter
closer than six steps form a run, and every run with at least three flagged points is an alarm.

Usage: ``python bench/detect_quality.py [--quick] [--keep DIR]``. ``--quick`` scores the plants
case only, the baselines on a third of its stations (under a minute; their recall is then a lower
bound). The last line is ``key=value`` pairs: ``recall=.. far_ambient=..
far_plants=.. far_control=.. acc=.. recall_saqc=.. recall_ioos=.. recall_pyod=..``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SCORER = SHARED / "bench" / "score.py"
DEV = SHARED / "bench" / "dev"
CASE_FILES = ("stations.csv", "parameters.csv", "data.csv.gz")
ALARM_COLUMNS = ["station_id", "parameters", "start", "end", "pattern", "kind", "score"]
MIN_FLAGGED = 3
JOIN_STEPS = 6


def envtrace_command() -> list[str]:
    exe = REPO / ".venv" / "bin" / "envtrace"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "envtrace"]


def copy_case(case: str, dest: Path) -> Path:
    """The case's files without labels.csv, as acceptance sees them."""
    out = dest / case
    out.mkdir(parents=True, exist_ok=True)
    for name in CASE_FILES:
        shutil.copy2(DEV / case / name, out / name)
    return out


def score(case: str, alarms: Path) -> dict[str, object]:
    out_json = alarms.with_suffix(".score.json")
    proc = subprocess.run(
        [sys.executable, str(SCORER), str(DEV / case), str(alarms), "--json", str(out_json)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"scorer failed on {alarms}: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    result: dict[str, object] = json.loads(out_json.read_text(encoding="utf-8"))
    return result


# ------------------------------------------------------------------------------------ baselines


def _iso(ts: np.ndarray, offset_s: int) -> list[str]:
    sign = "+" if offset_s >= 0 else "-"
    off = f"{sign}{abs(offset_s) // 3600:02d}:{abs(offset_s) % 3600 // 60:02d}"
    local = (ts + offset_s).astype("datetime64[s]")
    return [str(t) + off for t in local]


def flagged_to_alarms(
    station: str,
    parameter: str,
    times: np.ndarray,
    flagged: np.ndarray,
    step: int,
    offset_s: int,
    pattern: str,
) -> list[dict[str, object]]:
    """Runs of flagged points (joined across up to six steps) with at least three points."""
    idx = np.flatnonzero(flagged)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > JOIN_STEPS)
    starts = np.concatenate(([0], breaks + 1))
    stops = np.concatenate((breaks + 1, [idx.size]))
    rows: list[dict[str, object]] = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        if b - a < MIN_FLAGGED:
            continue
        t0, t1 = times[idx[a]], times[idx[b - 1]] + step
        s, e = _iso(np.array([t0, t1]), offset_s)
        rows.append(
            {
                "station_id": station,
                "parameters": parameter,
                "start": s,
                "end": e,
                "pattern": pattern,
                "kind": "fraud",
                "score": 1.0,
            }
        )
    return rows


def _range_max(values: np.ndarray, span: float) -> float:
    finite = values[np.isfinite(values)]
    if math.isfinite(span) and span > 0:
        return span
    return float(np.quantile(finite, 0.999)) * 10 if finite.size else math.inf


def _resolution(values: np.ndarray) -> float:
    from envtrace.detect.robust import resolution

    return resolution(values)


def saqc_alarms(network: dict[str, object]) -> list[dict[str, object]]:
    import pandas as pd
    import saqc

    rows: list[dict[str, object]] = []
    for sid, st in network.items():
        times = st.times  # type: ignore[attr-defined]
        step = st.step  # type: ignore[attr-defined]
        codes = [c for c in st.values if st.has(c)]  # type: ignore[attr-defined]
        if not codes:
            continue
        index = pd.DatetimeIndex(pd.to_datetime(times, unit="s"))
        df = pd.DataFrame({c: st.valid(c) for c in codes}, index=index)  # type: ignore[attr-defined]
        qc = saqc.SaQC(df)
        win = f"{6 * step}s"
        for c in codes:
            v = df[c].to_numpy()
            qc = qc.flagConstants(field=c, window=win, thresh=max(0.5 * _resolution(v), 1e-9), flag=255.0)
            qc = qc.flagRange(field=c, min=0.0, max=_range_max(v, st.param(c).span), flag=255.0)  # type: ignore[attr-defined]
            qc = qc.flagZScore(field=c, method="modified", window=f"{7 * 86400}s", thresh=5.0, flag=255.0)
        for c in codes:
            flagged = (qc.flags[c].to_numpy() >= 255.0) & np.isfinite(df[c].to_numpy())
            rows += flagged_to_alarms(sid, c, times, flagged, step, st.utc_offset_s, "saqc_flag")  # type: ignore[attr-defined]
    return rows


def ioos_alarms(network: dict[str, object]) -> list[dict[str, object]]:
    from ioos_qc import qartod

    rows: list[dict[str, object]] = []
    for sid, st in network.items():
        times = st.times  # type: ignore[attr-defined]
        step = st.step  # type: ignore[attr-defined]
        for c in st.values:  # type: ignore[attr-defined]
            v = st.valid(c)  # type: ignore[attr-defined]
            ok = np.isfinite(v)
            if ok.sum() < 10:
                continue
            tol = max(0.5 * _resolution(v), 1e-9)
            flat = np.asarray(qartod.flat_line_test(v, times.astype(float), 3 * step, 6 * step, tol))
            d = np.diff(v[ok])
            sd = 1.4826 * float(np.median(np.abs(d - np.median(d)))) if d.size else 0.0
            spike = np.asarray(
                qartod.spike_test(v, suspect_threshold=max(4 * sd, 1e-9), fail_threshold=max(8 * sd, 1e-9))
            )
            gross = np.asarray(qartod.gross_range_test(v, fail_span=(0.0, _range_max(v, st.param(c).span))))  # type: ignore[attr-defined]
            flagged = ok & ((flat == 4) | (spike == 4) | (gross == 4))
            rows += flagged_to_alarms(sid, c, times, flagged, step, st.utc_offset_s, "qartod_fail")  # type: ignore[attr-defined]
    return rows


def pyod_alarms(network: dict[str, object]) -> list[dict[str, object]]:
    from pyod.models.iforest import IForest

    rows: list[dict[str, object]] = []
    for sid, st in network.items():
        codes = [c for c in st.values if st.has(c)]  # type: ignore[attr-defined]
        if not codes:
            continue
        cols = []
        for c in codes:
            v = st.valid(c)  # type: ignore[attr-defined]
            med = float(np.nanmedian(v))
            mad = 1.4826 * float(np.nanmedian(np.abs(v - med))) or 1.0
            cols.append(np.where(np.isfinite(v), (v - med) / mad, 0.0))
        x = np.column_stack(cols)
        present = np.isfinite(np.column_stack([st.valid(c) for c in codes])).any(axis=1)  # type: ignore[attr-defined]
        if present.sum() < 50:
            continue
        model = IForest(contamination=0.01, random_state=0, n_estimators=100)
        model.fit(x[present])
        labels = np.zeros(len(x), dtype=bool)
        labels[present] = model.labels_ == 1
        rows += flagged_to_alarms(sid, "", st.times, labels, st.step, st.utc_offset_s, "isolation_forest")  # type: ignore[attr-defined]
    return rows


BASELINES: dict[str, Callable[[dict[str, object]], list[dict[str, object]]]] = {
    "saqc": saqc_alarms,
    "ioos": ioos_alarms,
    "pyod": pyod_alarms,
}


def write_alarms(rows: list[dict[str, object]], path: Path) -> None:
    frame = pl.DataFrame(rows, schema={c: (pl.Float64 if c == "score" else pl.String) for c in ALARM_COLUMNS})
    frame.write_csv(path)


def load_network(case_dir: Path) -> dict[str, object]:
    from envtrace.detect import stations_from_frames

    schema = {
        "station_id": pl.String,
        "parameter": pl.String,
        "time": pl.String,
        "value": pl.Float64,
        "flag": pl.String,
    }
    data = pl.read_csv(case_dir / "data.csv.gz", schema_overrides=schema)
    stations = pl.read_csv(case_dir / "stations.csv", infer_schema_length=0)
    params = pl.read_csv(case_dir / "parameters.csv", infer_schema_length=0)
    return dict(stations_from_frames(data, stations, params))


# ---------------------------------------------------------------------------------------- main


def _fmt(x: object) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{float(str(x)):.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="plants case only (under a minute)")
    ap.add_argument("--keep", type=Path, default=None, help="keep alarms and scores in this folder")
    ap.add_argument("--no-baselines", action="store_true", help="skip saqc, ioos_qc and pyod")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    cases = ["plants"] if args.quick else ["ambient", "plants", "control"]
    work = Path(tempfile.mkdtemp(prefix="detect-quality-"))
    results: dict[str, dict[str, dict[str, object]]] = {}
    try:
        for case in cases:
            case_dir = copy_case(case, work)
            alarms = work / f"{case}.alarms.csv"
            t0 = time.perf_counter()
            proc = subprocess.run(
                [*envtrace_command(), "detect", str(case_dir), "--out", str(alarms)],
                capture_output=True,
                text=True,
                check=False,
            )
            elapsed = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"envtrace detect failed on {case}: {proc.stderr[-2000:]}")
            results.setdefault("envtrace", {})[case] = score(case, alarms) | {"seconds": elapsed}
            if not args.no_baselines:
                network = load_network(case_dir)
                if args.quick:
                    # the baselines on a third of the stations: the quick run stays under a minute
                    keep = sorted(network)[: max(1, len(network) // 3)]
                    network = {sid: network[sid] for sid in keep}
                for name, fn in BASELINES.items():
                    t0 = time.perf_counter()
                    path = work / f"{case}.{name}.csv"
                    try:
                        write_alarms(fn(network), path)
                    except ImportError as exc:
                        print(f"baseline {name} not installed: {exc}")
                        continue
                    results.setdefault(name, {})[case] = score(case, path) | {
                        "seconds": time.perf_counter() - t0
                    }
        report(results, cases)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for f in work.glob("*.csv"):
                shutil.copy2(f, args.keep / f.name)
            for f in work.glob("*.json"):
                shutil.copy2(f, args.keep / f.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _recall(res: dict[str, dict[str, object]]) -> float:
    ev = sum(int(str(r["events"])) for c, r in res.items() if c != "control")
    det = sum(int(str(r["detected"])) for c, r in res.items() if c != "control")
    return det / ev if ev else math.nan


def _acc(res: dict[str, dict[str, object]]) -> float:
    det = sum(int(str(r["detected"])) for c, r in res.items() if c != "control")
    named = sum(int(str(r["pattern_named"])) for c, r in res.items() if c != "control")
    return named / det if det else math.nan


def report(results: dict[str, dict[str, dict[str, object]]], cases: list[str]) -> None:
    mine = results["envtrace"]
    print("envtrace detect, per pattern (dev cases):")
    print(f"  {'case':8s} {'pattern':22s} {'events':>6s} {'detected':>8s} {'recall':>7s} {'acc':>6s}")
    for case in cases:
        pp = mine[case]["per_pattern"]
        if not isinstance(pp, dict):
            continue
        for pat, r in pp.items():
            print(
                f"  {case:8s} {pat:22s} {r['events']:6d} {r['detected']:8d} {_fmt(r['recall']):>7s} "
                f"{_fmt(r['accuracy']):>6s}"
            )
    print()
    print(
        f"  {'detector':9s} {'case':8s} {'recall':>7s} {'far':>8s} {'acc':>6s} {'false':>6s} {'seconds':>8s}"
    )
    for name, res in results.items():
        for case in cases:
            if case not in res:
                continue
            r = res[case]
            print(
                f"  {name:9s} {case:8s} {_fmt(r['recall']):>7s} {_fmt(r['far']):>8s} "
                f"{_fmt(r['pattern_accuracy']):>6s} {r['false_alarms']!s:>6s} {float(str(r['seconds'])):8.1f}"
            )
    parts = [f"recall={_fmt(_recall(mine))}"]
    parts += [f"far_{c}={_fmt(mine[c]['far'] if mine[c]['far'] is not None else 0.0)}" for c in cases]
    parts.append(f"acc={_fmt(_acc(mine))}")
    for name in BASELINES:
        if name in results:
            parts.append(f"recall_{name}={_fmt(_recall(results[name]))}")
            parts += [f"far_{c}_{name}={_fmt(results[name][c]['far'])}" for c in cases if c in results[name]]
    print(" ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
