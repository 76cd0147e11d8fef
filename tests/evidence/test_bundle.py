"""Evidence bundles: exported from a real database, checked offline by ``envtrace evidence verify``
and by the outsiders' script, and refused after any single flipped bit in the raw frame, the leaf,
a proof or the checkpoint."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from envtrace.evidence import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    BundleInvalid,
    RecordNotFound,
    export_bundle,
    verify_bundle,
)
from envtrace.evidence.corrections import append_correction
from envtrace.evidence.keys import KeyRing
from envtrace.evidence.published import read_notes
from envtrace.ledger import Checkpoint, VerifyingKey, sign_checkpoint
from envtrace.store import connect, write_transaction

from .builder import Built, standalone

TOOL = standalone()


def _valid(bundle: dict[str, Any], **kw: Any) -> list[str]:
    checked = verify_bundle(bundle, **kw)
    ok, lines = TOOL.check(
        bundle,
        [k.to_vkey() for k in kw.get("pinned") or []],
        list(kw.get("witnesses") or []),
    )
    assert ok, lines
    return checked


def _invalid(bundle: dict[str, Any], **kw: Any) -> str:
    with pytest.raises(BundleInvalid) as caught:
        verify_bundle(bundle, **kw)
    ok, lines = TOOL.check(
        bundle, [k.to_vkey() for k in kw.get("pinned") or []], list(kw.get("witnesses") or [])
    )
    assert not ok, "the standalone script accepted a bundle envtrace refused"
    return f"{caught.value.check}: {lines[0]}"


@pytest.mark.parametrize("name", ["plain", "hour", "sm4", "split", "quarantined", "alarm_event"])
def test_exported_bundles_verify_offline(bundles: dict[str, dict[str, Any]], name: str) -> None:
    bundle = bundles[name]
    assert bundle["format"] == BUNDLE_FORMAT
    assert bundle["version"] == BUNDLE_VERSION
    checked = _valid(bundle)
    assert any(c.startswith("inclusion") for c in checked)
    if name in ("plain", "hour", "split"):
        assert bundle["readings"]["records"]
        assert any("equal the raw frame decoded again" in c for c in checked)
    if name == "split":
        assert bundle["parts"], "the other parts of the split packet travel with it"
    if name == "sm4":
        assert any("SM4" in c for c in checked)
    if name == "alarm_event":
        assert bundle["frame"] is None
        assert bundle["leaf"]["kind"] == "alarm_event"


def test_a_bundle_is_plain_json_with_the_documented_fields(bundles: dict[str, dict[str, Any]]) -> None:
    bundle = json.loads(json.dumps(bundles["plain"]))
    assert set(bundle) == {
        "format", "version", "exported_ts", "origin", "leaf", "inclusion", "checkpoint", "keys",
        "consistency", "frame", "parts", "station", "readings",
    }  # fmt: skip
    assert set(bundle["leaf"]) == {"index", "kind", "bytes_b64", "hash"}
    assert bundle["station"]["mn"] == bundle["frame"]["mn"]
    assert bundle["readings"]["columns"][3] == ["value", "min", "max", "cou", "zs_value", "zs_min", "zs_max"]
    assert bundle["consistency"], "proofs to other published checkpoints are included"


def test_a_pinned_key_is_the_only_key_trusted(
    bundles: dict[str, dict[str, Any]], built_sqlite: Built
) -> None:
    real = KeyRing(built_sqlite.options.keys_dir).published()
    _valid(bundles["plain"], pinned=real)
    from envtrace.ledger import SigningKey

    stranger = SigningKey.generate().verifying_key(real[0].name)
    assert "checkpoint" in _invalid(bundles["plain"], pinned=[stranger])


def test_a_bundle_whose_own_keys_were_swapped_fails_against_the_pinned_key(
    bundles: dict[str, dict[str, Any]], built_sqlite: Built
) -> None:
    from envtrace.ledger import SigningKey

    forged = copy.deepcopy(bundles["plain"])
    key = SigningKey.generate()
    name = forged["checkpoint"].split("\n\n")[1].split(" ")[1]
    cp = Checkpoint.from_body(forged["checkpoint"].split("\n\n")[0] + "\n")
    forged["checkpoint"] = sign_checkpoint(cp, key, name)
    forged["keys"] = [key.verifying_key(name).to_vkey()]
    forged["consistency"] = []
    _valid(forged)  # self-consistent ...
    real = KeyRing(built_sqlite.options.keys_dir).published()
    assert "checkpoint" in _invalid(forged, pinned=real)  # ... but not signed by the department's key


def test_a_witness_copy_agrees_or_reveals_a_fork(
    bundles: dict[str, dict[str, Any]], built_sqlite: Built, tmp_path: Path
) -> None:
    notes = read_notes(built_sqlite.checkpoint_file) or []
    assert len(notes) >= 2
    _valid(bundles["plain"], witnesses=[notes[0], notes[-1]])  # the first of the day and the newest
    copy_of_file = "".join(f"{n}\n" for n in notes)
    engine = connect(built_sqlite.url)
    try:
        fid = bundles["plain"]["frame"]["id"]
        with_all = export_bundle(engine, built_sqlite.options, frame_id=fid, witnesses=[copy_of_file])
    finally:
        engine.dispose()
    _valid(with_all, witnesses=[copy_of_file])
    # the department signs another root for the size a witness holds: a fork the bundle exposes
    ring = KeyRing(built_sqlite.options.keys_dir)
    info = ring.require_active()
    first = Checkpoint.from_body(notes[0].split("\n\n")[0] + "\n")
    fork = sign_checkpoint(
        Checkpoint(first.origin, first.size, bytes(32), first.timestamp), ring.signing_key(info), info.name
    )
    assert "witness" in _invalid(bundles["plain"], witnesses=[fork])


def test_a_witness_checkpoint_newer_than_the_bundle_needs_export_with_witness(
    sqlite_copy: Built,
) -> None:
    engine = connect(sqlite_copy.url)
    try:
        from envtrace.evidence import sign_now

        with engine.connect() as conn:
            fid = int(conn.execute(text("SELECT min(id) FROM raw_frame WHERE status = 'accepted'")).scalar())
        old = export_bundle(engine, sqlite_copy.options, frame_id=fid)
        with write_transaction(engine) as conn:
            append_correction(conn, leaf_index=1, reason="test", actor="staff", ts=1)
        newer = sign_now(engine, sqlite_copy.options).checkpoint
        assert newer is not None
        assert "witness" in _invalid(old, witnesses=[newer.note])
        again = export_bundle(engine, sqlite_copy.options, frame_id=fid, witnesses=[newer.note])
        _valid(again, witnesses=[newer.note])
    finally:
        engine.dispose()


def test_export_signs_a_checkpoint_first_when_none_covers_the_record(sqlite_copy: Built) -> None:
    engine = connect(sqlite_copy.url)
    try:
        with write_transaction(engine) as conn:
            idx = append_correction(conn, leaf_index=2, reason="late", actor="staff", ts=2)
        before = len(read_notes(sqlite_copy.checkpoint_file) or [])
        bundle = export_bundle(engine, sqlite_copy.options, leaf_index=idx)
        assert len(read_notes(sqlite_copy.checkpoint_file) or []) == before + 1
        assert bundle["inclusion"]["tree_size"] == idx + 1
        _valid(bundle)
    finally:
        engine.dispose()


def test_export_refuses_a_frame_whose_readings_were_edited(sqlite_copy: Built) -> None:
    engine = connect(sqlite_copy.url)
    try:
        with write_transaction(engine) as conn:
            fid = int(conn.execute(text("SELECT min(frame_id) FROM reading")).scalar())
            conn.execute(text("UPDATE reading SET value = value + 1 WHERE frame_id = :f"), {"f": fid})
        with pytest.raises(RecordNotFound, match="differ from the sealed digest"):
            export_bundle(engine, sqlite_copy.options, frame_id=fid)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------ bit flips


def _flip_b64(text_: str, bit: int) -> str:
    data = bytearray(base64.b64decode(text_))
    bit %= len(data) * 8
    data[bit // 8] ^= 1 << (bit % 8)
    return base64.b64encode(bytes(data)).decode()


def _flip(bundle: dict[str, Any], target: str, n: int, bit: int) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    if target == "raw":
        out["frame"]["raw_b64"] = _flip_b64(out["frame"]["raw_b64"], bit)
    elif target == "leaf":
        out["leaf"]["bytes_b64"] = _flip_b64(out["leaf"]["bytes_b64"], bit)
    elif target == "proof":
        path = out["inclusion"]["path"]
        i = n % len(path)
        data = bytearray(bytes.fromhex(path[i]))
        data[(bit // 8) % 32] ^= 1 << (bit % 8)
        path[i] = data.hex()
    elif target == "consistency":
        entry = out["consistency"][n % len(out["consistency"])]
        i = n % len(entry["proof"])
        data = bytearray(bytes.fromhex(entry["proof"][i]))
        data[(bit // 8) % 32] ^= 1 << (bit % 8)
        entry["proof"][i] = data.hex()
    else:
        note = out["checkpoint"]
        i = n % len(note)
        out["checkpoint"] = note[:i] + chr(ord(note[i]) ^ (1 << (bit % 7))) + note[i + 1 :]
    return out


@pytest.mark.property
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["plain", "hour", "sm4", "split"]),
    target=st.sampled_from(["raw", "leaf", "proof", "consistency", "checkpoint"]),
    n=st.integers(0, 10_000),
    bit=st.integers(0, 100_000),
)
def test_any_single_flipped_bit_is_refused(
    bundles: dict[str, dict[str, Any]], name: str, target: str, n: int, bit: int
) -> None:
    bundle = bundles[name]
    if target == "proof" and not bundle["inclusion"]["path"]:
        return
    _invalid(_flip(bundle, target, n, bit))


def test_a_malformed_bundle_is_invalid_not_a_crash(bundles: dict[str, dict[str, Any]]) -> None:
    for mutate in (
        lambda b: b.pop("leaf"),
        lambda b: b.__setitem__("version", 2),
        lambda b: b["inclusion"].__setitem__("path", "nope"),
        lambda b: b["frame"].__setitem__("raw_b64", "!!"),
        lambda b: b["readings"]["records"].pop(),
        lambda b: b.__setitem__("keys", ["not a key"]),
        lambda b: b.__setitem__("parts", [{"leaf": 1}]),
    ):
        broken = copy.deepcopy(bundles["plain"])
        mutate(broken)
        _invalid(broken)


def test_verifying_keys_round_trip_as_vkey_lines(built_sqlite: Built) -> None:
    for key in KeyRing(built_sqlite.options.keys_dir).published():
        assert VerifyingKey.from_vkey(key.to_vkey()) == key
