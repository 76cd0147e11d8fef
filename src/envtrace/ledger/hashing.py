"""Leaf and node hashing of the RFC 9162 Merkle tree (§2.1.1), SHA-256 with domain separation.

A leaf hash is SHA-256(0x00 || data) and an interior node hash is SHA-256(0x01 || left || right),
so that no leaf can be passed off as an interior node (second-preimage resistance). The root of
the empty tree is SHA-256 of the empty string.

>>> leaf_hash(b"").hex()
'6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'
>>> node_hash(leaf_hash(b""), leaf_hash(b"\\x00")).hex()
'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'
"""

from __future__ import annotations

import hashlib

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "leaf_hash", "node_hash"]

HASH_SIZE = 32
"""Length in bytes of every hash in the tree."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""Root hash of the tree with no leaves: SHA-256 of the empty string (RFC 9162 §2.1.1)."""

# Hash states that have absorbed the one-byte prefix; they are copied, never updated.
_LEAF_PREFIX = hashlib.sha256(b"\x00")
_NODE_PREFIX = hashlib.sha256(b"\x01")


def leaf_hash(data: bytes) -> bytes:
    """Return SHA-256(0x00 || data), the hash of a leaf holding `data`."""
    h = _LEAF_PREFIX.copy()
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the hash of an interior node.

    Both arguments are 32-byte hashes; this hot-path function does not check their length (the
    proof verifiers and `CompactRange.from_frontier` check every hash that comes from outside).
    """
    h = _NODE_PREFIX.copy()
    h.update(left)
    h.update(right)
    return h.digest()
