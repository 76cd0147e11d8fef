"""A reference RFC 9162 Merkle tree, transcribed from the RFC's definitions, used as the oracle.

Written for obviousness, not speed, and independent of `envtrace.ledger` (it hashes with hashlib
directly). `D[lo:hi]` in the RFC's notation is the slice [lo, hi) of one fixed list of entries;
the results for a slice are memoised, which changes nothing but the running time.

- §2.1.1  MTH(D[n]): the Merkle Tree Hash.
- §2.1.3.1 PATH(m, D[n]): the inclusion proof of entry m.
- §2.1.4.1 PROOF(m, D[n]) and SUBPROOF(m, D[n], b): the consistency proof from size m.
- §2.1.3.2 and §2.1.4.2: the RFC's step-by-step verification algorithms, returning a boolean.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache

# The test leaves of RFC 6962 / 9162 test suites (certificate-transparency, transparency-dev/merkle).
RFC_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_below(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1), so that k < n <= 2k."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class ReferenceTree:
    """The RFC's functions over the prefixes of one list of entries D."""

    def __init__(self, entries: Sequence[bytes]) -> None:
        self.entries = list(entries)

    @cache  # noqa: B019 - the trees live for the whole test session anyway
    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        n = hi - lo
        if n == 0:
            return sha256(b"")
        if n == 1:
            return sha256(b"\x00" + self.entries[lo])
        k = largest_power_of_two_below(n)
        return sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))

    def root(self, n: int) -> bytes:
        return self.mth(0, n)

    def leaf_hash(self, m: int) -> bytes:
        return self.mth(m, m + 1)

    @cache  # noqa: B019
    def path(self, m: int, lo: int, hi: int) -> tuple[bytes, ...]:
        """PATH(m, D[lo:hi]), m relative to lo."""
        n = hi - lo
        if not 0 <= m < n:
            raise ValueError("PATH needs 0 <= m < n")
        if n == 1:
            return ()
        k = largest_power_of_two_below(n)
        if m < k:
            return (*self.path(m, lo, lo + k), self.mth(lo + k, hi))
        return (*self.path(m - k, lo + k, hi), self.mth(lo, lo + k))

    def inclusion(self, m: int, n: int) -> list[bytes]:
        return list(self.path(m, 0, n))

    @cache  # noqa: B019
    def subproof(self, m: int, lo: int, hi: int, b: bool) -> tuple[bytes, ...]:
        """SUBPROOF(m, D[lo:hi], b)."""
        n = hi - lo
        if m == n:
            return () if b else (self.mth(lo, hi),)
        k = largest_power_of_two_below(n)
        if m <= k:
            return (*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi))
        return (*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k))

    def consistency(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n]) for 0 < m <= n."""
        if not 0 < m <= n:
            raise ValueError("PROOF needs 0 < m <= n")
        return list(self.subproof(m, 0, n, True))


def _node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def rfc_verify_inclusion(
    leaf_hash: bytes, leaf_index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if leaf_index >= tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def rfc_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, step by step (for 0 < first < second)."""
    if not path:
        return False
    path = list(path)
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


# ---- the same recursions over leaf ranges instead of hashes (any size, no data needed) ------


def path_ranges(m: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """PATH(m, D[lo:hi]) as the leaf ranges [a, b) whose MTH make up each proof element."""
    n = hi - lo
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return [*path_ranges(m, lo, lo + k), (lo + k, hi)]
    return [*path_ranges(m - k, lo + k, hi), (lo, lo + k)]


def subproof_ranges(m: int, lo: int, hi: int, b: bool) -> list[tuple[int, int]]:
    """SUBPROOF(m, D[lo:hi], b) as leaf ranges."""
    n = hi - lo
    if m == n:
        return [] if b else [(lo, hi)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*subproof_ranges(m, lo, lo + k, b), (lo + k, hi)]
    return [*subproof_ranges(m - k, lo + k, hi, False), (lo, lo + k)]
