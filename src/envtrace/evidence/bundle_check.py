"""Checking an evidence bundle offline (``envtrace evidence verify``): see ``bundle`` for the schema.

Checks, each raising ``BundleInvalid`` naming it: the structure and version; the checkpoint's
signature (the bundle's keys, or only the ``pinned`` ones) and origin; the leaf's hash and its
inclusion proof; the raw bytes against the leaf's SHA-256 and length; the frame's metadata against
the leaf; the readings against the leaf's digest and against the raw frame decoded again (plain
frames, split packets with their parts); every consistency proof signed by a trusted key; each
witness checkpoint (same root at its size, through a consistency proof of the bundle). Base64 and
hex must be canonical, so that no two spellings of one value exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from envtrace.evidence.derive import decode_raw, derive
from envtrace.evidence.errors import BundleInvalid, EvidenceError
from envtrace.evidence.published import SignedCheckpoint, open_signed, witness_notes
from envtrace.ledger import (
    LedgerError,
    VerifyingKey,
    leaf_hash,
    parse_note,
    verify_consistency,
    verify_inclusion,
)
from envtrace.store.series import readings_digest

BUNDLE_FORMAT = "envtrace-evidence-bundle"
BUNDLE_VERSION = 1
FRAME_FIELDS = (
    "received_us", "peer", "station_id", "mn", "cn", "qn", "pnum", "pno", "data_ts", "status", "edition",
    "wire",
)  # fmt: skip


def _get(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str = "bundle") -> Any:
    value = doc.get(key) if isinstance(doc, Mapping) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BundleInvalid(
            "structure", f"{where}.{key} is missing or not a {getattr(kind, '__name__', kind)}"
        )
    return value


def _unb64(text_: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text_, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BundleInvalid("structure", f"{what} is not base64: {exc}") from exc
    if base64.b64encode(data).decode("ascii") != text_:
        raise BundleInvalid("structure", f"{what} is not canonical base64")
    return data


def _hashes(values: object, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise BundleInvalid("structure", f"{what} is not a list")
    out = []
    for v in values:
        try:
            h = bytes.fromhex(v) if isinstance(v, str) else b""
        except ValueError:
            h = b""
        if len(h) != 32 or h.hex() != v:
            raise BundleInvalid("structure", f"{what} holds {v!r}, not a 32-byte lowercase hex hash")
        out.append(h)
    return out


def _check_leaf(
    part: Mapping[str, Any], inclusion: Mapping[str, Any], cp: SignedCheckpoint, what: str
) -> dict[str, Any]:
    data = _unb64(_get(part, "bytes_b64", str, what), f"{what}.bytes_b64")
    index = _get(part, "index", int, what)
    digest = leaf_hash(data)
    if digest.hex() != part.get("hash"):
        raise BundleInvalid("leaf", f"{what}: the leaf bytes hash to {digest.hex()}, not {part.get('hash')}")
    if _get(inclusion, "tree_size", int, f"{what} inclusion") != cp.size:
        raise BundleInvalid(
            "inclusion",
            f"{what}: the proof is for size {inclusion.get('tree_size')}, the checkpoint has {cp.size}",
        )
    try:
        verify_inclusion(
            digest, index, cp.size, _hashes(inclusion.get("path"), f"{what} inclusion.path"), cp.root
        )
    except LedgerError as exc:
        raise BundleInvalid(
            "inclusion", f"{what}: leaf {index} is not in the signed tree of size {cp.size}: {exc}"
        ) from exc
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise BundleInvalid("leaf", f"{what}: the leaf is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("kind") != part.get("kind"):
        raise BundleInvalid("leaf", f"{what}: the leaf is not a {part.get('kind')!r} record")
    return doc


def _check_frame(frame: Mapping[str, Any], doc: Mapping[str, Any], what: str) -> bytes:
    raw = _unb64(_get(frame, "raw_b64", str, what), f"{what}.raw_b64")
    if hashlib.sha256(raw).hexdigest() != doc.get("raw_sha256") or len(raw) != doc.get("raw_len"):
        raise BundleInvalid(
            "raw frame", f"{what}: the raw bytes are not the {doc.get('raw_len')} bytes the leaf sealed"
        )
    if frame.get("id") != doc.get("frame_id"):
        raise BundleInvalid(
            "raw frame", f"{what}: frame id {frame.get('id')} but the leaf sealed {doc.get('frame_id')}"
        )
    for name in FRAME_FIELDS:
        if frame.get(name) != doc.get(name):
            raise BundleInvalid(
                "raw frame", f"{what}.{name} is {frame.get(name)!r} but the leaf sealed {doc.get(name)!r}"
            )
    return raw


def _check_readings(bundle: Mapping[str, Any], doc: Mapping[str, Any], raw: bytes, notes: list[str]) -> None:
    readings = bundle.get("readings")
    records = [] if readings is None else _get(readings, "records", list, "bundle.readings")
    digest = readings_digest(records) if records else None
    if digest != doc.get("readings_sha256") or len(records) != (doc.get("readings") or 0):
        raise BundleInvalid(
            "readings", f"the readings give digest {digest}, the leaf sealed {doc.get('readings_sha256')}"
        )
    if not records:
        return
    if doc.get("wire") != "plain":
        notes.append(
            "readings: bound to the sealed digest (the raw frame is SM4-encrypted; "
            "the key is not in a bundle)"
        )
        return
    items: dict[str, dict[str, str]] = {}
    frames = sorted(
        [(p["frame"], _unb64(p["frame"]["raw_b64"], "part")) for p in bundle.get("parts") or []]
        + [(bundle["frame"], raw)],
        key=lambda f: f[0].get("pno") or 0,
    )
    decoded = None
    for _, data in frames:
        decoded = decode_raw(data, None)
        if decoded.packet is None:
            raise BundleInvalid("readings", f"the raw frame does not decode: {decoded.error}")
        for code, fields in decoded.packet.items.items():
            items.setdefault(code, {}).update(fields)
    final = decode_raw(raw, None)
    derived = derive(final, doc.get("data_ts"), items if len(frames) > 1 else None)
    if derived.records is None:
        raise BundleInvalid("readings", f"the raw frame does not decode: {derived.reason}")
    mine = json.dumps(sorted(derived.records, key=lambda r: (str(r[0]), str(r[1]), str(r[2]))))
    theirs = json.dumps(sorted(records, key=lambda r: (str(r[0]), str(r[1]), str(r[2]))))
    if mine != theirs:
        raise BundleInvalid("readings", "the readings are not what the raw frame says")
    notes.append(f"readings: {len(records)} readings equal the raw frame decoded again and the sealed digest")


def verify_bundle(
    bundle: Mapping[str, Any],
    *,
    pinned: Sequence[VerifyingKey] | None = None,
    witnesses: Sequence[str] = (),
) -> list[str]:
    """Check a bundle (see the module docstring); returns what was checked, raises ``BundleInvalid``."""
    try:
        return _verify(bundle, pinned, witnesses)
    except BundleInvalid:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise BundleInvalid("structure", f"the bundle is malformed: {exc!r}") from exc


def _verify(
    bundle: Mapping[str, Any], pinned: Sequence[VerifyingKey] | None, witnesses: Sequence[str]
) -> list[str]:
    if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE_FORMAT:
        raise BundleInvalid("structure", f"not an {BUNDLE_FORMAT}")
    if bundle.get("version") != BUNDLE_VERSION:
        raise BundleInvalid(
            "structure", f"version {bundle.get('version')!r}; this verifier reads version {BUNDLE_VERSION}"
        )
    notes: list[str] = []
    origin = _get(bundle, "origin", str)
    try:
        keys = list(pinned) if pinned else [VerifyingKey.from_vkey(k) for k in _get(bundle, "keys", list)]
    except (LedgerError, TypeError) as exc:
        raise BundleInvalid("keys", f"a public key of the bundle is not a verifier key: {exc}") from exc
    try:
        cp = open_signed(
            _get(bundle, "checkpoint", str), keys, origin=origin, source="the bundle's checkpoint"
        )
    except EvidenceError as exc:
        raise BundleInvalid("checkpoint", str(exc)) from exc
    notes.append(
        f"checkpoint: size {cp.size} of {origin}, signed by {', '.join(cp.signers)}"
        + (" (pinned key)" if pinned else "")
    )
    doc = _check_leaf(_get(bundle, "leaf", dict), _get(bundle, "inclusion", dict), cp, "leaf")
    notes.append(f"inclusion: leaf {bundle['leaf']['index']} is in the signed tree")
    if doc.get("kind") == "raw_frame":
        frame = _get(bundle, "frame", dict)
        raw = _check_frame(frame, doc, "frame")
        station = bundle.get("station")
        if station is not None and (
            station.get("id") != doc.get("station_id") or station.get("mn") != doc.get("mn")
        ):
            raise BundleInvalid("station", "the station is not the one the leaf sealed")
        for n, part in enumerate(bundle.get("parts") or []):
            pdoc = _check_leaf(_get(part, "leaf", dict), _get(part, "inclusion", dict), cp, f"parts[{n}]")
            _check_frame(_get(part, "frame", dict), pdoc, f"parts[{n}].frame")
        notes.append(f"raw frame: {len(raw)} bytes, SHA-256 as sealed")
        _check_readings(bundle, doc, raw, notes)
    _check_consistency(bundle, cp, keys, origin, witnesses, notes)
    return notes


def _signed_by_any(note: str, keys: Sequence[VerifyingKey]) -> bool:
    """Whether a signature line of ``note`` names one of ``keys`` (valid or not: opening tells)."""
    try:
        _, signatures = parse_note(note)
    except LedgerError as exc:
        raise BundleInvalid("consistency", f"a checkpoint is not a signed note: {exc}") from exc
    wanted = {(k.name, k.key_id) for k in keys}
    return any((s.key_name, s.key_id) in wanted for s in signatures)


def _check_consistency(
    bundle: Mapping[str, Any],
    cp: SignedCheckpoint,
    keys: Sequence[VerifyingKey],
    origin: str,
    witnesses: Sequence[str],
    notes: list[str],
) -> None:
    proven: dict[int, bytes] = {cp.size: cp.root}
    skipped = 0
    for n, entry in enumerate(_get(bundle, "consistency", list)):
        note = _get(entry, "checkpoint", str, f"consistency[{n}]")
        if not _signed_by_any(note, keys):
            skipped += 1  # signed only by keys not trusted here (a pinned key after a rotation)
            continue
        try:
            other = open_signed(note, keys, origin=origin, source=f"consistency[{n}]")
        except EvidenceError as exc:
            raise BundleInvalid("consistency", str(exc)) from exc
        proof = _hashes(entry.get("proof"), f"consistency[{n}].proof")
        (s1, r1), (s2, r2) = sorted([(other.size, other.root), (cp.size, cp.root)])
        try:
            verify_consistency(s1, s2, r1, r2, proof)
        except LedgerError as exc:
            raise BundleInvalid(
                "consistency", f"checkpoint of size {other.size} is not consistent with size {cp.size}: {exc}"
            ) from exc
        proven[other.size] = other.root
    if len(proven) > 1:
        notes.append(f"consistency: {len(proven) - 1} other published checkpoints are consistent with it")
    if skipped:
        notes.append(f"consistency: {skipped} checkpoints signed only by keys not trusted here were not used")
    for text_ in witnesses:
        for note in witness_notes(text_):
            try:
                w = open_signed(note, keys, origin=origin, source="the witness checkpoint")
            except EvidenceError as exc:
                raise BundleInvalid("witness", str(exc)) from exc
            if w.size not in proven:
                raise BundleInvalid(
                    "witness",
                    f"the bundle holds no consistency proof for the witness's size {w.size}; "
                    "export with --witness",
                )
            if proven[w.size] != w.root:
                raise BundleInvalid(
                    "witness",
                    f"the witness holds root {w.root.hex()} for size {w.size}, the bundle proves "
                    f"{proven[w.size].hex()}: the log forked",
                )
            notes.append(f"witness: the witness's checkpoint of size {w.size} agrees with the bundle")
