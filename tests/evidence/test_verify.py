"""``envtrace verify`` and the other commands on a real database; the re-derivation of readings
against the gateway's; corrections; the query functions offered to the web app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from envtrace.evidence import verify_url
from envtrace.evidence.corrections import append_correction, correction_payload, record_ref
from envtrace.evidence.derive import KeyHistory, decode_raw, derive, offset_minutes
from envtrace.evidence.keys import KeyRing
from envtrace.evidence.published import read_notes, split_notes
from envtrace.evidence.queries import (
    checkpoint_history,
    consistency_proof_for,
    inclusion_proof_for,
    latest_checkpoint,
    public_keys,
)
from envtrace.ingest.values import frame_readings as gateway_readings
from envtrace.ledger import leaf_hash, open_checkpoint, verify_consistency, verify_inclusion
from envtrace.store import append, connect, write_transaction
from envtrace.store.ledger_log import forget_cache
from envtrace.store.series import readings_digest

from .builder import Built


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envtrace", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_verify_json_lists_findings_and_counts(sqlite_copy: Built) -> None:
    path = sqlite_copy.url.removeprefix("sqlite:///")
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("UPDATE reading SET flag = 'X' WHERE rowid = (SELECT min(rowid) FROM reading)")
    done = cli("verify", "--db", sqlite_copy.url, "--state-dir", sqlite_copy.state_dir, "--json")
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["ok"] is False
    assert doc["errors"] == 1
    (finding,) = doc["findings"]
    assert finding["code"] == "reading-value"
    assert finding["detail"]["column"] == "flag"
    assert finding["detail"]["stored"] == "X"
    assert doc["checked"]["frames"] > 0


def test_verify_cannot_run_without_a_database(tmp_path: Path) -> None:
    done = cli("verify", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert done.returncode == 2
    assert "cannot verify" in done.stderr


def test_verify_never_writes(built: Built) -> None:
    def fingerprint() -> tuple[int, ...]:
        engine = connect(built.url)
        try:
            with engine.connect() as conn:
                return tuple(
                    int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() or 0)
                    for t in ("ledger_leaf", "ledger_node", "ledger_checkpoint", "raw_frame", "reading")
                )
        finally:
            engine.dispose()

    before = fingerprint()
    notes = built.checkpoint_file.read_bytes()
    assert verify_url(built.url, built.context()).ok
    assert fingerprint() == before
    assert built.checkpoint_file.read_bytes() == notes


def test_verify_without_decoding_still_catches_an_edited_reading(sqlite_copy: Built) -> None:
    engine = connect(sqlite_copy.url)
    with write_transaction(engine) as conn:
        conn.execute(text("UPDATE reading SET value = value + 1 WHERE rowid = 10"))
    engine.dispose()
    report = verify_url(sqlite_copy.url, sqlite_copy.context(decode=False))
    assert set(report.counts) == {"readings-digest"}


def test_derivation_agrees_with_the_gateway(built_sqlite: Built) -> None:
    """The verifier's independent re-derivation gives the gateway's rows for every plain frame."""
    engine = connect(built_sqlite.url)
    compared = 0
    try:
        with engine.connect() as conn:
            stations = {r.id: r for r in conn.execute(text("SELECT id, encrypted FROM station"))}
            keys = KeyHistory.load(conn, built_sqlite.state_dir)
            frames = conn.execute(
                text(
                    "SELECT id, raw, station_id, data_ts, received_us FROM raw_frame "
                    "WHERE status = 'accepted' AND (pnum IS NULL OR pnum <= 1)"
                )
            ).all()
        assert keys is not None
        assert len(keys) > 0  # the build has encrypted stations: their keys open with the state folder
        for fid, raw, sid, data_ts, received_us in frames:
            candidates = keys.candidates(sid, received_us) if stations[sid].encrypted else [None]
            assert candidates, f"station {sid} is encrypted but has no key"
            decoded = decode_raw(bytes(raw), candidates[0])
            mine = derive(decoded, data_ts)
            assert mine.records is not None
            offset = offset_minutes(decoded, data_ts)
            assert decoded.packet is not None
            assert offset is not None
            packet = decoded.packet
            _, _, theirs = gateway_readings(packet.cn, packet.st, packet.items, data_ts, offset)
            assert (readings_digest(mine.records) if mine.records else None) == theirs, fid
            compared += 1
    finally:
        engine.dispose()
    assert compared > 100


def test_a_correction_must_name_its_record_exactly(sqlite_copy: Built) -> None:
    forget_cache()
    engine = connect(sqlite_copy.url)
    try:
        with write_transaction(engine) as conn:
            idx = append_correction(conn, leaf_index=5, reason="wrong unit", actor="staff", ts=1)
            target = record_ref(conn, 5)
            wrong = target.__class__(5, target.kind, "00" * 32)
            append(conn, "correction", correction_payload(wrong, reason="forged", actor="x", ts=2))
        assert idx > 5
    finally:
        engine.dispose()
    report = verify_url(sqlite_copy.url, sqlite_copy.context())
    assert set(report.counts) - {"checkpoint-behind"} == {"correction-target"}
    with pytest.raises(ValueError, match="reason and an actor"):
        correction_payload(target, reason=" ", actor="x", ts=0)


def test_queries_for_the_web_app(built: Built) -> None:
    engine = connect(built.url)
    try:
        keys = KeyRing(built.options.keys_dir).published()
        with engine.connect() as conn:
            latest = latest_checkpoint(conn)
            assert latest is not None
            history = checkpoint_history(conn, limit=10)
            assert history[0] == latest
            assert [r.id for r in checkpoint_history(conn, before_id=latest.id)] == [
                r.id for r in history[1:]
            ]
            cp = open_checkpoint(latest.note, keys)
            proof = inclusion_proof_for(conn, 3)
            assert proof.tree_size == cp.size
            assert proof.checkpoint_note == latest.note
            verify_inclusion(
                bytes.fromhex(proof.leaf_hash_hex),
                3,
                cp.size,
                [bytes.fromhex(p) for p in proof.path_hex],
                cp.root,
            )
            first = open_checkpoint(history[-1].note, keys)
            c = consistency_proof_for(conn, first.size, cp.size)
            verify_consistency(
                first.size, cp.size, first.root, cp.root, [bytes.fromhex(p) for p in c.path_hex]
            )
            payload = conn.execute(text("SELECT payload FROM ledger_leaf WHERE idx = 3")).scalar()
            assert leaf_hash(bytes(payload)).hex() == proof.leaf_hash_hex
            assert json.loads(json.dumps(proof.as_json()))["root"] == cp.root.hex()
    finally:
        engine.dispose()
    listed = public_keys(built.options)
    assert [k.vkey for k in listed] == [k.to_vkey() for k in keys]
    assert listed[-1].active


def test_ledger_commands(sqlite_copy: Built, tmp_path: Path) -> None:
    db, state = sqlite_copy.url, sqlite_copy.state_dir
    keys = cli("ledger", "public-keys", "--db", db, "--state-dir", state)
    assert keys.returncode == 0
    assert keys.stdout.count("\n") == 1
    out = tmp_path / "witness.txt"
    assert cli("ledger", "checkpoints", "--db", db, "--out", out).returncode == 0
    assert split_notes(out.read_text()) == read_notes(sqlite_copy.checkpoint_file)
    since = cli("ledger", "checkpoints", "--db", db, "--since", "10000000")
    assert since.stdout == ""
    assert "already published" in cli("ledger", "sign", "--db", db, "--state-dir", state).stdout
    assert cli("ledger", "check", "--db", db, "--state-dir", state).returncode == 0
    rotated = cli("ledger", "rotate-key", "--db", db, "--state-dir", state)
    assert rotated.returncode == 0, rotated.stderr
    assert "transition checkpoint" in rotated.stdout
    both = cli("ledger", "public-keys", "--db", db, "--state-dir", state, "--format", "json")
    assert [k["active"] for k in json.loads(both.stdout)] == [False, True]


def test_evidence_commands(sqlite_copy: Built, tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    done = cli(
        "evidence",
        "export",
        "--db",
        sqlite_copy.url,
        "--state-dir",
        sqlite_copy.state_dir,
        "--frame",
        "3",
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    ok = cli("evidence", "verify", out)
    assert ok.returncode == 0
    assert ok.stdout.strip().endswith("unchanged since it was sealed")
    bundle = json.loads(out.read_text())
    bundle["leaf"]["index"] += 1
    out.write_text(json.dumps(bundle))
    bad = cli("evidence", "verify", out, "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["valid"] is False
    assert (
        cli("evidence", "export", "--db", sqlite_copy.url, "--frame", "999999", "--out", out).returncode == 1
    )
