"""`envtrace alarms ...` on a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from envtrace.alarms import raise_alarms
from envtrace.cli import alarms as cli_alarms

from .conftest import HOUR, T0, World, evidence


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The command line is exercised on SQLite only (the API tests cover PostgreSQL)."""
    return sqlite_url


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.callback()(lambda: None)
    cli_alarms.register(root)
    return root


def _run(app: typer.Typer, url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["alarms", *args, "--db", url])
    return result.exit_code, result.output


def test_inbox_and_decisions(app: typer.Typer, world: World, db_url: str, tmp_path: Path) -> None:
    (fraud,) = raise_alarms(world.engine, [evidence()], now=T0 + 7 * HOUR).opened
    (qc,) = raise_alarms(
        world.engine, [evidence(kind="qc", pattern="calibration_gap", score=0.2)], now=T0 + 7 * HOUR
    ).opened
    code, out = _run(app, db_url, "list", "--json")
    assert code == 0
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(a["id"], a["state"], a["kind"]) for a in listed] == [(qc, "new", "qc"), (fraud, "new", "fraud")]
    code, out = _run(app, db_url, "list", "--as", "ent")
    assert code == 0
    assert f"#{qc}\t" in out
    assert f"#{fraud}\t" not in out

    at = str(T0 + 8 * HOUR)
    assert _run(app, db_url, "ack", str(fraud), "--as", "staff", "--now", at, "--note", "taking it")[0] == 0
    assert _run(app, db_url, "verify", str(fraud), "--as", "staff", "--now", at, "--ref", "photo-1")[0] == 0
    code, out = _run(
        app, db_url, "dismiss", str(fraud), "--as", "staff", "--reason-code", "other", "--reason", "looks ok"
    )
    assert code == 1
    assert "may not 'dismiss' a 'fraud' alarm" in out
    code, out = _run(app, db_url, "ack", str(fraud), "--as", "staff")
    assert code == 1
    assert "cannot 'acknowledge' from state 'under_verification'" in out
    code, out = _run(app, db_url, "ack", str(fraud), "--as", "nobody")
    assert code == 1
    assert "nobody" in out
    code, out = _run(
        app,
        db_url,
        "confirm",
        str(fraud),
        "--as",
        "officer",
        "--enforcement-type",
        "administrative_penalty",
        "--case-ref",
        "苏环罚〔2026〕3号",
        "--now",
        at,
    )
    assert code == 0
    assert "confirmed" in out

    code, out = _run(app, db_url, "show", str(fraud), "--json")
    doc = json.loads(out)
    assert [e["action"] for e in doc["events"]] == ["open", "acknowledge", "verify", "confirm"]
    assert doc["events"][-1]["enforcement_ref"] == "苏环罚〔2026〕3号"
    assert doc["evidence"][0]["plots"][0]["label"] == "a21026"
    code, out = _run(app, db_url, "show", str(fraud), "--as", "insp")
    assert code == 0
    assert "reopen" in out.splitlines()[-1]

    code, out = _run(app, db_url, "escalate-overdue", "--now", str(T0 + 7 * HOUR + 72 * HOUR))
    assert code == 0
    assert out.strip() == f"escalated 1 alarm(s): {qc}"
    code, out = _run(app, db_url, "list", "--as", "rev", "--mine")
    assert code == 0
    assert f"#{qc}\t" in out
    code, out = _run(app, db_url, "assign", str(qc), "--as", "rev", "--to-user", "lab")
    assert code == 0
    assert "owner=lab" in out
    code, out = _run(app, db_url, "comment", str(qc), "--as", "ent", "--text", "calibrated on Monday")
    assert code == 0
    code, out = _run(app, db_url, "check")
    assert code == 0
    assert out.strip().endswith("0 disagreement(s)")

    bad = tmp_path / "bad.toml"
    bad.write_text("[deadlines.critical]\nacknowledge = 'soon'\n", encoding="utf-8")
    code, out = _run(app, db_url, "escalate-overdue", "--policy", str(bad))
    assert code == 1
    assert "deadlines.critical.acknowledge" in out
