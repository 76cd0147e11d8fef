"""Read-only queries for the web app and the CLI: published checkpoints, public keys, proofs.

Proposed routes (mounted by ``envtrace.web``)::

    GET /api/v1/ledger/checkpoints            latest_checkpoint + checkpoint_history (?before=ID&limit=N)
    GET /api/v1/ledger/checkpoints.txt        published_file_text: the checkpoint file, for witnesses
    GET /api/v1/ledger/keys                   public_keys (JSON); each key also as text/plain .vkey
    GET /api/v1/ledger/proof/inclusion?leaf=I[&size=N]         inclusion_proof_for
    GET /api/v1/ledger/proof/consistency?from=M&to=N           consistency_proof_for
    GET /api/v1/frames/{id}/evidence          envtrace.evidence.bundle.build_bundle (needs a covering
                                              checkpoint; otherwise 409 until the next one is signed)

Every proof returned here has been verified against the root it names before it is returned, and
names the signed checkpoint (note text) whose (size, root) it proves against, when one exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from envtrace.evidence.errors import RecordNotFound
from envtrace.evidence.keys import KeyRing
from envtrace.evidence.options import EvidenceOptions
from envtrace.evidence.published import read_notes
from envtrace.ledger import (
    LedgerError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_nodes,
    verify_consistency,
    verify_inclusion,
)
from envtrace.store import leaf, node_getter, read_head
from envtrace.store.errors import StoreError
from envtrace.store.ledger_tables import ledger_checkpoint


@dataclass(frozen=True, slots=True)
class PublishedCheckpointRow:
    """One published checkpoint as the table records it (``note`` is the signed text)."""

    id: int
    size: int
    root_hex: str
    ts: int
    key_ids: str
    note: str

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "size": self.size,
            "root": self.root_hex,
            "ts": self.ts,
            "key_ids": self.key_ids,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class PublicKey:
    name: str
    key_id: str
    vkey: str
    pem: str
    created_ts: int | None
    retired_ts: int | None
    active: bool

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "key_id": self.key_id,
            "vkey": self.vkey,
            "pem": self.pem,
            "created_ts": self.created_ts,
            "retired_ts": self.retired_ts,
            "active": self.active,
        }


@dataclass(frozen=True, slots=True)
class InclusionProof:
    leaf_index: int
    leaf_hash_hex: str
    tree_size: int
    root_hex: str
    path_hex: list[str]
    checkpoint_note: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "leaf_index": self.leaf_index,
            "leaf_hash": self.leaf_hash_hex,
            "tree_size": self.tree_size,
            "root": self.root_hex,
            "path": self.path_hex,
            "checkpoint": self.checkpoint_note,
        }


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    size1: int
    root1_hex: str
    size2: int
    root2_hex: str
    path_hex: list[str]

    def as_json(self) -> dict[str, object]:
        return {
            "size1": self.size1,
            "root1": self.root1_hex,
            "size2": self.size2,
            "root2": self.root2_hex,
            "path": self.path_hex,
        }


def _row(r: Sequence[Any]) -> PublishedCheckpointRow:
    return PublishedCheckpointRow(int(r[0]), int(r[1]), bytes(r[2]).hex(), int(r[3]), str(r[4]), str(r[5]))


_COLUMNS = (
    ledger_checkpoint.c.id,
    ledger_checkpoint.c.size,
    ledger_checkpoint.c.root,
    ledger_checkpoint.c.ts,
    ledger_checkpoint.c.key_id,
    ledger_checkpoint.c.note,
)


def latest_checkpoint(conn: Connection) -> PublishedCheckpointRow | None:
    """The newest published checkpoint."""
    row = conn.execute(select(*_COLUMNS).order_by(ledger_checkpoint.c.id.desc()).limit(1)).first()
    return None if row is None else _row(row)


def checkpoint_history(
    conn: Connection, *, before_id: int | None = None, since_size: int = 0, limit: int | None = 50
) -> list[PublishedCheckpointRow]:
    """Published checkpoints, newest first; page with ``before_id``; ``since_size`` drops smaller trees."""
    query = (
        select(*_COLUMNS)
        .where(ledger_checkpoint.c.size >= since_size)
        .order_by(ledger_checkpoint.c.id.desc())
    )
    if before_id is not None:
        query = query.where(ledger_checkpoint.c.id < before_id)
    if limit is not None:
        query = query.limit(limit)
    return [_row(r) for r in conn.execute(query)]


def published_file_text(options: EvidenceOptions) -> str:
    """The published checkpoint file as text (empty when nothing was published)."""
    path = options.checkpoint_file
    return path.read_text(encoding="utf-8") if read_notes(path) else ""


def public_keys(options: EvidenceOptions) -> list[PublicKey]:
    """Every public key in ``keys/public`` (the published ones), with the ring's dates when known."""
    ring = KeyRing(options.keys_dir)
    known = {info.vkey: info for info in ring.entries()}
    active = ring.active()
    out = []
    for key in ring.published():
        info = known.get(key.to_vkey())
        out.append(
            PublicKey(
                name=key.name,
                key_id=key.key_id.hex(),
                vkey=key.to_vkey(),
                pem=key.to_pem().decode("ascii"),
                created_ts=None if info is None else info.created_ts,
                retired_ts=None if info is None else info.retired_ts,
                active=active is not None and active.vkey == key.to_vkey(),
            )
        )
    out.sort(key=lambda k: (k.created_ts or 0, k.name))
    return out


def covering_checkpoint(conn: Connection, leaf_index: int) -> PublishedCheckpointRow | None:
    """The newest published checkpoint whose tree contains leaf ``leaf_index``."""
    row = conn.execute(
        select(*_COLUMNS)
        .where(ledger_checkpoint.c.size > leaf_index)
        .order_by(ledger_checkpoint.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _row(row)


def inclusion_proof_for(conn: Connection, leaf_index: int, size: int | None = None) -> InclusionProof:
    """The proof of leaf ``leaf_index`` in the tree of ``size`` (default: the newest published
    checkpoint covering it, else the current head), verified before it is returned."""
    note = None
    if size is None:
        cp = covering_checkpoint(conn, leaf_index)
        if cp is not None:
            size, root, note = cp.size, bytes.fromhex(cp.root_hex), cp.note
        else:
            head = read_head(conn)
            size, root = head.size, head.root
    else:
        root = None
    try:
        stored = leaf(conn, leaf_index)
        get = node_getter(conn)
        if root is None:
            root = root_from_nodes(size, get)
        path = inclusion_proof(leaf_index, size, get)
        digest = leaf_hash(stored.payload)
        verify_inclusion(digest, leaf_index, size, path, root)
    except (StoreError, LedgerError) as exc:
        raise RecordNotFound(
            f"a valid inclusion proof of leaf {leaf_index} in the tree of size {size}: {exc}"
        ) from exc
    return InclusionProof(leaf_index, digest.hex(), size, root.hex(), [p.hex() for p in path], note)


def consistency_proof_for(conn: Connection, size1: int, size2: int) -> ConsistencyProof:
    """The proof that the tree of ``size2`` extends the tree of ``size1``, verified."""
    try:
        get = node_getter(conn)
        root1 = root_from_nodes(size1, get)
        root2 = root_from_nodes(size2, get)
        path = consistency_proof(size1, size2, get)
        verify_consistency(size1, size2, root1, root2, path)
    except (StoreError, LedgerError) as exc:
        raise RecordNotFound(f"a valid consistency proof from size {size1} to {size2}: {exc}") from exc
    return ConsistencyProof(size1, root1.hex(), size2, root2.hex(), [p.hex() for p in path])
