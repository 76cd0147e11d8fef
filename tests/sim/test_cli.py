"""``envtrace simulate``: options, the registry it writes, the summary line, the exit status."""

from __future__ import annotations

import asyncio
import csv
import re
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from envtrace.cli import simulate as cli_simulate
from envtrace.sim import REGISTRY_COLUMNS, build_stations
from envtrace.sim.province import read_registry

from .double import Platform

MN = re.compile(r"E7[0-9A-F]{22}")


def app() -> typer.Typer:
    a = typer.Typer()
    cli_simulate.register(a)

    @a.callback()
    def _root() -> None:
        """Test application."""

    return a


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app(), ["simulate", *args], env={"COLUMNS": "400", "NO_COLOR": "1"})
    return result.exit_code, result.output


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_registry_out_is_deterministic_from_the_seed_and_prefix_stable(tmp_path: Path) -> None:
    a, b, c, d = (tmp_path / f"{n}.csv" for n in "abcd")
    common = ["--duration", "0", "--edition", "mixed", "--encrypt"]
    assert invoke("--stations", "12", "--seed", "5", "--registry-out", str(a), *common)[0] == 0
    assert invoke("--stations", "12", "--seed", "5", "--registry-out", str(b), *common)[0] == 0
    assert invoke("--stations", "5", "--seed", "5", "--registry-out", str(c), *common)[0] == 0
    assert invoke("--stations", "5", "--seed", "6", "--registry-out", str(d), *common)[0] == 0
    assert a.read_bytes() == b.read_bytes()
    rows = read(a)
    assert read(c) == rows[:5]
    assert not {r["mn"] for r in read(d)} & {r["mn"] for r in rows}
    assert list(rows[0]) == list(REGISTRY_COLUMNS)
    assert list(REGISTRY_COLUMNS[:8]) == ["mn", "pw", "kind", "st", "edition", "encrypted", "key", "name"]
    for r in rows:
        assert MN.fullmatch(r["mn"])
        assert re.fullmatch(r"\d{6}", r["pw"])
        assert r["st"] == {"flue_gas": "31", "water": "32", "ambient": "22"}[r["kind"]]
        assert (r["encrypted"] == "1") == (r["edition"] == "2025") == (len(r["key"]) == 16)
    assert {r["kind"] for r in rows} == {"flue_gas", "water", "ambient"}


def test_a_registry_read_back_gives_the_same_stations(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    assert (
        invoke(
            "--stations",
            "9",
            "--seed",
            "3",
            "--edition",
            "2025",
            "--encrypt",
            "--duration",
            "0",
            "--registry-out",
            str(path),
        )[0]
        == 0
    )
    again = read_registry(path, seed=3)
    for s, t in zip(build_stations(9, seed=3, edition="2025", encrypt=True), again, strict=True):
        assert (s.mn, s.pw, s.kind, s.st, s.edition, s.encrypted, s.key) == (
            t.mn,
            t.pw,
            t.kind,
            t.st,
            t.edition,
            t.encrypted,
            t.key,
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "127.0.0.1:9", "--inject", "no_such_pattern"], "unknown pattern"),
        (["--to", "127.0.0.1:9", "--inject", "level_shift:0"], "ambient"),
        (["--faults", "2"], "probability"),
        (["--fault-kinds", "crc,teleport"], "teleport"),
        (["--kinds", "volcano"], "kinds"),
        (["--to", "nowhere"], "HOST:PORT"),
        (["--to", "127.0.0.1:9", "--rate", "5", "--speed", "1"], "1 s resolution"),
        ([], "--to"),
    ],
)
def test_bad_options_exit_2_naming_the_problem(args: list[str], message: str) -> None:
    code, output = invoke("--stations", "3", "--duration", "1", *args)
    assert code == 2
    assert message in output


def test_a_run_prints_the_summary_line_and_exits_0(tmp_path: Path) -> None:
    registry = tmp_path / "stations.csv"

    async def scenario() -> tuple[int, bytes, Platform]:
        async with Platform() as p:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "envtrace",
                "simulate",
                "--to",
                f"127.0.0.1:{p.port}",
                "--stations",
                "3",
                "--duration",
                "1.5",
                "--speed",
                "600",
                "--progress",
                "0",
                "--drain",
                "2",
                "--inject",
                "dilution_after_o2::+2m",
                "--registry-out",
                str(registry),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, _err = await asyncio.wait_for(proc.communicate(), 60)
            return proc.returncode or 0, out, p

    code, out, platform = asyncio.run(scenario())
    assert code == 0, out
    last = out.decode().strip().splitlines()[-1]
    fields = dict(pair.split("=", 1) for pair in last.split())
    for key in ("sent", "acked", "resent", "failed", "connections", "reconnects"):
        assert fields[key].isdigit()
    assert int(fields["connections"]) == 3
    assert int(fields["acked"]) == int(fields["sent"]) - int(fields["resent"]) > 0
    assert {r["mn"] for r in read(registry)} == {r.mn for r in platform.frames}
