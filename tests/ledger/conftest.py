"""Fixtures for the ledger tests: logs built by `CompactRange`, stored as a dict of node hashes,
next to the reference transcription of RFC 9162 over the same entries."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from envtrace.ledger import CompactRange, leaf_hash

from .reference import RFC_LEAVES, ReferenceTree

SMALL = 300  # every size up to 130 is checked exhaustively; vectors double sizes up to 260
BIG = 70_000  # property tests draw sizes up to this, past 2**16


@dataclass
class StoredLog:
    """A log as the store keeps it: every perfect-subtree node reported by `CompactRange`."""

    entries: list[bytes]
    ref: ReferenceTree
    store: dict[tuple[int, int], bytes] = field(default_factory=dict)
    range: CompactRange = field(default_factory=CompactRange)

    def __post_init__(self) -> None:
        for node in self.range.extend([leaf_hash(e) for e in self.entries]):
            key = (node.level, node.index)
            if key in self.store:
                raise AssertionError(f"node {key} reported twice")
            self.store[key] = node.hash

    def get_node(self, level: int, index: int) -> bytes:
        return self.store[(level, index)]

    def leaf(self, index: int) -> bytes:
        return self.store[(0, index)]


def entries(count: int) -> list[bytes]:
    """The RFC test leaves, then deterministic filler."""
    return [*RFC_LEAVES, *(f"envtrace test leaf {i}".encode() for i in range(len(RFC_LEAVES), count))]


@pytest.fixture(scope="session")
def small_log() -> StoredLog:
    data = entries(SMALL)
    return StoredLog(data, ReferenceTree(data))


@pytest.fixture(scope="session")
def big_log() -> StoredLog:
    data = entries(BIG)
    return StoredLog(data, ReferenceTree(data))
