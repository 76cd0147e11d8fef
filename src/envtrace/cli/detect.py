"""``envtrace detect CASE_DIR --out ALARMS.csv``: run the detector suite over a case folder.

A case folder holds ``stations.csv``, ``parameters.csv`` and ``data.csv.gz`` (the benchmark format
of ``../shared/bench/README.md``); any ``labels.csv`` in it is never read. The alarms file has the
scorer's columns ``station_id,parameters,start,end,pattern,kind,score`` followed by ``detector``,
``reason_en`` and ``reason_zh``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import polars as pl


def register(app: typer.Typer) -> None:
    """Add the ``detect`` command to the ``envtrace`` application."""
    app.command("detect")(detect)


def detect(
    case_dir: Annotated[Path, typer.Argument(help="Case folder: stations.csv, parameters.csv, data.csv.gz")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the alarms CSV")],
    evidence_out: Annotated[
        Path | None, typer.Option("--evidence", help="Also write every piece of evidence (JSON lines)")
    ] = None,
) -> None:
    """Find suspected falsification and data-quality problems in a case folder."""
    import json
    import time

    import polars as pl

    from envtrace.detect import detect_network, merge_evidence, stations_from_frames
    from envtrace.detect.errors import DetectError

    t_start = time.perf_counter()
    data_path = case_dir / "data.csv.gz"
    if not data_path.exists():
        typer.echo(f"detect: {data_path} is missing (a case folder holds data.csv.gz)", err=True)
        raise typer.Exit(2)
    schema = {
        "station_id": pl.String,
        "parameter": pl.String,
        "time": pl.String,
        "value": pl.Float64,
        "flag": pl.String,
    }
    data = pl.read_csv(data_path, schema_overrides=schema)
    stations = _read_optional(case_dir / "stations.csv")
    parameters = _read_optional(case_dir / "parameters.csv")
    try:
        network = stations_from_frames(data, stations, parameters)
        evidence = detect_network(network)
    except DetectError as exc:
        typer.echo(f"detect: {exc}", err=True)
        raise typer.Exit(2) from exc
    alarms = merge_evidence(evidence)
    offset = _offset_text(next(iter(network.values())).utc_offset_s) if network else "+00:00"
    rows = []
    for a in alarms:
        rows.append(
            {
                "station_id": a.station,
                "parameters": ";".join(a.parameters),
                "start": _iso(a.start, offset),
                "end": _iso(a.end, offset),
                "pattern": a.pattern,
                "kind": a.kind,
                "score": round(a.score, 4),
                "detector": a.evidence[0].detector,
                "reason_en": a.reason_en,
                "reason_zh": a.reason_zh,
            }
        )
    columns = [
        "station_id",
        "parameters",
        "start",
        "end",
        "pattern",
        "kind",
        "score",
        "detector",
        "reason_en",
        "reason_zh",
    ]
    frame = pl.DataFrame(rows, schema={c: (pl.Float64 if c == "score" else pl.String) for c in columns})
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out)
    if evidence_out is not None:
        with evidence_out.open("w", encoding="utf-8") as fh:
            for e in evidence:
                fh.write(
                    json.dumps(
                        {
                            "detector": e.detector,
                            "station": e.station,
                            "parameters": list(e.parameters),
                            "start": _iso(e.start, offset),
                            "end": _iso(e.end, offset),
                            "pattern": e.pattern,
                            "kind": e.kind,
                            "score": e.score,
                            "statistic": e.statistic,
                            "baseline": e.baseline,
                            "threshold": e.threshold,
                            "expected_per_year": e.expected_per_year,
                            "reason_en": e.reason_en,
                            "reason_zh": e.reason_zh,
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
    n_fraud = sum(a.kind == "fraud" for a in alarms)
    typer.echo(
        f"detect: {len(network)} stations, {len(evidence)} findings, {n_fraud} fraud and "
        f"{len(alarms) - n_fraud} qc alarms in {time.perf_counter() - t_start:.1f} s -> {out}"
    )


def _read_optional(path: Path) -> pl.DataFrame | None:
    import polars as pl

    if not path.exists():
        return None
    return pl.read_csv(path, infer_schema_length=0)


def _offset_text(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    return f"{sign}{abs(seconds) // 3600:02d}:{abs(seconds) % 3600 // 60:02d}"


def _iso(ts: int, offset: str) -> str:
    from datetime import UTC, datetime, timedelta

    sign = -1 if offset.startswith("-") else 1
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
    local = datetime.fromtimestamp(ts, UTC) + delta
    return local.strftime("%Y-%m-%dT%H:%M:%S") + offset
