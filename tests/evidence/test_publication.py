"""Signing keys, the checkpoint job, the published file, key rotation, and the start-up refusal."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from envtrace.evidence import (
    CATALOGUE,
    EvidenceOptions,
    KeyStoreError,
    OriginMismatch,
    PublicationMismatch,
    TreeForked,
    TreeTruncated,
    UntrustedCheckpoint,
    check_against_published,
    checkpoint_if_due,
    export_bundle,
    rotate_key,
    sign_now,
    verify_bundle,
    verify_url,
)
from envtrace.evidence.corrections import append_correction
from envtrace.evidence.keys import KeyRing
from envtrace.evidence.published import append_note, format_notes, open_signed, read_notes, split_notes
from envtrace.ledger import Checkpoint, SigningKey, open_note, sign_checkpoint
from envtrace.store import connect, migrate, write_transaction
from envtrace.store.ledger_log import forget_cache

from .builder import Built, free_port
from .tampering import Scene, rebuild_tree

REPO = Path(__file__).resolve().parents[2]


def _engine(built: Built):  # type: ignore[no-untyped-def]
    forget_cache()
    return connect(built.url)


def _add_leaves(built: Built, n: int) -> None:
    engine = _engine(built)
    try:
        with write_transaction(engine) as conn:
            for i in range(n):
                append_correction(conn, leaf_index=i, reason=f"reason {i}", actor="staff", ts=i)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------ keys


def test_the_signing_key_lives_outside_the_database_with_tight_permissions(sqlite_copy: Built) -> None:
    keys = sqlite_copy.options.keys_dir
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    ring = KeyRing(keys)
    info = ring.require_active()
    assert info.name.startswith(f"envtrace-{ring.origin()}-")
    private = keys / f"{info.file_stem}.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((keys / "keyring.json").stat().st_mode) == 0o600
    assert (keys / "public" / f"{info.file_stem}.vkey").read_text().strip() == info.vkey
    secret = ring.signing_key(info).to_raw()
    pem = private.read_bytes()
    db = Path(sqlite_copy.url.removeprefix("sqlite:///")).read_bytes()
    assert secret not in db
    assert secret.hex().encode() not in db
    assert pem not in db
    assert b"PRIVATE KEY" not in db


def test_a_key_file_others_can_read_is_refused(sqlite_copy: Built) -> None:
    ring = KeyRing(sqlite_copy.options.keys_dir)
    info = ring.require_active()
    os.chmod(sqlite_copy.options.keys_dir / f"{info.file_stem}.pem", 0o644)
    with pytest.raises(KeyStoreError, match="readable by others"):
        ring.signing_key(info)


def test_the_first_run_generates_and_seals_the_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = connect(url)
    migrate.upgrade(engine)
    options = EvidenceOptions.for_database(url, tmp_path / "state")
    check_against_published(engine, options)
    ring = KeyRing(options.keys_dir)
    info = ring.require_active()
    with engine.connect() as conn:
        kind, payload = conn.execute(text("SELECT kind, payload FROM ledger_leaf WHERE idx = 0")).one()
    doc = json.loads(bytes(payload))
    assert kind == "ledger_key"
    assert doc["key"] == info.vkey
    assert doc["event"] == "generated"
    assert info.leaf_index == 0
    assert ring.origin() == "envtrace.local/fresh"
    engine.dispose()


def test_the_origin_is_fixed_once_published(sqlite_copy: Built) -> None:
    engine = _engine(sqlite_copy)
    try:
        other = EvidenceOptions.for_database(
            sqlite_copy.url, sqlite_copy.state_dir, ledger_origin="envtrace.js/x"
        )
        with pytest.raises(OriginMismatch):
            sign_now(engine, other)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------ the job


def test_the_job_signs_on_interval_or_size_and_only_when_the_tree_grew(sqlite_copy: Built) -> None:
    engine = _engine(sqlite_copy)
    options = EvidenceOptions.for_database(
        sqlite_copy.url, sqlite_copy.state_dir, checkpoint_interval_s=60, checkpoint_leaves=5
    )
    try:
        last = read_notes(sqlite_copy.checkpoint_file) or []
        ts = open_signed(last[-1], KeyRing(options.keys_dir).published(), origin=None, source="x").timestamp
        assert checkpoint_if_due(engine, options, ts + 3600)["signed"] == 0  # nothing new
        _add_leaves(sqlite_copy, 2)
        assert checkpoint_if_due(engine, options, ts + 10) == {"signed": 0, "pending": 2}
        assert checkpoint_if_due(engine, options, ts + 61)["signed"] == 1  # the interval passed
        _add_leaves(sqlite_copy, 5)
        assert checkpoint_if_due(engine, options, ts + 62)["signed"] == 1  # 5 leaves arrived
        notes = read_notes(sqlite_copy.checkpoint_file) or []
        assert len(notes) == len(last) + 2
        with engine.connect() as conn:
            rows = [r[0] for r in conn.execute(text("SELECT note FROM ledger_checkpoint ORDER BY id"))]
        assert rows == notes
    finally:
        engine.dispose()
    assert verify_url(sqlite_copy.url, sqlite_copy.context()).ok


def test_the_checkpoint_file_is_plain_signed_notes_separated_by_empty_lines(built_sqlite: Built) -> None:
    raw = built_sqlite.checkpoint_file.read_text()
    parts = raw.split("\n\n")
    assert parts[-1] == ""
    assert len(parts) % 2 == 1
    notes = [f"{parts[i]}\n\n{parts[i + 1]}\n" for i in range(0, len(parts) - 1, 2)]
    assert notes == split_notes(raw)
    assert format_notes(notes) == raw
    keys = KeyRing(built_sqlite.options.keys_dir).published()
    sizes = [Checkpoint.from_body(open_note(n, keys).text).size for n in notes]
    assert sizes == sorted(sizes)


def test_the_job_is_registered_for_the_worker() -> None:
    from envtrace.cli.worker import JOB_FACTORIES, collect_jobs

    assert ("envtrace.evidence.jobs", "jobs") in JOB_FACTORIES
    names = [job.name for job in collect_jobs(EvidenceOptions.for_database("sqlite:///x.db"))]
    assert "checkpoint" in names


def test_a_crash_between_publishing_and_committing_is_repaired(sqlite_copy: Built) -> None:
    _add_leaves(sqlite_copy, 1)
    engine = _engine(sqlite_copy)
    try:
        ring = KeyRing(sqlite_copy.options.keys_dir)
        info = ring.require_active()
        with engine.connect() as conn:
            size, root = conn.execute(text("SELECT size, root FROM ledger_head")).one()
        last = (read_notes(sqlite_copy.checkpoint_file) or [])[-1]
        origin = Checkpoint.from_body(last.split("\n\n")[0] + "\n").origin
        note = sign_checkpoint(
            Checkpoint(origin, size, bytes(root), 2_000_000_000), ring.signing_key(info), info.name
        )
        append_note(sqlite_copy.checkpoint_file, note)  # published, then the process died
        assert "checkpoint-unrecorded" in verify_url(sqlite_copy.url, sqlite_copy.context()).counts
        check_against_published(engine, sqlite_copy.options)
        with engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM ledger_checkpoint WHERE note = :n"), {"n": note}
                ).scalar()
                == 1
            )
    finally:
        engine.dispose()
    assert verify_url(sqlite_copy.url, sqlite_copy.context()).ok


# ------------------------------------------------------------------------------------ rotation


def test_rotation_keeps_old_checkpoints_and_bundles_verifiable(sqlite_copy: Built, tmp_path: Path) -> None:
    engine = _engine(sqlite_copy)
    options = sqlite_copy.options
    try:
        with engine.connect() as conn:
            fid = int(conn.execute(text("SELECT min(id) FROM raw_frame WHERE status = 'accepted'")).scalar())
        before = export_bundle(engine, options, frame_id=fid)
        old_key = KeyRing(options.keys_dir).require_active()
        old, new, result = rotate_key(engine, options)
        assert old is not None
        assert old.name == old_key.name
        assert new.name != old.name
        ring = KeyRing(options.keys_dir)
        assert ring.require_active().name == new.name
        assert not (options.keys_dir / f"{old.file_stem}.pem").exists()
        assert (options.keys_dir / "retired" / f"{old.file_stem}.pem").exists()
        assert {k.to_vkey() for k in ring.published()} >= {old.vkey, new.vkey}
        transition = result.checkpoint
        assert transition is not None
        assert set(transition.signers) == {old.name, new.name}
        # the old key alone still opens the transition checkpoint and everything before it
        verify_bundle(before, pinned=[old.verifying_key()])
        open_signed(transition.note, [old.verifying_key()], origin=None, source="transition")
        _add_leaves(sqlite_copy, 1)
        after = sign_now(engine, options).checkpoint
        assert after is not None
        assert after.signers == (new.name,)
        bundle = export_bundle(engine, options, frame_id=fid)
        verify_bundle(bundle, pinned=[new.verifying_key()])
        with engine.connect() as conn:
            sealed = [
                json.loads(bytes(p))
                for (p,) in conn.execute(text("SELECT payload FROM ledger_leaf WHERE kind = 'ledger_key'"))
            ]
        rotated = [d for d in sealed if d["event"] == "rotated"]
        assert rotated
        assert rotated[-1]["key"] == new.vkey
        assert rotated[-1]["previous"] == old.vkey
    finally:
        engine.dispose()
    report = verify_url(sqlite_copy.url, sqlite_copy.context())
    assert report.ok, report.lines()
    assert not report.counts.get("key-unpublished"), report.lines()


# ------------------------------------------------------------------------------------ start-up refusal


def _fork(built: Built) -> None:
    """Rewrite a sealed reading and its leaf, and recompute the whole tree consistently."""
    import random

    engine = _engine(built)
    try:
        with engine.connect() as conn, conn.begin():
            from .tampering import TAMPERS

            TAMPERS["fork_reading"](Scene(conn, random.Random(5), built, Path("/nonexistent")))
    finally:
        engine.dispose()


def test_check_refuses_a_forked_tree(sqlite_copy: Built) -> None:
    _fork(sqlite_copy)
    engine = _engine(sqlite_copy)
    try:
        with pytest.raises(TreeForked) as caught:
            check_against_published(engine, sqlite_copy.options)
        error = caught.value
        assert error.checkpoint_size == error.size
        assert error.checkpoint_root != error.root
        assert str(error.checkpoint_size) in str(error)
        assert error.checkpoint_root.hex() in str(error)
        # nothing is signed on top of a fork either
        with pytest.raises(TreeForked):
            sign_now(engine, sqlite_copy.options)
    finally:
        engine.dispose()


def test_check_refuses_a_truncated_tree(sqlite_copy: Built) -> None:
    import random

    engine = _engine(sqlite_copy)
    try:
        with engine.connect() as conn, conn.begin():
            scene = Scene(conn, random.Random(1), sqlite_copy, Path("/nonexistent"))
            scene.run("DELETE FROM ledger_leaf WHERE idx >= (SELECT max(idx) - 3 FROM ledger_leaf)")
            rebuild_tree(scene)
        with pytest.raises(TreeTruncated) as caught:
            check_against_published(engine, sqlite_copy.options)
        assert caught.value.size == caught.value.checkpoint_size - 4
    finally:
        engine.dispose()


def test_check_refuses_a_replaced_or_missing_checkpoint_file(sqlite_copy: Built) -> None:
    engine = _engine(sqlite_copy)
    path = sqlite_copy.checkpoint_file
    notes = read_notes(path) or []
    try:
        path.write_text(format_notes(notes[:-1]))
        with pytest.raises(PublicationMismatch, match="replaced or rolled back"):
            check_against_published(engine, sqlite_copy.options)
        path.unlink()
        with pytest.raises(PublicationMismatch, match="is missing"):
            check_against_published(engine, sqlite_copy.options)
        forged = [
            sign_checkpoint(Checkpoint.from_body(n.split("\n\n")[0] + "\n"), SigningKey.generate(), "x")
            for n in notes
        ]
        path.write_text(format_notes(forged))
        with pytest.raises(UntrustedCheckpoint):
            check_against_published(engine, sqlite_copy.options)
        path.write_text(format_notes(notes))
        check_against_published(engine, sqlite_copy.options)
    finally:
        engine.dispose()


def test_serve_refuses_to_start_on_a_fork(sqlite_copy: Built) -> None:
    _fork(sqlite_copy)
    env = {**os.environ, "ENVTRACE_STATE_DIR": str(sqlite_copy.state_dir)}
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "envtrace", "serve", "--db", sqlite_copy.url, "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 3, done.stderr[-2000:]
    assert "refusing to start" in done.stderr
    assert "does not extend the published checkpoint" in done.stderr
    assert "gateway listening" not in done.stderr


def test_serve_starts_on_an_intact_database(sqlite_copy: Built) -> None:
    env = {**os.environ, "ENVTRACE_STATE_DIR": str(sqlite_copy.state_dir)}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "envtrace", "serve", "--db", sqlite_copy.url, "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        seen = ""
        for line in proc.stderr:
            seen += line
            if "gateway listening" in line:
                break
        assert "extend the published checkpoint" in seen
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_every_finding_code_is_documented() -> None:
    doc = (REPO / "docs" / "evidence.md").read_text(encoding="utf-8")
    missing = [code for code in CATALOGUE if f"`{code}`" not in doc]
    assert not missing, f"docs/evidence.md does not explain {missing}"


def test_an_entry_torn_by_a_power_loss_is_cut_on_start(sqlite_copy: Built) -> None:
    path = sqlite_copy.checkpoint_file
    whole = path.read_bytes()
    last = (read_notes(path) or [])[-1]
    with path.open("ab") as fh:
        fh.write(last.encode()[: len(last) // 2])  # the process died in the middle of a write
    assert "checkpoint-file" in verify_url(sqlite_copy.url, sqlite_copy.context()).counts
    engine = _engine(sqlite_copy)
    try:
        check_against_published(engine, sqlite_copy.options)
    finally:
        engine.dispose()
    assert path.read_bytes() == whole
    assert verify_url(sqlite_copy.url, sqlite_copy.context()).ok
