"""Recomputing the whole tree from the stored leaves, and holding it against the stored nodes, the
head and every published checkpoint.

``Recomputed`` keeps every perfect-subtree hash of the recomputed tree, level by level, packed in
``bytearray``s (64 bytes per leaf in all), so the root of any past size and every stored node can be
compared without touching the database again.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from envtrace.evidence.findings import Finding, Report
from envtrace.evidence.readonly import blob
from envtrace.ledger import HASH_SIZE, CompactRange, frontier_ids, node_hash

ZERO = bytes(HASH_SIZE)


class Recomputed:
    """The tree over the leaf hashes pushed so far."""

    def __init__(self) -> None:
        self.levels: list[bytearray] = [bytearray()]
        self.count = 0
        self.bad: list[int] = []  # leaves whose stored form is already reported (sorted)

    def push(self, leaf_hash: bytes) -> None:
        levels = self.levels
        levels[0] += leaf_hash
        i = self.count
        self.count += 1
        level = 0
        while i & 1:
            row = levels[level]
            start = (i - 1) * HASH_SIZE
            parent = node_hash(
                bytes(row[start : start + HASH_SIZE]), bytes(row[start + HASH_SIZE : start + 2 * HASH_SIZE])
            )
            level += 1
            if len(levels) == level:
                levels.append(bytearray())
            levels[level] += parent
            i >>= 1

    def mark_bad(self, index: int) -> None:
        bisect.insort(self.bad, index)

    def node(self, level: int, index: int) -> bytes | None:
        if level >= len(self.levels):
            return None
        row = self.levels[level]
        start = index * HASH_SIZE
        if start + HASH_SIZE > len(row):
            return None
        return bytes(row[start : start + HASH_SIZE])

    def nodes_at(self, level: int) -> int:
        return len(self.levels[level]) // HASH_SIZE if level < len(self.levels) else 0

    def root(self, size: int) -> bytes:
        """The root of the first ``size`` leaves (``size <= count``)."""
        if size > self.count:
            raise ValueError(f"size {size} beyond the {self.count} recomputed leaves")
        hashes = []
        for level, index in frontier_ids(size):
            value = self.node(level, index)
            if value is None:  # pragma: no cover - every frontier node of a size <= count exists
                raise ValueError(f"node ({level}, {index}) missing")
            hashes.append(value)
        return CompactRange.from_frontier(size, hashes).root()

    def covers_bad(self, level: int, index: int) -> bool:
        """Whether subtree (level, index) holds a leaf already reported as damaged or missing."""
        begin, end = index << level, (index + 1) << level
        pos = bisect.bisect_left(self.bad, begin)
        return pos < len(self.bad) and self.bad[pos] < end


def compare_nodes(conn: Connection, tree: Recomputed, report: Report, page: int) -> None:
    """Every ledger_node row against the recomputed perfect subtree of the same id."""
    top = conn.execute(text("SELECT max(level) FROM ledger_node")).scalar()
    top_level = max(int(top or 0), len(tree.levels) - 1)
    query = text(
        "SELECT idx, hash FROM ledger_node WHERE level = :level AND idx >= :lo AND idx < :hi ORDER BY idx"
    )
    for level in range(1, top_level + 1):
        expected = tree.nodes_at(level)
        stored_max = conn.execute(
            text("SELECT max(idx) FROM ledger_node WHERE level = :l"), {"l": level}
        ).scalar()
        span = max(expected, int(stored_max) + 1 if isinstance(stored_max, int) else 0)
        for lo in range(0, span, page):
            want = lo
            for idx, value in conn.execute(query, {"level": level, "lo": lo, "hi": lo + page}):
                idx = int(idx)
                for missing in range(want, min(idx, expected)):
                    _missing(report, tree, level, missing)
                want = idx + 1
                mine = tree.node(level, idx)
                value = blob(value)
                if mine is None:
                    report.add(
                        Finding(
                            "node-extra",
                            f"ledger_node ({level}, {idx}) covers leaves {idx << level}.."
                            f"{((idx + 1) << level) - 1} but only {tree.count} leaves are stored",
                            record=f"ledger_node ({level}, {idx})",
                        )
                    )
                elif value != mine and not tree.covers_bad(level, idx):
                    report.add(
                        Finding(
                            "node-mismatch",
                            f"stored hash {value.hex()} but the leaves "
                            f"{idx << level}..{((idx + 1) << level) - 1} give {mine.hex()}",
                            record=f"ledger_node ({level}, {idx})",
                        )
                    )
            for missing in range(want, min(lo + page, expected)):
                _missing(report, tree, level, missing)


def _missing(report: Report, tree: Recomputed, level: int, idx: int) -> None:
    report.add(
        Finding(
            "node-missing",
            f"no row for the perfect subtree over leaves {idx << level}..{((idx + 1) << level) - 1}",
            record=f"ledger_node ({level}, {idx})",
        )
    )


def compare_head(size: object, root: bytes | None, leaves: int, tree: Recomputed, report: Report) -> None:
    """The head row against the stored leaves."""
    if size is None or root is None:
        report.add(Finding("head-size", "there is no ledger_head row", record="ledger_head"))
        return
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        report.add(Finding("head-size", f"ledger_head.size is {size!r}", record="ledger_head"))
        return
    if size != leaves:
        report.add(
            Finding(
                "head-size",
                f"ledger_head.size is {size} but {leaves} leaves are stored (indexes 0..{leaves - 1})",
                record="ledger_head",
                detail={"head_size": size, "leaves": leaves},
            )
        )
    if size <= tree.count:
        mine = tree.root(size)
        if mine != root:
            report.add(
                Finding(
                    "head-root",
                    f"ledger_head.root is {root.hex()} but the stored leaves give {mine.hex()} "
                    f"for size {size}",
                    record="ledger_head",
                )
            )


@dataclass(frozen=True, slots=True)
class PublishedRoot:
    """A (size, root) some trusted publication states, and where it was read."""

    size: int
    root: bytes
    timestamp: int
    source: str


def compare_published(published: Iterable[PublishedRoot], tree: Recomputed, report: Report) -> None:
    """Every published (size, root) against the root recomputed from the stored leaves."""
    seen: set[tuple[int, bytes]] = set()
    for cp in published:
        if (cp.size, cp.root) in seen:
            continue
        seen.add((cp.size, cp.root))
        if cp.size > tree.count:
            report.add(
                Finding(
                    "checkpoint-truncated",
                    f"published size {cp.size} (root {cp.root.hex()}) but only {tree.count} leaves are "
                    f"stored: {cp.size - tree.count} published leaves are gone",
                    record=cp.source,
                    detail={"size": cp.size, "root": cp.root.hex(), "leaves": tree.count},
                )
            )
            continue
        mine = tree.root(cp.size)
        if mine != cp.root:
            report.add(
                Finding(
                    "checkpoint-root",
                    f"published root {cp.root.hex()} for size {cp.size}, but the stored leaves give "
                    f"{mine.hex()}: the tree was rewritten after publication (fork)",
                    record=cp.source,
                    detail={"size": cp.size, "published": cp.root.hex(), "recomputed": mine.hex()},
                )
            )


def newest_size(published: Sequence[PublishedRoot]) -> int:
    return max((cp.size for cp in published), default=0)
