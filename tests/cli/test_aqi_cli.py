"""``envtrace aqi``: the national release format in, the same rows plus aqi_calc/primary_calc out."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from envtrace.cli import aqi as aqi_cli

HEADER = (
    "timepoint,stationcode,longitude,latitude,area,positionname,primarypollutant,aqi,pm10,pm10_24h,"
    "pm2_5,pm2_5_24h,o3,o3_24h,o3_8h,o3_8h_24h,no2,no2_24h,so2,so2_24h,co,co_24h"
)


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer()
    aqi_cli.register(application)

    @application.callback()
    def _root() -> None:
        """test root"""

    return application


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["aqi", *args])
    return result.exit_code, result.stdout, result.stderr


def row(
    timepoint: str,
    code: str,
    *,
    pm10: str = "40",
    pm25: str = "20",
    o3: str = "60",
    o3_24h: str = "60",
    no2: str = "20",
    so2: str = "5",
    so2_24h: str = "5",
    co: str = "0.5",
    aqi: str = "",
) -> str:
    return (
        f"{timepoint},{code},116.3,39.8,城市,站点,,{aqi},{pm10},40,{pm25},20,{o3},{o3_24h},50,50,{no2},20,"
        f"{so2},{so2_24h},{co},0.5"
    )


def write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "release.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_registered_in_main() -> None:
    from envtrace.cli.main import COMMAND_MODULES

    assert "aqi" in COMMAND_MODULES


def test_national_release_2023(app: typer.Typer, shared_dir: Path, tmp_path: Path) -> None:
    src = shared_dir / "specs" / "cnemc" / "2023-01-22T08.csv"
    out = tmp_path / "out.csv"
    code, _, err = run(app, str(src), "--out", str(out))
    assert code == 0, err
    original = list(csv.reader(src.open(encoding="utf-8")))
    result = list(csv.reader(out.open(encoding="utf-8")))
    assert result[0] == [*original[0], "aqi_calc", "primary_calc"]
    assert [r[:-2] for r in result[1:]] == original[1:], "rows and columns unchanged"
    rows = parse(out.read_text(encoding="utf-8"))
    have = [r for r in rows if r["aqi"].strip()]
    ok = sum(1 for r in have if r["aqi_calc"] and abs(float(r["aqi_calc"]) - float(r["aqi"])) <= 1)
    assert ok / len(have) >= 0.99
    assert all(r["aqi_calc"] == "" or r["aqi_calc"].isdigit() for r in rows)
    assert all(r["primary_calc"] == r["primarypollutant"] for r in have)


def test_national_release_2026_never_numbers_where_na(
    app: typer.Typer, shared_dir: Path, tmp_path: Path
) -> None:
    src = shared_dir / "specs" / "cnemc" / "2026-05-01T15.csv"
    out = tmp_path / "out.csv"
    assert run(app, str(src), "--out", str(out))[0] == 0
    rows = parse(out.read_text(encoding="utf-8"))
    assert all(r["aqi_calc"] == "" for r in rows if r["aqi"] == "NA")
    pub = [r for r in rows if r["aqi"] != "NA"]
    exact = sum(1 for r in pub if r["aqi_calc"] == r["aqi"])
    assert exact / len(pub) >= 0.97  # the PM10-missing rows: docs/standards/aqi-validation.md


def test_stdout_when_no_out(app: typer.Typer, tmp_path: Path) -> None:
    code, out, _ = run(app, str(write(tmp_path, row("2023-01-22T08:00:00", "1001A", pm25="64", pm10="95"))))
    assert code == 0
    (r,) = parse(out)
    assert (r["aqi_calc"], r["primary_calc"]) == ("87", "细颗粒物(PM2.5)")


def test_missing_values_and_not_measured(app: typer.Typer, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        row("2026-05-01T1500", "A", pm10="—", pm25="-", o3="", o3_24h="", no2="NA", so2="NA", co="NA"),
        row("2026-05-01T1500", "B", so2="/", co="/"),
        row("2026-05-01T1500", "C", no2="NA"),
        row("2026-05-01T1500", "D", no2="NA", pm25="120"),
    )
    code, out, err = run(app, str(path))
    assert code == 0, err
    got = [(r["stationcode"], r["aqi_calc"]) for r in parse(out)]
    # A: nothing; B: '/' is not measured, AQI of the rest; C: NO2 missing and AQI <= 100: NA (§5.3);
    # D: NO2 missing but AQI > 100: published
    assert got == [("A", ""), ("B", "40"), ("C", ""), ("D", "158")]
    code, out, _ = run(app, str(path), "--missing", "available")
    assert [r["aqi_calc"] for r in parse(out)] == ["", "40", "40", "158"]


def test_ozone_columns_auto(app: typer.Typer, tmp_path: Path) -> None:
    swapped = write(
        tmp_path,
        row("2023-01-22T08:00:00", "A", o3="250", o3_24h="60"),
        row("2023-01-22T08:00:00", "B", o3="90", o3_24h="30"),
    )
    assert [r["aqi_calc"] for r in parse(run(app, str(swapped))[1])] == ["40", "40"]
    plain = write(tmp_path, row("2026-05-01T1500", "A", o3="250", o3_24h=""))
    assert [r["aqi_calc"] for r in parse(run(app, str(plain))[1])] == ["125"]  # 100 + 50/100*50
    forced = write(tmp_path, row("2023-01-22T08:00:00", "A", o3="250", o3_24h="60"))
    assert [r["aqi_calc"] for r in parse(run(app, str(forced), "--o3-column", "o3")[1])] == ["125"]


def test_edition_switch_at_t01(app: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, row("2026-03-01T00:00:00", "A", pm25="70"), row("2026-03-01T0100", "A", pm25="70"))
    assert [r["aqi_calc"] for r in parse(run(app, str(path))[1])] == ["94", "110"]


def test_so2_above_800_by_edition(app: typer.Typer, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        row("2025-01-01T10:00:00", "A", so2="900", so2_24h="900"),
        row("2026-05-01T1000", "A", so2="900", so2_24h="900"),
    )
    rows = parse(run(app, str(path))[1])
    assert [r["aqi_calc"] for r in rows] == ["213", "200"]
    assert [r["primary_calc"] for r in rows] == ["二氧化硫", "二氧化硫(SO2)"]


def test_missing_columns_are_named(app: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, "2023-01-22T08:00:00,1,2", header="timepoint,pm10,so2")
    code, _, err = run(app, str(path))
    assert code == 2
    assert "missing column(s) pm2_5, o3, no2, co" in err


def test_bad_number_names_row_and_column(app: typer.Typer, tmp_path: Path) -> None:
    path = write(tmp_path, row("2023-01-22T08:00:00", "A"), row("2023-01-22T08:00:00", "B", pm10="12x"))
    code, _, err = run(app, str(path))
    assert code == 2
    assert "row 2 (line 3), column pm10: '12x' is not a number" in err


def test_bad_timepoint_and_field_count(app: typer.Typer, tmp_path: Path) -> None:
    code, _, err = run(app, str(write(tmp_path, row("yesterday", "A"))))
    assert code == 2
    assert "column timepoint: 'yesterday' is not a time" in err
    code, _, err = run(app, str(write(tmp_path, "2023-01-22T08:00:00,A")))
    assert code == 2
    assert "row 1 (line 2) has 2 fields, the header 22" in err


def test_empty_and_unreadable(app: typer.Typer, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    code, _, err = run(app, str(empty))
    assert code == 2
    assert "empty" in err
    code, _, err = run(app, str(tmp_path / "nope.csv"))
    assert code == 2
    assert "cannot read" in err
