"""Perfect subtrees, compact ranges and tree roots (RFC 9162 §2.1.1), over integers and bytes.

A node id `(level, index)` names the perfect subtree over leaves [index * 2**level,
(index + 1) * 2**level); level 0 are the leaves. The hash of a perfect subtree never changes once
its last leaf is appended, so a store that keeps every perfect-subtree hash can answer for any
tree size it has ever had.

The tree of `size` leaves is covered, left to right, by the perfect subtrees of its *frontier*:
one for each bit set in `size`, largest first. Its root hash is the fold of those hashes from the
right: for frontier hashes h1, h2, h3 the root is node_hash(h1, node_hash(h2, h3)). This equals
RFC 9162's recursive MTH because MTH splits at the largest power of two below the size, which is
exactly the first frontier subtree.

`CompactRange` keeps only the frontier hashes (at most 64) and reports, for every appended leaf,
the perfect-subtree nodes it completes, which is everything a store has to persist.

>>> from envtrace.ledger import leaf_hash
>>> cr = CompactRange()
>>> [n.level for n in cr.extend([leaf_hash(bytes([i])) for i in range(3)])]
[0, 0, 1, 0]
>>> frontier_ids(cr.size)
[(1, 0), (0, 2)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from envtrace.ledger.errors import BadNode, BadSize
from envtrace.ledger.hashing import EMPTY_ROOT, HASH_SIZE

__all__ = [
    "MAX_SIZE",
    "CompactRange",
    "GetNode",
    "Node",
    "NodeId",
    "check_size",
    "fetch",
    "fold_right",
    "frontier_ids",
    "range_ids",
    "root_from_nodes",
]

MAX_SIZE = (1 << 64) - 1
"""Largest tree size accepted (RFC 9162 sizes are unsigned 64-bit integers)."""

NodeId = tuple[int, int]
"""`(level, index)` of a perfect subtree."""

GetNode = Callable[[int, int], bytes]
"""`get_node(level, index)` returns the stored hash of a perfect subtree (or raises)."""

_NODE_PREFIX = hashlib.sha256(b"\x01")  # copied, never updated: hashes 0x01 || left || right
_new_tuple = tuple.__new__


class Node(NamedTuple):
    """The perfect subtree over leaves [index * 2**level, (index + 1) * 2**level) and its hash."""

    level: int
    index: int  # type: ignore[assignment]  # the field deliberately shadows tuple.index
    hash: bytes


def check_size(size: int) -> None:
    """Raise `BadSize` unless 0 <= size <= MAX_SIZE."""
    if size < 0:
        raise BadSize(size, "a tree size cannot be negative")
    if size > MAX_SIZE:
        raise BadSize(size, "a tree size must fit in 64 bits")


def frontier_ids(size: int) -> list[NodeId]:
    """Return the ids of the perfect subtrees covering leaves [0, size), left to right.

    There is one per bit set in `size`, from the highest bit down.

    >>> frontier_ids(13)
    [(3, 0), (2, 2), (0, 12)]
    """
    check_size(size)
    ids: list[NodeId] = []
    begin = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if (size >> level) & 1:
            ids.append((level, begin >> level))
            begin += 1 << level
    return ids


def range_ids(begin: int, end: int) -> list[NodeId]:
    """Return the largest perfect subtrees covering [begin, end), left to right.

    Used for the right border of a proof: there `begin` is a multiple of a power of two at least
    as large as end - begin, so the subtrees come out largest first and their right fold is the
    RFC 9162 hash of the range.
    """
    ids: list[NodeId] = []
    while begin < end:
        # the largest aligned subtree starting at `begin` that does not pass `end`
        level = (begin & -begin).bit_length() - 1 if begin else 64
        while (1 << level) > end - begin:
            level -= 1
        ids.append((level, begin >> level))
        begin += 1 << level
    return ids


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Return the hash of adjacent perfect subtrees given largest first (their right fold)."""
    result = hashes[-1]
    copy = _NODE_PREFIX.copy
    for left in reversed(hashes[:-1]):
        h = copy()
        h.update(left)
        h.update(result)
        result = h.digest()
    return result


def fetch(get_node: GetNode, level: int, index: int) -> bytes:
    """Call `get_node` and check that it gave a 32-byte hash."""
    value = get_node(level, index)
    if type(value) is not bytes or len(value) != HASH_SIZE:
        raise BadNode(level, index, value)
    return value


def root_from_nodes(size: int, get_node: GetNode) -> bytes:
    """Return the root hash of the tree of `size` leaves from stored perfect-subtree hashes.

    Only the frontier nodes (`frontier_ids(size)`, at most 64) are fetched. Errors raised by
    `get_node` propagate unchanged; a value that is not a 32-byte hash raises `BadNode`.
    """
    ids = frontier_ids(size)
    if not ids:
        return EMPTY_ROOT
    return fold_right([fetch(get_node, level, index) for level, index in ids])


class CompactRange:
    """An append-only Merkle tree that keeps only its frontier hashes.

    `append` and `extend` take *leaf hashes* (see `leaf_hash`) and return every perfect-subtree
    node they complete: for each leaf, the leaf itself at level 0 first, then each parent that
    the leaf completes, upwards. Persisting exactly these nodes lets a store serve any proof.

    Not thread-safe: callers that share one range between threads hold a lock around it.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_frontier(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Resume a tree of `size` leaves from the hashes of `frontier_ids(size)`, in that order.

        Raises `BadSize` if the number of hashes does not match `size`, and `BadNode` if one is
        not a 32-byte hash.
        """
        ids = frontier_ids(size)
        if len(hashes) != len(ids):
            raise BadSize(size, f"its frontier has {len(ids)} nodes, {len(hashes)} hashes were given")
        for (level, index), value in zip(ids, hashes, strict=True):
            if type(value) is not bytes or len(value) != HASH_SIZE:
                raise BadNode(level, index, value)
        cr = cls()
        cr._size = size
        cr._hashes = list(hashes)
        return cr

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> list[Node]:
        """Append one leaf hash; return the nodes it completes, the leaf (level 0) first."""
        size = self._size
        if type(leaf) is not bytes or len(leaf) != HASH_SIZE:
            raise BadNode(0, size, leaf)
        nodes = [_new_tuple(Node, (0, size, leaf))]
        if size & 1:
            pop = self._hashes.pop
            copy = _NODE_PREFIX.copy
            level = 0
            index = size
            while index & 1:
                h = copy()
                h.update(pop())
                h.update(leaf)
                leaf = h.digest()
                level += 1
                index >>= 1
                nodes.append(_new_tuple(Node, (level, index, leaf)))
        self._hashes.append(leaf)
        self._size = size + 1
        return nodes

    def extend(self, leaves: Iterable[bytes]) -> list[Node]:
        """Append many leaf hashes; return all the nodes they complete, in append order.

        All or nothing: if one value is not a 32-byte hash, `BadNode` is raised and no leaf is
        appended.
        """
        batch = list(leaves)
        size = self._size
        for offset, leaf in enumerate(batch):
            if type(leaf) is not bytes or len(leaf) != HASH_SIZE:
                raise BadNode(0, size + offset, leaf)
        hashes = self._hashes
        pop = hashes.pop
        push = hashes.append
        copy = _NODE_PREFIX.copy
        nodes: list[Node] = []
        emit = nodes.append
        for leaf in batch:
            emit(_new_tuple(Node, (0, size, leaf)))
            if size & 1:
                level = 0
                index = size
                while index & 1:
                    h = copy()
                    h.update(pop())
                    h.update(leaf)
                    leaf = h.digest()
                    level += 1
                    index >>= 1
                    emit(_new_tuple(Node, (level, index, leaf)))
            push(leaf)
            size += 1
        self._size = size
        return nodes

    def root(self) -> bytes:
        """Return the root hash of the tree of `size` leaves (`EMPTY_ROOT` when empty)."""
        if not self._hashes:
            return EMPTY_ROOT
        return fold_right(self._hashes)

    def frontier(self) -> list[Node]:
        """Return the frontier nodes, left to right (what `from_frontier` needs to resume)."""
        return [
            Node(level, index, value)
            for (level, index), value in zip(frontier_ids(self._size), self._hashes, strict=True)
        ]

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
