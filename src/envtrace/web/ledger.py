"""The signed ledger as outsiders check it: checkpoints with their signatures verified against the
published keys, and each one proven consistent with the one before it (RFC 9162 consistency proof,
built from the stored nodes, checked against both published roots).

Used by the public ledger page and ``/api/v1/ledger``; the proofs themselves are
``envtrace.evidence.queries``' (every proof is verified before it is returned).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field
from sqlalchemy import Connection

from envtrace.evidence import EvidenceError, EvidenceOptions
from envtrace.evidence.keys import KeyRing
from envtrace.evidence.published import open_signed
from envtrace.evidence.queries import PublishedCheckpointRow, consistency_proof_for
from envtrace.ledger import VerifyingKey


class CheckpointLink(BaseModel):
    """How a checkpoint relates to the previous one (the next older)."""

    previous_id: int
    previous_size: int
    consistent: bool = Field(
        description="the older tree is a prefix of this one: proof verified, roots match"
    )
    proof_hashes: int | None = Field(description="length of the consistency proof (null: not provable)")
    problem: str | None


class LedgerCheckpoint(BaseModel):
    id: int
    size: int
    root_hex: str
    ts: int
    key_ids: str
    note: str = Field(description="The signed note exactly as published")
    signature_ok: bool = Field(description="signed by one of the published keys (see /api/v1/ledger/keys)")
    signers: list[str]
    previous: CheckpointLink | None = Field(description="null for the oldest checkpoint of the page")


def published_keys(options: EvidenceOptions) -> list[VerifyingKey]:
    try:
        return KeyRing(options.keys_dir).published()
    except EvidenceError:
        return []


def link(conn: Connection, older: PublishedCheckpointRow, newer: PublishedCheckpointRow) -> CheckpointLink:
    """Prove that ``newer`` extends ``older`` from the stored nodes, against both published roots."""
    base = {"previous_id": older.id, "previous_size": older.size}
    if older.size > newer.size:
        return CheckpointLink(**base, consistent=False, proof_hashes=None, problem="the tree shrank")
    if older.size == newer.size:
        same = older.root_hex == newer.root_hex
        return CheckpointLink(
            **base, consistent=same, proof_hashes=0, problem=None if same else "same size, other root: a fork"
        )
    if older.size == 0:
        return CheckpointLink(**base, consistent=True, proof_hashes=0, problem=None)
    try:
        proof = consistency_proof_for(conn, older.size, newer.size)
    except EvidenceError as exc:
        return CheckpointLink(**base, consistent=False, proof_hashes=None, problem=str(exc))
    if proof.root1_hex != older.root_hex or proof.root2_hex != newer.root_hex:
        return CheckpointLink(
            **base,
            consistent=False,
            proof_hashes=len(proof.path_hex),
            problem="the stored tree's roots differ from the published ones",
        )
    return CheckpointLink(**base, consistent=True, proof_hashes=len(proof.path_hex), problem=None)


def checked(
    conn: Connection,
    rows: Sequence[PublishedCheckpointRow],
    keys: Sequence[VerifyingKey],
    older: PublishedCheckpointRow | None = None,
) -> list[LedgerCheckpoint]:
    """``rows`` newest first, each with its signature checked and its link to the next older row
    (``older``: the row after the last one, from the next page)."""
    out = []
    for i, row in enumerate(rows):
        try:
            signers = list(open_signed(row.note, keys, origin=None, source=f"checkpoint {row.id}").signers)
        except EvidenceError:
            signers = []
        prev = rows[i + 1] if i + 1 < len(rows) else older
        out.append(
            LedgerCheckpoint(
                id=row.id,
                size=row.size,
                root_hex=row.root_hex,
                ts=row.ts,
                key_ids=row.key_ids,
                note=row.note,
                signature_ok=bool(signers),
                signers=signers,
                previous=None if prev is None else link(conn, prev, row),
            )
        )
    return out
