"""Leaf and node hashing against the published RFC 6962 test tree (transparency-dev/merkle
testdata: the perfect-subtree hashes of the eight RFC test leaves)."""

from __future__ import annotations

import hashlib

import pytest

from envtrace.ledger import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash

from .reference import RFC_LEAVES

NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]


@pytest.mark.parametrize("index", range(8))
def test_leaf_hash_of_rfc_test_leaves(index: int) -> None:
    assert leaf_hash(RFC_LEAVES[index]).hex() == NODE_HASHES[0][index]


@pytest.mark.parametrize(
    ("level", "index"), [(level, i) for level in (1, 2, 3) for i in range(len(NODE_HASHES[level]))]
)
def test_node_hash_of_rfc_test_tree(level: int, index: int) -> None:
    left = bytes.fromhex(NODE_HASHES[level - 1][2 * index])
    right = bytes.fromhex(NODE_HASHES[level - 1][2 * index + 1])
    assert node_hash(left, right).hex() == NODE_HASHES[level][index]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert len(EMPTY_ROOT) == HASH_SIZE


def test_hashes_are_domain_separated() -> None:
    data = bytes(range(64))
    assert leaf_hash(data) == hashlib.sha256(b"\x00" + data).digest()
    assert leaf_hash(data) != hashlib.sha256(data).digest()
    # a leaf holding the concatenation of two hashes is not the node over them
    left, right = data[:32], data[32:]
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + data).digest()
    assert node_hash(left, right) != leaf_hash(left + right)


def test_hashing_does_not_keep_state_between_calls() -> None:
    # the prefix hash objects are copied, never fed: the same input always gives the same hash
    assert leaf_hash(b"a") == leaf_hash(b"a") != leaf_hash(b"b")
    assert node_hash(b"x" * 32, b"y" * 32) == node_hash(b"x" * 32, b"y" * 32)
