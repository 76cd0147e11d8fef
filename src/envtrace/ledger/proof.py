"""Inclusion and consistency proofs (RFC 9162 §2.1.3, §2.1.4): which nodes, build, verify.

Building a proof is split in two, so that any store of perfect-subtree hashes can serve it:

1. `inclusion_proof_ids(index, size)` / `consistency_proof_ids(size1, size2)` list the perfect
   subtrees `(level, index)` to fetch, in proof order. At most one proof element is not a perfect
   subtree: the *right border* of the tree, whose hash is then given as the several perfect
   subtrees that cover it, largest first, consecutively in the list.
2. `assemble_inclusion_proof` / `assemble_consistency_proof` turn the fetched hashes (same order
   as the ids) into the proof, folding the border subtrees into one hash.

`inclusion_proof` and `consistency_proof` do both through a `get_node(level, index)` callable.

The layout, for a node (level, index) of the tree of `size` leaves: let `last` be the index of
the last node at that level and `inner` the bit length of index XOR last (how many levels up the
node's path meets the path of the last leaf). The siblings of the first inner - 1 steps are perfect
subtrees; at step `inner` the sibling is the right border (the rest of the tree, perfect or not);
above that only left siblings exist, one per set bit of index >> inner.

An inclusion proof is the path of leaf (0, index). A consistency proof from size1 to size2 is the
path, in the tree of size2, of the last perfect subtree of size1's frontier, preceded by that
subtree's own hash unless size1 is a power of two. This yields exactly RFC 9162's PATH and PROOF
(checked against a transcription of the RFC's recursive definitions in the tests).

Verification recomputes the root(s) from the proof and raises on any disagreement: `IndexOutOfRange`
or `BadSize` for impossible positions, `InvalidProof` for a proof of the wrong shape, and
`RootMismatch` (carrying both roots) when the proof leads elsewhere.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

from envtrace.ledger.errors import (
    BadNode,
    BadSize,
    IndexOutOfRange,
    InvalidProof,
    LedgerError,
    RootMismatch,
)
from envtrace.ledger.hashing import EMPTY_ROOT, HASH_SIZE
from envtrace.ledger.tree import GetNode, NodeId, check_size, fetch, fold_right, range_ids

__all__ = [
    "assemble_consistency_proof",
    "assemble_inclusion_proof",
    "consistency_proof",
    "consistency_proof_ids",
    "inclusion_proof",
    "inclusion_proof_ids",
    "root_from_inclusion",
    "verify_consistency",
    "verify_inclusion",
]

_NODE_PREFIX = hashlib.sha256(b"\x01")  # copied, never updated


@functools.lru_cache(maxsize=256)
def _fold_border(hashes: tuple[bytes, ...]) -> bytes:
    """`fold_right`, memoised on the hashes themselves (proofs against one tree size share borders)."""
    return fold_right(hashes)


class _Layout:
    """Node ids of a proof; ids[border_begin:border_end] fold into one proof element."""

    __slots__ = ("border_begin", "border_end", "ids")

    def __init__(self, ids: list[NodeId], border_begin: int, border_end: int) -> None:
        self.ids = ids
        self.border_begin = border_begin
        self.border_end = border_end

    def assemble(self, hashes: Sequence[bytes]) -> list[bytes]:
        if len(hashes) != len(self.ids):
            raise LedgerError(f"{len(self.ids)} node hashes are needed, {len(hashes)} were given")
        for (level, index), value in zip(self.ids, hashes, strict=True):
            if type(value) is not bytes or len(value) != HASH_SIZE:
                raise BadNode(level, index, value)
        begin, end = self.border_begin, self.border_end
        if end - begin <= 1:
            return list(hashes)
        return [*hashes[:begin], _fold_border(tuple(hashes[begin:end])), *hashes[end:]]


def _path(level: int, index: int, size: int) -> _Layout:
    """Layout of the path from perfect subtree (level, index) to the root of the tree of `size`."""
    last = (size - 1) >> level
    inner = (index ^ last).bit_length()
    ids: list[NodeId] = [(level + r, (index >> r) ^ 1) for r in range(inner - 1)]
    begin = len(ids)
    if inner:
        top = level + inner - 1
        ids += range_ids(((index >> (inner - 1)) + 1) << top, size)
    end = len(ids)
    index >>= inner
    level += inner
    while index:
        if index & 1:
            ids.append((level, index - 1))
        index >>= 1
        level += 1
    return _Layout(ids, begin, end)


def _inclusion_layout(index: int, size: int) -> _Layout:
    check_size(size)
    if not 0 <= index < size:
        raise IndexOutOfRange(index, size)
    return _path(0, index, size)


def _consistency_layout(size1: int, size2: int) -> _Layout:
    check_size(size2)
    if size1 < 0:
        raise BadSize(size1, "a tree size cannot be negative")
    if size1 > size2:
        raise BadSize(size1, f"the first size is larger than the second size {size2}")
    if size1 == 0 or size1 == size2:
        return _Layout([], 0, 0)
    level = (size1 & -size1).bit_length() - 1
    index = (size1 >> level) - 1
    layout = _path(level, index, size2)
    if index:
        # size1 is not a power of two: its root is not on the path, so give its last subtree
        layout.ids.insert(0, (level, index))
        layout.border_begin += 1
        layout.border_end += 1
    return layout


def inclusion_proof_ids(index: int, size: int) -> list[NodeId]:
    """Return the perfect-subtree ids whose hashes make up the inclusion proof of leaf `index`.

    Raises `IndexOutOfRange` unless 0 <= index < size, `BadSize` for an impossible size.

    >>> inclusion_proof_ids(2, 7)
    [(0, 3), (1, 0), (1, 2), (0, 6)]
    """
    return _inclusion_layout(index, size).ids


def consistency_proof_ids(size1: int, size2: int) -> list[NodeId]:
    """Return the perfect-subtree ids whose hashes make up the consistency proof size1 -> size2.

    Empty when size1 is 0 or equal to size2. Raises `BadSize` unless 0 <= size1 <= size2.

    >>> consistency_proof_ids(3, 8)
    [(0, 2), (0, 3), (1, 0), (2, 1)]
    """
    return _consistency_layout(size1, size2).ids


def assemble_inclusion_proof(index: int, size: int, hashes: Sequence[bytes]) -> list[bytes]:
    """Build the inclusion proof from the hashes of `inclusion_proof_ids(index, size)`, in order.

    Raises `LedgerError` if the number of hashes differs from the number of ids, `BadNode` if one
    is not a 32-byte hash, and the errors of `inclusion_proof_ids`.
    """
    return _inclusion_layout(index, size).assemble(hashes)


def assemble_consistency_proof(size1: int, size2: int, hashes: Sequence[bytes]) -> list[bytes]:
    """Build the consistency proof from the hashes of `consistency_proof_ids(size1, size2)`.

    Raises like `assemble_inclusion_proof`.
    """
    return _consistency_layout(size1, size2).assemble(hashes)


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """Return the RFC 9162 inclusion proof (PATH) of leaf `index` in the tree of `size` leaves.

    `get_node(level, index)` must return the stored perfect-subtree hash; its errors propagate,
    and a value that is not a 32-byte hash raises `BadNode`. Same nodes, same result as
    `assemble_inclusion_proof(index, size, [get_node(*i) for i in inclusion_proof_ids(...)])`.
    """
    check_size(size)
    if not 0 <= index < size:
        raise IndexOutOfRange(index, size)
    inner = (index ^ (size - 1)).bit_length()
    proof: list[bytes] = []
    append = proof.append
    for level in range(inner - 1):
        sibling = (index >> level) ^ 1
        value = get_node(level, sibling)
        if type(value) is not bytes or len(value) != HASH_SIZE:
            raise BadNode(level, sibling, value)
        append(value)
    if inner:
        # the right border [begin, size): one perfect subtree, or one per bit set in its width
        top = inner - 1
        begin = ((index >> top) + 1) << top
        width = size - begin
        if width == 1 << top:
            append(fetch(get_node, top, begin >> top))
        else:
            parts = []
            while width:
                level = width.bit_length() - 1
                parts.append(fetch(get_node, level, begin >> level))
                begin += 1 << level
                width -= 1 << level
            append(_fold_border(tuple(parts)) if len(parts) > 1 else parts[0])
    level = inner
    index >>= inner
    while index:
        if index & 1:
            value = get_node(level, index - 1)
            if type(value) is not bytes or len(value) != HASH_SIZE:
                raise BadNode(level, index - 1, value)
            append(value)
        index >>= 1
        level += 1
    return proof


def consistency_proof(size1: int, size2: int, get_node: GetNode) -> list[bytes]:
    """Return the RFC 9162 consistency proof (PROOF) between trees of size1 and size2 leaves."""
    layout = _consistency_layout(size1, size2)
    return layout.assemble([fetch(get_node, level, idx) for level, idx in layout.ids])


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Return the root that `proof` gives for leaf hash `leaf_hash` at `index` in a tree of `size`.

    Raises `IndexOutOfRange`, `BadSize`, `BadNode` (a leaf hash not 32 bytes) or `InvalidProof`
    (wrong number of hashes, a hash not 32 bytes). Compare the result with a trusted root, or
    call `verify_inclusion`, which does.
    """
    check_size(size)
    if not 0 <= index < size:
        raise IndexOutOfRange(index, size)
    if type(leaf_hash) is not bytes or len(leaf_hash) != HASH_SIZE:
        raise BadNode(0, index, leaf_hash)
    inner = (index ^ (size - 1)).bit_length()
    expected = inner + (index >> inner).bit_count()
    if len(proof) != expected:
        raise InvalidProof(
            "wrong number of hashes",
            index=index,
            size2=size,
            expected_len=expected,
            actual_len=len(proof),
        )
    lengths = set(map(len, proof))
    if lengths and lengths != {HASH_SIZE}:
        position = next(i for i, value in enumerate(proof) if len(value) != HASH_SIZE)
        raise InvalidProof(
            f"hash {position} is {len(proof[position])} bytes, not {HASH_SIZE}",
            index=index,
            size2=size,
            expected_len=expected,
            actual_len=len(proof),
        )
    copy = _NODE_PREFIX.copy
    result = leaf_hash
    bits = index
    try:
        for sibling in proof[:inner]:
            h = copy()
            if bits & 1:
                h.update(sibling)
                h.update(result)
            else:
                h.update(result)
                h.update(sibling)
            result = h.digest()
            bits >>= 1
        for sibling in proof[inner:]:
            h = copy()
            h.update(sibling)
            h.update(result)
            result = h.digest()
    except TypeError as exc:  # a proof element that is not bytes-like
        raise InvalidProof(
            f"a hash is not bytes ({exc})",
            index=index,
            size2=size,
            expected_len=expected,
            actual_len=len(proof),
        ) from exc
    return result


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that `proof` proves leaf hash `leaf_hash` at `index` in the tree of `size` with `root`.

    Returns None or raises: `RootMismatch(expected=root, actual=computed)` when the proof leads to
    another root, and the errors of `root_from_inclusion` when it cannot be evaluated at all.
    """
    computed = root_from_inclusion(leaf_hash, index, size, proof)
    if computed != root:
        raise RootMismatch(root, computed, size)


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of size2 with root2 extends the tree of size1 with root1.

    Returns None or raises: `BadSize` unless 0 <= size1 <= size2, `InvalidProof` for a proof of
    the wrong shape, `RootMismatch` (checked for size1 first, then size2) when it leads to other
    roots. Equal sizes need an empty proof and equal roots; size1 = 0 needs an empty proof and
    root1 = `EMPTY_ROOT`.
    """
    check_size(size2)
    if size1 < 0:
        raise BadSize(size1, "a tree size cannot be negative")
    if size1 > size2:
        raise BadSize(size1, f"the first size is larger than the second size {size2}")
    if size1 == 0 or size1 == size2:
        if proof:
            raise InvalidProof(
                "the proof must be empty",
                size1=size1,
                size2=size2,
                expected_len=0,
                actual_len=len(proof),
            )
        if size1 == 0:
            if root1 != EMPTY_ROOT:
                raise RootMismatch(root1, EMPTY_ROOT, 0)
        elif root1 != root2:
            raise RootMismatch(root2, root1, size2)
        return
    level = (size1 & -size1).bit_length() - 1
    index = (size1 >> level) - 1
    inner = (index ^ ((size2 - 1) >> level)).bit_length()
    seeded = 1 if index else 0
    expected = seeded + inner + (index >> inner).bit_count()
    if len(proof) != expected:
        raise InvalidProof(
            "wrong number of hashes",
            size1=size1,
            size2=size2,
            expected_len=expected,
            actual_len=len(proof),
        )
    lengths = set(map(len, proof))
    if lengths != {HASH_SIZE}:
        position = next(i for i, value in enumerate(proof) if len(value) != HASH_SIZE)
        raise InvalidProof(
            f"hash {position} is {len(proof[position])} bytes, not {HASH_SIZE}",
            size1=size1,
            size2=size2,
            expected_len=expected,
            actual_len=len(proof),
        )
    try:
        first, second = _consistency_roots(proof, seeded, inner, index, root1)
    except TypeError as exc:  # a proof element (or root1) that is not bytes-like
        raise InvalidProof(
            f"a hash is not bytes ({exc})",
            size1=size1,
            size2=size2,
            expected_len=expected,
            actual_len=len(proof),
        ) from exc
    if first != root1:
        raise RootMismatch(root1, first, size1)
    if second != root2:
        raise RootMismatch(root2, second, size2)


def _consistency_roots(
    proof: Sequence[bytes], seeded: int, inner: int, index: int, root1: bytes
) -> tuple[bytes, bytes]:
    """The roots of both trees computed from a consistency proof of the right shape."""
    copy = _NODE_PREFIX.copy
    first = second = proof[0] if seeded else root1
    bits = index
    for sibling in proof[seeded : seeded + inner]:
        if bits & 1:
            h = copy()
            h.update(sibling)
            h.update(first)
            first = h.digest()
            h = copy()
            h.update(sibling)
            h.update(second)
        else:
            h = copy()
            h.update(second)
            h.update(sibling)
        second = h.digest()
        bits >>= 1
    for sibling in proof[seeded + inner :]:
        h = copy()
        h.update(sibling)
        h.update(first)
        first = h.digest()
        h = copy()
        h.update(sibling)
        h.update(second)
        second = h.digest()
    return first, second
