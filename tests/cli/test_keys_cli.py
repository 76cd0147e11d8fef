"""``envtrace keys`` and the key column of ``envtrace stations import``, run as staff run them
(subprocess, a real SQLite database): keys never printed, patterned keys refused, every change
verifiable (``envtrace verify``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENVTRACE = REPO / ".venv" / "bin" / "envtrace"
MN = "0A0000A8900016F000169D20"
KEY = "Qm7xT2vR9pLk4WzA"
NEXT = "Hn3bV8cXz6Ry2TqW"


def envtrace(*args: str, stdin: str = "", env_dir: Path) -> subprocess.CompletedProcess[str]:
    if not ENVTRACE.exists():
        pytest.fail(f"{ENVTRACE} is missing: run `make test` (it installs the package into .venv)")
    return subprocess.run(
        [str(ENVTRACE), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=env_dir,
        check=False,
    )


def test_keys_register_list_revoke_without_ever_showing_a_key(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    run = lambda *a, stdin="": envtrace(*a, stdin=stdin, env_dir=tmp_path)  # noqa: E731
    added = run(
        "stations", "add", "--db", db, "--mn", MN, "--pw", "653412", "--kind", "flue_gas", "--st", "31",
        "--edition", "2025",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    refused = run("keys", "register", MN, "--db", db, stdin="1234567890abcdef\n")
    assert refused.returncode == 1
    assert "refused" in refused.stderr
    assert "1234567890abcdef" not in refused.stderr
    ok = run("keys", "register", MN, "--db", db, "--by", "alice", stdin=f"{KEY}\n")  # the key on stdin
    assert ok.returncode == 0, ok.stderr
    assert "registered (fingerprint " in ok.stdout
    assert KEY not in ok.stdout + ok.stderr
    replaced = run("keys", "register", MN, "--db", db, stdin=f"{NEXT}\n")
    assert replaced.returncode == 0, replaced.stderr
    listed = run("keys", "list", MN, "--db", db, "--events")
    assert listed.returncode == 0, listed.stderr
    assert "previous" in listed.stdout
    assert "current" in listed.stdout
    assert "2 keys" in listed.stdout
    assert listed.stdout.count(" registered by ") == 2
    assert "by alice" in listed.stdout
    assert KEY not in listed.stdout
    assert NEXT not in listed.stdout
    revoked = run("keys", "revoke", MN, "--db", db, "--all", "--reason", "logger stolen")
    assert revoked.returncode == 0
    assert "revoked" in revoked.stdout
    assert (tmp_path / "e.state" / "station-keys" / "master.key").exists()  # outside the database
    for f in tmp_path.glob("e.db*"):
        assert KEY.encode() not in f.read_bytes()
        assert NEXT.encode() not in f.read_bytes()
    verified = run("verify", "--db", db)
    assert verified.returncode == 0, verified.stdout[-2000:]


def test_rotate_needs_an_encrypted_station_and_queues_for_the_gateway(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    run = lambda *a, stdin="": envtrace(*a, stdin=stdin, env_dir=tmp_path)  # noqa: E731
    csv = tmp_path / "stations.csv"
    csv.write_text(
        f"mn,pw,kind,st,edition,encrypted,key\n{MN},653412,flue_gas,31,2025,true,{KEY}\n"
        "0A0000A8900016F000169D21,653412,flue_gas,31,2017,false,\n",
        encoding="utf-8",
    )
    imported = run("stations", "import", db, str(csv))
    assert imported.returncode == 0, imported.stderr
    plain = run("keys", "rotate", "0A0000A8900016F000169D21", "--db", db)
    assert plain.returncode == 1
    assert "not registered as encrypted" in plain.stderr
    queued = run("keys", "rotate", MN, "--db", db)
    assert queued.returncode == 0
    assert "queued" in queued.stdout
    listed = run("keys", "list", "--db", db)
    assert "1 keys" in listed.stdout
    assert KEY not in listed.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(f"mn,pw,edition,encrypted,key\n0A0000A8900016F000169D22,653412,2025,true,{'7' * 16}\n")
    refused = run("stations", "import", db, str(bad))
    assert refused.returncode != 0
    assert "7777777777777777" not in refused.stdout + refused.stderr
