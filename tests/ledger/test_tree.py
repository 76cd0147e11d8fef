"""CompactRange, frontier ids and roots, against the RFC 6962 test tree and the reference MTH."""

from __future__ import annotations

import pytest

from envtrace.ledger import (
    EMPTY_ROOT,
    MAX_SIZE,
    BadNode,
    BadSize,
    CompactRange,
    Node,
    frontier_ids,
    leaf_hash,
    root_from_nodes,
)

from .conftest import StoredLog
from .reference import RFC_LEAVES
from .test_hashing import NODE_HASHES

# Published roots of the RFC test tree for sizes 0..8 (transparency-dev/merkle testonly).
RFC_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# The compact range (frontier) of each size of the RFC test tree, as (level, index) into NODE_HASHES.
RFC_FRONTIERS = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]


def rfc_range(size: int) -> CompactRange:
    cr = CompactRange()
    cr.extend([leaf_hash(leaf) for leaf in RFC_LEAVES[:size]])
    return cr


@pytest.mark.parametrize("size", range(9))
def test_root_of_rfc_test_tree(size: int) -> None:
    assert rfc_range(size).root().hex() == RFC_ROOTS[size]


@pytest.mark.parametrize("size", range(9))
def test_frontier_of_rfc_test_tree(size: int) -> None:
    cr = rfc_range(size)
    want = [Node(lv, ix, bytes.fromhex(NODE_HASHES[lv][ix])) for lv, ix in RFC_FRONTIERS[size]]
    assert cr.frontier() == want
    assert frontier_ids(size) == RFC_FRONTIERS[size]


def test_empty_range() -> None:
    cr = CompactRange()
    assert cr.size == 0
    assert cr.root() == EMPTY_ROOT
    assert cr.frontier() == []
    assert root_from_nodes(0, lambda level, index: b"") == EMPTY_ROOT


@pytest.mark.parametrize("size", range(131))
def test_roots_and_frontiers_match_reference(small_log: StoredLog, size: int) -> None:
    cr = CompactRange.from_frontier(size, [small_log.get_node(*i) for i in frontier_ids(size)])
    assert cr.root() == small_log.ref.root(size)
    assert root_from_nodes(size, small_log.get_node) == small_log.ref.root(size)
    for level, index in frontier_ids(size):
        lo, hi = index << level, (index + 1) << level
        assert small_log.get_node(level, index) == small_log.ref.mth(lo, hi)


def test_every_perfect_subtree_is_reported_once_with_its_hash(small_log: StoredLog) -> None:
    size = len(small_log.entries)
    want = {
        (level, index)
        for level in range(size.bit_length())
        for index in range(size >> level)  # perfect subtrees that lie wholly in [0, size)
    }
    assert set(small_log.store) == want
    for (level, index), value in small_log.store.items():
        assert value == small_log.ref.mth(index << level, (index + 1) << level)


@pytest.mark.parametrize("size", range(40))
def test_append_reports_the_leaf_then_each_completed_parent(size: int) -> None:
    cr = rfc_range(0)
    cr.extend([leaf_hash(b"%d" % i) for i in range(size)])
    nodes = cr.append(leaf_hash(b"new"))
    trailing_ones = (size ^ (size + 1)).bit_length() - 1
    assert [(n.level, n.index) for n in nodes] == [(lv, size >> lv) for lv in range(trailing_ones + 1)]
    assert nodes[0].hash == leaf_hash(b"new")
    assert cr.size == size + 1


def test_append_seven_to_eight_completes_four_nodes() -> None:
    cr = rfc_range(7)
    nodes = cr.append(leaf_hash(RFC_LEAVES[7]))
    assert [(n.level, n.index, n.hash.hex()) for n in nodes] == [
        (0, 7, NODE_HASHES[0][7]),
        (1, 3, NODE_HASHES[1][3]),
        (2, 1, NODE_HASHES[2][1]),
        (3, 0, NODE_HASHES[3][0]),
    ]


def test_extend_equals_repeated_append() -> None:
    leaves = [leaf_hash(b"x%d" % i) for i in range(1000)]
    one, many = CompactRange(), CompactRange()
    appended = [node for leaf in leaves for node in one.append(leaf)]
    extended = many.extend(leaves[:333]) + many.extend(leaves[333:])
    assert appended == extended
    assert one.root() == many.root()
    assert one.frontier() == many.frontier()


@pytest.mark.parametrize("bad", [b"\x00" * 31, b"\x00" * 33, b"", bytearray(32), "0" * 32, None])
def test_append_rejects_a_value_that_is_not_a_32_byte_hash(bad: object) -> None:
    cr = rfc_range(3)
    with pytest.raises(BadNode) as info:
        cr.append(bad)  # type: ignore[arg-type]
    assert (info.value.level, info.value.index, info.value.value) == (0, 3, bad)
    assert cr.size == 3
    assert cr.root().hex() == RFC_ROOTS[3]


def test_extend_is_all_or_nothing() -> None:
    cr = rfc_range(2)
    with pytest.raises(BadNode) as info:
        cr.extend([leaf_hash(b"a"), leaf_hash(b"b"), b"short"])
    assert info.value.index == 4
    assert cr.size == 2
    assert cr.root().hex() == RFC_ROOTS[2]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 100, 129])
def test_resuming_from_a_frontier_continues_identically(size: int) -> None:
    leaves = [leaf_hash(b"r%d" % i) for i in range(size + 50)]
    whole = CompactRange()
    whole.extend(leaves[:size])
    resumed = CompactRange.from_frontier(size, [n.hash for n in whole.frontier()])
    assert resumed.size == size
    assert resumed.root() == whole.root()
    assert resumed.extend(leaves[size:]) == whole.extend(leaves[size:])
    assert resumed.root() == whole.root()


def test_from_frontier_rejects_a_frontier_of_the_wrong_length() -> None:
    with pytest.raises(BadSize) as info:
        CompactRange.from_frontier(5, [b"\x00" * 32])
    assert info.value.size == 5
    with pytest.raises(BadSize):
        CompactRange.from_frontier(0, [b"\x00" * 32])


def test_from_frontier_rejects_a_bad_hash() -> None:
    with pytest.raises(BadNode) as info:
        CompactRange.from_frontier(3, [b"\x00" * 32, b"\x00" * 31])
    assert (info.value.level, info.value.index) == (0, 2)


@pytest.mark.parametrize("size", [-1, MAX_SIZE + 1])
def test_sizes_outside_64_bits_are_refused(size: int) -> None:
    with pytest.raises(BadSize) as info:
        frontier_ids(size)
    assert info.value.size == size
    with pytest.raises(BadSize):
        CompactRange.from_frontier(size, [])
    with pytest.raises(BadSize):
        root_from_nodes(size, lambda level, index: b"\x00" * 32)


@pytest.mark.parametrize("size", [*range(300), 2**32 - 1, 2**32 + 5, 10**15 + 7, MAX_SIZE])
def test_frontier_ids_cover_the_tree_left_to_right_with_perfect_subtrees(size: int) -> None:
    begin = 0
    levels = []
    for level, index in frontier_ids(size):
        assert index << level == begin  # aligned, contiguous
        begin += 1 << level
        levels.append(level)
    assert begin == size
    assert levels == sorted(levels, reverse=True)
    assert len(levels) == size.bit_count()


def test_root_from_nodes_checks_what_the_store_returns() -> None:
    def short(level: int, index: int) -> bytes:
        return b"\x01" * 31

    with pytest.raises(BadNode) as info:
        root_from_nodes(5, short)
    assert (info.value.level, info.value.index) == (2, 0)


def test_root_from_nodes_lets_store_errors_through() -> None:
    def missing(level: int, index: int) -> bytes:
        raise KeyError((level, index))

    with pytest.raises(KeyError):
        root_from_nodes(5, missing)


def test_node_fields() -> None:
    node = Node(2, 5, b"h" * 32)
    assert (node.level, node.index, node.hash) == (2, 5, b"h" * 32)
    level, index, value = node
    assert (level, index, value) == (2, 5, b"h" * 32)
    assert node._replace(index=6).index == 6


def test_repr_names_size_and_root() -> None:
    assert repr(rfc_range(8)) == f"CompactRange(size=8, root={RFC_ROOTS[8]})"
