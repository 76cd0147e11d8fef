"""Hypothesis: proofs for random sizes and indices equal the RFC's and verify; any single flipped
bit in a leaf hash, proof hash or root is caught; node ids match the RFC recursion at any size."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envtrace.ledger import (
    MAX_SIZE,
    MAX_TIMESTAMP,
    Checkpoint,
    CheckpointError,
    ProofError,
    SigningKey,
    consistency_proof,
    consistency_proof_ids,
    inclusion_proof,
    inclusion_proof_ids,
    open_checkpoint,
    sign_checkpoint,
    verify_consistency,
    verify_inclusion,
)

from .conftest import BIG, StoredLog
from .reference import path_ranges, subproof_ranges

pytestmark = pytest.mark.property

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def flip(value: bytes, bit: int) -> bytes:
    data = bytearray(value)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


@st.composite
def size_and_index(draw: st.DrawFn, top: int = BIG) -> tuple[int, int]:
    size = draw(st.integers(1, top))
    return size, draw(st.integers(0, size - 1))


@st.composite
def two_sizes(draw: st.DrawFn, top: int = BIG) -> tuple[int, int]:
    size2 = draw(st.integers(1, top))
    return draw(st.integers(1, size2)), size2


@SETTINGS
@given(case=size_and_index(), data=st.data())
def test_inclusion_proofs_verify_and_every_bit_matters(
    big_log: StoredLog, case: tuple[int, int], data: st.DataObject
) -> None:
    size, index = case
    root, leaf = big_log.ref.root(size), big_log.leaf(index)
    proof = inclusion_proof(index, size, big_log.get_node)
    assert proof == big_log.ref.inclusion(index, size)
    verify_inclusion(leaf, index, size, proof, root)

    bit = data.draw(st.integers(0, 256 * (len(proof) + 2) - 1), label="bit")
    target, bit = divmod(bit, 256)
    if target == 0:
        leaf = flip(leaf, bit)
    elif target == 1:
        root = flip(root, bit)
    else:
        proof = [*proof[: target - 2], flip(proof[target - 2], bit), *proof[target - 1 :]]
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, root)


@SETTINGS
@given(sizes=two_sizes(), data=st.data())
def test_consistency_proofs_verify_and_every_bit_matters(
    big_log: StoredLog, sizes: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = sizes
    root1, root2 = big_log.ref.root(size1), big_log.ref.root(size2)
    proof = consistency_proof(size1, size2, big_log.get_node)
    assert proof == big_log.ref.consistency(size1, size2)
    verify_consistency(size1, size2, root1, root2, proof)

    bit = data.draw(st.integers(0, 256 * (len(proof) + 2) - 1), label="bit")
    target, bit = divmod(bit, 256)
    if target == 0:
        root1 = flip(root1, bit)
    elif target == 1:
        root2 = flip(root2, bit)
    else:
        proof = [*proof[: target - 2], flip(proof[target - 2], bit), *proof[target - 1 :]]
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, root1, root2, proof)


def covered(ids: list[tuple[int, int]]) -> tuple[int, int]:
    """The leaf range covered by adjacent perfect subtrees (checking they are adjacent)."""
    begin = ids[0][1] << ids[0][0]
    end = begin
    for level, index in ids:
        assert index << level == end
        end += 1 << level
    return begin, end


def group(ids: list[tuple[int, int]], ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Split ids into consecutive groups, one per reference range, and return what each covers."""
    out, at = [], 0
    for _, hi in ranges:
        start = at
        while covered(ids[start : at + 1])[1] < hi:
            at += 1
        out.append(covered(ids[start : at + 1]))
        at += 1
    assert at == len(ids)
    return out


@settings(max_examples=400, deadline=None)
@given(case=st.integers(1, MAX_SIZE).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_ids_are_the_rfc_path_at_any_size(case: tuple[int, int]) -> None:
    size, index = case
    ids = inclusion_proof_ids(index, size)
    want = path_ranges(index, 0, size)
    assert all((i + 1) << lv <= size for lv, i in ids)
    assert group(ids, want) == want


@settings(max_examples=400, deadline=None)
@given(sizes=st.integers(1, MAX_SIZE).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_ids_are_the_rfc_proof_at_any_size(sizes: tuple[int, int]) -> None:
    size1, size2 = sizes
    ids = consistency_proof_ids(size1, size2)
    want = subproof_ranges(size1, 0, size2, True)
    assert all((i + 1) << lv <= size2 for lv, i in ids)
    assert group(ids, want) == want


KEY = SigningKey.from_raw(bytes(range(100, 132)))
ORIGINS = st.text(
    st.characters(
        blacklist_categories=["Cc", "Cs", "Zs", "Zl", "Zp"], blacklist_characters="\x85\x1c\x1d\x1e\x1f"
    ),
    min_size=1,
    max_size=40,
).filter(lambda s: not any(c.isspace() for c in s))


@SETTINGS
@given(
    origin=ORIGINS,
    size=st.integers(0, MAX_SIZE),
    root=st.binary(min_size=32, max_size=32),
    timestamp=st.integers(0, MAX_TIMESTAMP),
    data=st.data(),
)
def test_checkpoints_round_trip_and_every_bit_matters(
    origin: str, size: int, root: bytes, timestamp: int, data: st.DataObject
) -> None:
    checkpoint = Checkpoint(origin, size, root, timestamp)
    verifiers = [KEY.verifying_key("envtrace.example/log")]
    note = sign_checkpoint(checkpoint, KEY, "envtrace.example/log").encode()
    assert open_checkpoint(note, verifiers) == checkpoint
    bit = data.draw(st.integers(0, len(note) * 8 - 1), label="bit")
    with pytest.raises(CheckpointError):
        open_checkpoint(flip(note, bit), verifiers)
