"""``envtrace detect CASE --out ALARMS.csv`` through the real executable, on a small case folder."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from tests.detect.conftest import ambient_network, flue_unit, modified, to_frame

REPO = Path(__file__).resolve().parents[2]
ENVTRACE = REPO / ".venv" / "bin" / "envtrace"
COLUMNS = ["station_id", "parameters", "start", "end", "pattern", "kind", "score"]


def write_case(folder: Path) -> None:
    net = ambient_network(n_stations=3, days=200, seed=21)
    s = net["st01"]
    pm10 = s.values["a34002"].copy()
    pm10[120 * 24 + 3 : 120 * 24 + 40] = 90.0  # a frozen PM10 run
    net["st01"] = modified(s, a34002=pm10)
    # a station lacking some parameters
    s2 = net["st02"]
    keep = {"a34004", "a34002", "a21005"}
    net["st02"] = type(s2)(
        s2.station_id,
        s2.kind,
        s2.t0,
        s2.step,
        {c: v for c, v in s2.values.items() if c in keep},
        {c: f for c, f in s2.flags.items() if c in keep},
        {c: i for c, i in s2.info.items() if c in keep},
    )
    unit = flue_unit(days=200, seed=22, sid="plant-x")
    net["plant-x"] = unit
    folder.mkdir()
    frame = to_frame(net)
    with gzip.open(folder / "data.csv.gz", "wb") as fh:
        frame.write_csv(fh)
    pl.DataFrame(
        {
            "station_id": list(net),
            "kind": [s.kind for s in net.values()],
            "name": list(net),
            "city": ["test"] * len(net),
            "lat": [40.0 + i * 0.01 for i in range(len(net))],
            "lon": [116.0] * len(net),
        }
    ).write_csv(folder / "stations.csv")
    rows = []
    for sid, st in net.items():
        for code in st.values:
            i = st.param(code)
            rows.append(
                {
                    "station_id": sid,
                    "parameter": code,
                    "unit": i.unit,
                    "limit": "" if np.isnan(i.limit) else str(i.limit),
                    "span": "" if np.isnan(i.span) else str(i.span),
                    "lod": "" if np.isnan(i.lod) else str(i.lod),
                    "o2_ref": "" if np.isnan(i.o2_ref) else str(i.o2_ref),
                }
            )
    pl.DataFrame(rows).write_csv(folder / "parameters.csv")
    # labels must never be read: a folder named labels.csv would make any read fail
    (folder / "labels.csv").mkdir()


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("detect-case") / "case"
    write_case(folder)
    return folder


def test_detect_writes_alarms_in_the_scorer_format(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "alarms.csv"
    proc = subprocess.run(
        [str(ENVTRACE), "detect", str(case), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    alarms = pl.read_csv(out, infer_schema_length=0)
    assert alarms.columns[: len(COLUMNS)] == COLUMNS
    assert "reason_en" in alarms.columns
    assert "reason_zh" in alarms.columns
    assert set(alarms["kind"].unique().to_list()) <= {"fraud", "qc"}
    scores = alarms["score"].cast(pl.Float64)
    assert scores.min() >= 0.0
    assert scores.max() <= 1.0
    assert alarms["start"].str.ends_with("+08:00").all()
    assert (alarms["end"] >= alarms["start"]).all()
    frozen = alarms.filter(
        (pl.col("station_id") == "st01") & (pl.col("pattern") == "frozen_value") & (pl.col("kind") == "fraud")
    )
    assert frozen.height == 1
    assert frozen["start"][0].startswith("2015-05-01")
    assert "a34002" in frozen["parameters"][0].split(";")
    assert set(alarms["station_id"].unique().to_list()) <= {"st00", "st01", "st02", "plant-x"}


def test_detect_without_data_file_fails_with_a_message(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run(
        [str(ENVTRACE), "detect", str(empty), "--out", str(tmp_path / "a.csv")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "data.csv.gz" in proc.stderr + proc.stdout
