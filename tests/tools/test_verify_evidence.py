"""``tools/verify_evidence.py``, the outsiders' checker, run as a separate program on bundles exported
from a real database, and on tampered ones."""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from envtrace.evidence.keys import KeyRing
from envtrace.evidence.published import read_notes
from envtrace.ledger import SigningKey
from evidence.builder import TOOL, Built

STDLIB = set(sys.stdlib_module_names)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(TOOL), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(TOOL.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert roots - STDLIB == {"cryptography"}


@pytest.mark.parametrize("name", ["plain", "hour", "sm4", "split", "quarantined", "alarm_event"])
def test_exported_bundles_are_valid(bundle_files: dict[str, Path], name: str) -> None:
    done = run(bundle_files[name])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "VALID"


def test_with_the_departments_key_pinned(
    bundle_files: dict[str, Path], built_sqlite: Built, tmp_path: Path
) -> None:
    key = tmp_path / "department.vkey"
    key.write_text(KeyRing(built_sqlite.options.keys_dir).published()[0].to_vkey() + "\n")
    assert run(bundle_files["plain"], "--pubkey", key).returncode == 0
    other = tmp_path / "other.vkey"
    other.write_text(SigningKey.generate().verifying_key("someone").to_vkey() + "\n")
    done = run(bundle_files["plain"], "--pubkey", other)
    assert done.returncode == 1
    assert done.stdout.startswith("INVALID checkpoint")


def test_against_a_witness_copy(bundle_files: dict[str, Path], built_sqlite: Built, tmp_path: Path) -> None:
    notes = read_notes(built_sqlite.checkpoint_file) or []
    witness = tmp_path / "witness.txt"
    witness.write_text(f"{notes[0]}\n{notes[-1]}\n")  # a witness's file: the day's first and the newest
    done = run(bundle_files["plain"], "--checkpoint", witness, "--json")
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["valid"] is True
    only = tmp_path / "first.txt"
    only.write_text(notes[0])
    assert run(bundle_files["plain"], "--checkpoint", only).returncode == 0


def _tampered(source: Path, tmp_path: Path, change: str) -> Path:
    bundle = json.loads(source.read_text())
    if change == "raw":
        raw = bytearray(base64.b64decode(bundle["frame"]["raw_b64"]))
        raw[len(raw) // 2] ^= 0x01
        bundle["frame"]["raw_b64"] = base64.b64encode(bytes(raw)).decode()
    elif change == "reading":
        record = bundle["readings"]["records"][0]
        record[3][0] = str(float(record[3][0]) + 1)
    elif change == "leaf":
        leaf = bytearray(base64.b64decode(bundle["leaf"]["bytes_b64"]))
        leaf[-5] ^= 0x04
        bundle["leaf"]["bytes_b64"] = base64.b64encode(bytes(leaf)).decode()
    elif change == "proof":
        path = bundle["inclusion"]["path"]
        path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]
    elif change == "index":
        bundle["leaf"]["index"] += 1
    elif change == "size":
        bundle["inclusion"]["tree_size"] += 1
    elif change == "checkpoint":
        lines = bundle["checkpoint"].split("\n")
        lines[1] = str(int(lines[1]) + 1)
        bundle["checkpoint"] = "\n".join(lines)
    elif change == "station":
        bundle["frame"]["mn"] = "0" * 24
    elif change == "format":
        bundle["version"] = 99
    path = tmp_path / f"{change}.json"
    path.write_text(json.dumps(bundle))
    return path


@pytest.mark.parametrize(
    "change", ["raw", "reading", "leaf", "proof", "index", "size", "checkpoint", "station", "format"]
)
def test_a_tampered_bundle_is_invalid(bundle_files: dict[str, Path], tmp_path: Path, change: str) -> None:
    done = run(_tampered(bundle_files["plain"], tmp_path, change))
    assert done.returncode == 1, done.stdout
    assert done.stdout.startswith("INVALID")


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{not json")
    assert run(tmp_path / "x.json").returncode == 2
    assert run(tmp_path / "missing.json").returncode == 2


def test_it_agrees_with_envtrace_evidence_verify(bundle_files: dict[str, Path], tmp_path: Path) -> None:
    for change in ("raw", "reading", "proof"):
        path = _tampered(bundle_files["split"], tmp_path, change)
        mine = subprocess.run(
            [sys.executable, "-m", "envtrace", "evidence", "verify", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert mine.returncode == run(path).returncode == 1
