"""Inclusion and consistency proofs: equal to RFC 9162 PATH / PROOF for every size 0..130 and
every index, accepted by our verifier and by the RFC's own algorithm, and servable from a store
of perfect-subtree nodes only."""

from __future__ import annotations

import pytest

from envtrace.ledger import (
    EMPTY_ROOT,
    MAX_SIZE,
    BadNode,
    BadSize,
    IndexOutOfRange,
    InvalidProof,
    LedgerError,
    RootMismatch,
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

from .conftest import StoredLog
from .reference import rfc_verify_consistency, rfc_verify_inclusion

SIZES = range(131)


def fetch_all(log: StoredLog, ids: list[tuple[int, int]]) -> list[bytes]:
    return [log.store[i] for i in ids]  # a KeyError would mean a node no store keeps


@pytest.mark.parametrize("size", SIZES)
def test_inclusion_proofs_match_rfc_path(small_log: StoredLog, size: int) -> None:
    ref, root = small_log.ref, small_log.ref.root(size)
    for index in range(size):
        want = ref.inclusion(index, size)
        proof = inclusion_proof(index, size, small_log.get_node)
        assert proof == want, index
        ids = inclusion_proof_ids(index, size)
        assert assemble_inclusion_proof(index, size, fetch_all(small_log, ids)) == want
        leaf = small_log.leaf(index)
        verify_inclusion(leaf, index, size, proof, root)
        assert root_from_inclusion(leaf, index, size, proof) == root
        assert rfc_verify_inclusion(leaf, index, size, proof, root)


@pytest.mark.parametrize("size2", SIZES)
def test_consistency_proofs_match_rfc_proof(small_log: StoredLog, size2: int) -> None:
    ref, root2 = small_log.ref, small_log.ref.root(size2)
    for size1 in range(size2 + 1):
        want = ref.consistency(size1, size2) if size1 else []
        proof = consistency_proof(size1, size2, small_log.get_node)
        assert proof == want, size1
        ids = consistency_proof_ids(size1, size2)
        assert assemble_consistency_proof(size1, size2, fetch_all(small_log, ids)) == want
        root1 = ref.root(size1)
        verify_consistency(size1, size2, root1, root2, proof)
        if 0 < size1 < size2:
            assert rfc_verify_consistency(size1, size2, root1, root2, proof)


def test_documented_examples() -> None:
    # PATH(2, D[0:7]) = [MTH(D[3]), MTH(D[0:2]), MTH(D[4:7])], the last a border of two subtrees
    assert inclusion_proof_ids(2, 7) == [(0, 3), (1, 0), (1, 2), (0, 6)]
    # PROOF(3, D[0:8]) = [MTH(D[2]), MTH(D[3]), MTH(D[0:2]), MTH(D[4:8])]
    assert consistency_proof_ids(3, 8) == [(0, 2), (0, 3), (1, 0), (2, 1)]
    # size1 a power of two: its root is not repeated in the proof
    assert consistency_proof_ids(4, 8) == [(2, 1)]
    assert consistency_proof_ids(0, 8) == consistency_proof_ids(8, 8) == []
    assert inclusion_proof_ids(0, 1) == []


def test_proofs_at_the_64_bit_limit() -> None:
    ids = inclusion_proof_ids(MAX_SIZE - 1, MAX_SIZE)
    assert len(ids) == 63
    ids = inclusion_proof_ids(0, MAX_SIZE)
    assert ids[:63] == [(level, 1) for level in range(63)]
    assert consistency_proof_ids(MAX_SIZE - 1, MAX_SIZE)[0] == (1, (MAX_SIZE - 1) // 2 - 1)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (6, 5), (-1, 5)])
def test_inclusion_of_an_index_outside_the_tree(small_log: StoredLog, index: int, size: int) -> None:
    for call in (
        lambda: inclusion_proof_ids(index, size),
        lambda: inclusion_proof(index, size, small_log.get_node),
        lambda: verify_inclusion(small_log.leaf(0), index, size, [], EMPTY_ROOT),
    ):
        with pytest.raises(IndexOutOfRange) as info:
            call()
        assert (info.value.index, info.value.size) == (index, size)


@pytest.mark.parametrize(("size1", "size2"), [(6, 5), (-1, 5), (1, -1), (0, MAX_SIZE + 1)])
def test_consistency_between_impossible_sizes(small_log: StoredLog, size1: int, size2: int) -> None:
    for call in (
        lambda: consistency_proof_ids(size1, size2),
        lambda: consistency_proof(size1, size2, small_log.get_node),
        lambda: verify_consistency(size1, size2, EMPTY_ROOT, EMPTY_ROOT, []),
    ):
        with pytest.raises(BadSize):
            call()


def test_root_mismatch_carries_both_roots(small_log: StoredLog) -> None:
    proof = inclusion_proof(3, 10, small_log.get_node)
    trusted = small_log.ref.root(11)
    with pytest.raises(RootMismatch) as info:
        verify_inclusion(small_log.leaf(3), 3, 10, proof, trusted)
    assert info.value.expected == trusted
    assert info.value.actual == small_log.ref.root(10)
    assert info.value.size == 10
    assert trusted.hex()[:16] in str(info.value)


def test_consistency_mismatch_names_the_tree_that_disagrees(small_log: StoredLog) -> None:
    ref = small_log.ref
    proof = consistency_proof(5, 9, small_log.get_node)
    with pytest.raises(RootMismatch) as info:
        verify_consistency(5, 9, ref.root(4), ref.root(9), proof)
    assert (info.value.size, info.value.expected, info.value.actual) == (5, ref.root(4), ref.root(5))
    with pytest.raises(RootMismatch) as info:
        verify_consistency(5, 9, ref.root(5), ref.root(10), proof)
    assert (info.value.size, info.value.expected, info.value.actual) == (9, ref.root(10), ref.root(9))


def test_invalid_proof_carries_the_lengths(small_log: StoredLog) -> None:
    proof = inclusion_proof(3, 10, small_log.get_node)
    with pytest.raises(InvalidProof) as info:
        verify_inclusion(small_log.leaf(3), 3, 10, proof[:-1], small_log.ref.root(10))
    assert (info.value.expected_len, info.value.actual_len, info.value.index) == (4, 3, 3)
    with pytest.raises(InvalidProof) as info:
        verify_consistency(3, 10, small_log.ref.root(3), small_log.ref.root(10), [])
    assert (info.value.size1, info.value.size2, info.value.actual_len) == (3, 10, 0)


def test_equal_sizes_need_equal_roots_and_no_proof(small_log: StoredLog) -> None:
    root = small_log.ref.root(7)
    verify_consistency(7, 7, root, root, [])
    with pytest.raises(RootMismatch):
        verify_consistency(7, 7, root, small_log.ref.root(6), [])
    with pytest.raises(InvalidProof):
        verify_consistency(7, 7, root, root, [root])


def test_from_the_empty_tree_root1_must_be_the_empty_root(small_log: StoredLog) -> None:
    verify_consistency(0, 7, EMPTY_ROOT, small_log.ref.root(7), [])
    with pytest.raises(RootMismatch) as info:
        verify_consistency(0, 7, small_log.ref.root(1), small_log.ref.root(7), [])
    assert info.value.actual == EMPTY_ROOT


def test_a_leaf_hash_of_the_wrong_length_is_refused(small_log: StoredLog) -> None:
    proof = inclusion_proof(3, 10, small_log.get_node)
    with pytest.raises(BadNode):
        verify_inclusion(small_log.leaf(3)[:31], 3, 10, proof, small_log.ref.root(10))


@pytest.mark.parametrize("bad", [b"\x00" * 31, b"\x00" * 33, "x" * 32, None])
def test_proof_building_checks_what_the_store_returns(bad: object) -> None:
    with pytest.raises(BadNode):
        inclusion_proof(2, 7, lambda level, index: bad)  # type: ignore[arg-type, return-value]
    with pytest.raises(BadNode):
        consistency_proof(3, 7, lambda level, index: bad)  # type: ignore[arg-type, return-value]
    with pytest.raises(BadNode):
        inclusion_proof(6, 7, lambda level, index: bad)  # type: ignore[arg-type, return-value]
    with pytest.raises(BadNode):
        assemble_inclusion_proof(2, 7, [bad] * 4)  # type: ignore[list-item]


def test_store_errors_propagate() -> None:
    def missing(level: int, index: int) -> bytes:
        raise KeyError((level, index))

    with pytest.raises(KeyError):
        inclusion_proof(2, 7, missing)
    with pytest.raises(KeyError):
        consistency_proof(3, 7, missing)


def test_assemble_needs_one_hash_per_id(small_log: StoredLog) -> None:
    with pytest.raises(LedgerError):
        assemble_inclusion_proof(2, 7, [small_log.leaf(0)] * 3)
    with pytest.raises(LedgerError):
        assemble_consistency_proof(3, 8, [small_log.leaf(0)] * 5)


def test_proofs_are_served_from_perfect_subtrees_only(small_log: StoredLog) -> None:
    asked: set[tuple[int, int]] = set()

    def recording(level: int, index: int) -> bytes:
        asked.add((level, index))
        return small_log.get_node(level, index)

    for size in range(1, 131):
        for index in range(size):
            inclusion_proof(index, size, recording)
        for size1 in range(size + 1):
            consistency_proof(size1, size, recording)
        # every node asked for lies wholly inside the tree of that size
        assert all((index + 1) << level <= size for level, index in asked)
        asked.clear()


def test_proof_elements_that_are_not_bytes_are_an_invalid_proof(small_log: StoredLog) -> None:
    proof: list[object] = list(inclusion_proof(3, 10, small_log.get_node))
    proof[1] = "x" * 32
    with pytest.raises(InvalidProof, match="not bytes"):
        verify_inclusion(small_log.leaf(3), 3, 10, proof, small_log.ref.root(10))  # type: ignore[arg-type]
    proof = list(consistency_proof(3, 10, small_log.get_node))
    proof[0] = "x" * 32
    with pytest.raises(InvalidProof, match="not bytes"):
        verify_consistency(3, 10, small_log.ref.root(3), small_log.ref.root(10), proof)  # type: ignore[arg-type]


def test_a_root_that_is_not_bytes_is_a_mismatch(small_log: StoredLog) -> None:
    proof = inclusion_proof(3, 10, small_log.get_node)
    with pytest.raises(RootMismatch, match="'not a root'"):
        verify_inclusion(small_log.leaf(3), 3, 10, proof, "not a root")  # type: ignore[arg-type]
