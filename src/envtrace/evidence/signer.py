"""Signing and publishing checkpoints; generating and rotating the signing key; the start-up gate.

One path signs every checkpoint (the periodic job, ``envtrace ledger sign``, an evidence export that
needs one, a key rotation): ``sign_now``. Under the publication lock it resolves the origin, makes
sure a signing key exists (sealing it in the ledger as a ``ledger_key`` leaf), reconciles the file
with the table, proves that the current tree extends the newest published checkpoint, signs the
current (size, root), records it in ``ledger_checkpoint`` and appends it to the checkpoint file
(fsync) before the transaction commits. A tree that does not extend what was published is never
signed: ``PublicationError``.

``ledger_key`` leaves: ``{"event": "generated" | "rotated", "name", "key_id", "key": <vkey>,
"previous": <vkey> | null, "origin", "ts"}``. A rotation seals the new key, signs a checkpoint with
both keys (so a verifier trusting either accepts it, and the old key vouches for the new one), and
then retires the old private key; its public key stays published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from envtrace.evidence.keys import KeyInfo, KeyRing
from envtrace.evidence.options import EvidenceOptions
from envtrace.evidence.publication import (
    check_extends,
    publication_lock,
    published_tail,
    reconcile,
    resolve_origin,
)
from envtrace.evidence.published import SignedCheckpoint, append_note, open_signed
from envtrace.ledger import Checkpoint, add_signature, sign_checkpoint
from envtrace.store import add_checkpoint, append, latest_checkpoint, read_head, write_transaction

log = logging.getLogger("envtrace.evidence")

KEY_KIND = "ledger_key"


@dataclass(frozen=True, slots=True)
class SignResult:
    """The newest published checkpoint after a signing attempt, and whether it is new."""

    checkpoint: SignedCheckpoint | None
    created: bool
    table_id: int | None = None


def _now(now: int | None) -> int:
    return int(time.time()) if now is None else now


def _origin(options: EvidenceOptions, ring: KeyRing) -> str:
    return resolve_origin(options, ring, published_tail(options.checkpoint_file, 1) or [])


def _seal_key(
    engine: Engine, ring: KeyRing, info: KeyInfo, origin: str, previous: KeyInfo | None, now: int
) -> None:
    payload: Mapping[str, object] = {
        "event": "generated" if previous is None else "rotated",
        "name": info.name,
        "key_id": info.key_id,
        "key": info.vkey,
        "previous": None if previous is None else previous.vkey,
        "origin": origin,
        "ts": now,
    }
    with write_transaction(engine) as conn:
        idx = append(conn, KEY_KIND, payload)
    ring.set_leaf(info.name, idx)


def _ensure_key(engine: Engine, ring: KeyRing, origin: str, now: int) -> KeyInfo:
    info = ring.active()
    if info is None:
        info = ring.create(origin, now)
        log.info("generated the checkpoint signing key %s (id %s)", info.name, info.key_id)
    if info.leaf_index is None:
        _seal_key(engine, ring, info, origin, None, now)
        info = ring.require_active()
    return info


def ensure_key(engine: Engine, options: EvidenceOptions, *, now: int | None = None) -> KeyInfo:
    """The active signing key, generated (and sealed in the ledger) on first use."""
    with publication_lock(options):
        ring = KeyRing(options.keys_dir)
        return _ensure_key(engine, ring, _origin(options, ring), _now(now))


def _sign_locked(
    engine: Engine,
    options: EvidenceOptions,
    ring: KeyRing,
    *,
    now: int,
    cosigners: Sequence[KeyInfo] = (),
    force: bool = False,
) -> SignResult:
    origin = _origin(options, ring)
    key = _ensure_key(engine, ring, origin, now)
    verifiers = ring.published()
    tip = reconcile(engine, options, verifiers, origin)
    with engine.connect() as conn, conn.begin():
        head = check_extends(conn, tip)
    if not force and (head.size == 0 or (tip is not None and head.size == tip.size)):
        return SignResult(tip, created=False)
    if tip is not None and now < tip.timestamp:
        now = tip.timestamp  # a clock that stepped back must not make time run backwards in the log
    note = sign_checkpoint(Checkpoint(origin, head.size, head.root, now), ring.signing_key(key), key.name)
    for other in cosigners:
        note = add_signature(note, ring.signing_key(other), other.name)
    signed = open_signed(note, verifiers, origin=origin, source="the new checkpoint")
    key_ids = ",".join(k.key_id for k in (key, *cosigners))[:64]
    with write_transaction(engine) as conn:
        table_id = add_checkpoint(conn, size=head.size, root=head.root, ts=now, note=note, key_id=key_ids)
        append_note(options.checkpoint_file, note)
    log.info("signed checkpoint %d of %s (root %s)", head.size, origin, head.root.hex()[:16])
    return SignResult(signed, created=True, table_id=table_id)


def sign_now(
    engine: Engine, options: EvidenceOptions, *, now: int | None = None, force: bool = False
) -> SignResult:
    """Sign and publish a checkpoint of the current tree (unless it is already published)."""
    with publication_lock(options):
        return _sign_locked(engine, options, KeyRing(options.keys_dir), now=_now(now), force=force)


def rotate_key(
    engine: Engine, options: EvidenceOptions, *, now: int | None = None
) -> tuple[KeyInfo | None, KeyInfo, SignResult]:
    """Replace the signing key: seal the new key, co-sign a checkpoint with both, retire the old."""
    when = _now(now)
    with publication_lock(options):
        ring = KeyRing(options.keys_dir)
        origin = _origin(options, ring)
        old = ring.active()
        if old is None:
            new = _ensure_key(engine, ring, origin, when)
            return None, new, _sign_locked(engine, options, ring, now=when, force=True)
        if old.leaf_index is None:
            _seal_key(engine, ring, old, origin, None, when)
            old = ring.require_active()
        new = ring.create(origin, when)
        _seal_key(engine, ring, new, origin, old, when)
        new = ring.require_active()
        result = _sign_locked(engine, options, ring, now=when, cosigners=[old], force=True)
        ring.retire(old.name, when)
        log.info("rotated the checkpoint signing key: %s -> %s", old.name, new.name)
        return old, new, result


def checkpoint_if_due(engine: Engine, options: EvidenceOptions, now: int | None = None) -> dict[str, int]:
    """The job's work: sign when ``checkpoint_interval_s`` passed or ``checkpoint_leaves`` leaves
    arrived since the last checkpoint (whichever first) and the tree grew."""
    when = _now(now)
    with engine.connect() as conn:
        head = read_head(conn)
        last = latest_checkpoint(conn)
    pending = head.size - (last.size if last is not None else 0)
    due = pending > 0 and (
        last is None
        or when - last.ts >= options.checkpoint_interval_s
        or pending >= options.checkpoint_leaves
    )
    if not due:
        return {"signed": 0, "pending": max(pending, 0)}
    result = sign_now(engine, options, now=when)
    size = result.checkpoint.size if result.checkpoint is not None else 0
    return {
        "signed": int(result.created),
        "size": size,
        "pending": head.size - size if head.size > size else 0,
    }


def check_against_published(engine: Engine, settings: object) -> None:
    """The start-up gate: raise ``PublicationError`` unless the tree extends the last published
    checkpoint (file and table); then make sure a signing key exists (generated on first run)."""
    options = EvidenceOptions.from_settings(settings)
    with publication_lock(options):
        ring = KeyRing(options.keys_dir)
        origin = _origin(options, ring)
        tip = reconcile(engine, options, ring.published(), origin)
        with engine.connect() as conn, conn.begin():
            head = check_extends(conn, tip)
        info = _ensure_key(engine, ring, origin, _now(None))
    if tip is None:
        log.info("ledger %s: %d leaves, nothing published yet; signing key %s", origin, head.size, info.name)
    else:
        log.info(
            "ledger %s: %d leaves extend the published checkpoint of size %d; signing key %s",
            origin,
            head.size,
            tip.size,
            info.name,
        )
