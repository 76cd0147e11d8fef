"""envtrace.ledger: the RFC 9162 transparency log, pure (no I/O, no storage, no clock).

Modules, leaf to top: `errors` · `hashing` (leaf and node hashes) · `tree` (node ids, compact
range, roots) · `proof` (which nodes, build, verify) · `signing` (Ed25519 keys) · `note` (C2SP
signed notes) · `checkpoint` (the signed tree head). Import from here, not from the modules.
"""

from envtrace.ledger.checkpoint import MAX_TIMESTAMP, Checkpoint, open_checkpoint, sign_checkpoint
from envtrace.ledger.errors import (
    BadNode,
    BadSize,
    CheckpointError,
    IndexOutOfRange,
    InvalidKey,
    InvalidProof,
    LedgerError,
    MalformedCheckpoint,
    ProofError,
    RootMismatch,
    SignatureError,
    WrongOrigin,
)
from envtrace.ledger.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from envtrace.ledger.note import (
    MAX_SIGNATURES,
    NoteSignature,
    OpenedNote,
    add_signature,
    open_note,
    parse_note,
    sign_note,
)
from envtrace.ledger.proof import (
    assemble_consistency_proof,
    assemble_inclusion_proof,
    consistency_proof,
    consistency_proof_ids,
    inclusion_proof,
    inclusion_proof_ids,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)
from envtrace.ledger.signing import SigningKey, VerifyingKey, note_key_id
from envtrace.ledger.tree import MAX_SIZE, CompactRange, GetNode, Node, NodeId, frontier_ids, root_from_nodes

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_SIGNATURES",
    "MAX_SIZE",
    "MAX_TIMESTAMP",
    "BadNode",
    "BadSize",
    "Checkpoint",
    "CheckpointError",
    "CompactRange",
    "GetNode",
    "IndexOutOfRange",
    "InvalidKey",
    "InvalidProof",
    "LedgerError",
    "MalformedCheckpoint",
    "Node",
    "NodeId",
    "NoteSignature",
    "OpenedNote",
    "ProofError",
    "RootMismatch",
    "SignatureError",
    "SigningKey",
    "VerifyingKey",
    "WrongOrigin",
    "add_signature",
    "assemble_consistency_proof",
    "assemble_inclusion_proof",
    "consistency_proof",
    "consistency_proof_ids",
    "frontier_ids",
    "inclusion_proof",
    "inclusion_proof_ids",
    "leaf_hash",
    "node_hash",
    "note_key_id",
    "open_checkpoint",
    "open_note",
    "parse_note",
    "root_from_inclusion",
    "root_from_nodes",
    "sign_checkpoint",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
]
