"""Ledger throughput: appends, inclusion proofs built, proofs verified; envtrace vs pymerkle.

    .venv/bin/python bench/ledger.py            # 200,000 leaves, 20,000 proofs, 3 repetitions
    .venv/bin/python bench/ledger.py --quick    # 20,000 leaves, 5,000 proofs (well under a minute)

Both libraries do the same work in the same process on the same records (HJ 212-like frames of
about 140 bytes), and must agree on every root and proof:

- append: hash each record as an RFC 9162 leaf and add it to the tree. envtrace:
  `CompactRange.append(leaf_hash(record))` (the nodes it returns are dropped: a store persists
  them); pymerkle: `InmemoryTree.append_entry(record)`. The figure "append+store" also puts every
  returned node in a dict, the node store the proof benchmark then uses.
- prove: inclusion proofs for random leaves against the full tree. envtrace:
  `inclusion_proof(index, size, get_node)` over a dict of perfect-subtree hashes; pymerkle:
  `InmemoryTree.prove_inclusion(index + 1)`.
- verify: each of those proofs against the root. envtrace: `verify_inclusion`; pymerkle:
  `verify_inclusion(base, root, proof)`.

Times are CPU seconds of this process (`time.process_time`: both libraries are single-threaded
and CPU-bound, and other work on the machine then disturbs the figures less); figures are medians
over the repetitions; the garbage collector runs as usual (it is collected before each timed
section). The last line is
`appends_per_s=.. proofs_per_s=.. verifies_per_s=.. ratio_vs_pymerkle=..`, the ratio being the
smallest of the three envtrace/pymerkle ratios.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from envtrace.ledger import CompactRange, inclusion_proof, leaf_hash, verify_inclusion

try:
    import pymerkle
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("bench/ledger.py needs pymerkle: .venv/bin/pip install -e '.[bench]'")


def records(count: int) -> list[bytes]:
    """HJ 212-like real-time frames, one per leaf, all distinct."""
    out = []
    for i in range(count):
        body = (
            f"QN=20240101{i % 86400:06d}{i % 1000:03d};ST=22;CN=2011;PW=123456;MN=3201{i % 997:010d};"
            f"Flag=5;CP=&&DataTime=20240101{i % 86400:06d};a34004-Rtd={i % 500}.{i % 10},a34004-Flag=N&&"
        )
        out.append(f"##{len(body):04d}{body}{i:04X}\r\n".encode())
    return out


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of this process for `work()` (steadier than wall time on a shared machine)."""
    gc.collect()
    start = time.process_time()
    result = work()
    return time.process_time() - start, result


class Round:
    """One repetition: both libraries build, prove and verify; rates in operations per second."""

    def __init__(self, data: list[bytes], indices: list[int]) -> None:
        self.data = data
        self.indices = indices
        self.rates: dict[str, float] = {}

    def run(self) -> None:
        n, k = len(self.data), len(self.indices)

        # -- envtrace: append only
        def append_only() -> CompactRange:
            cr = CompactRange()
            append = cr.append
            for record in self.data:
                append(leaf_hash(record))
            return cr

        seconds, cr = timed(append_only)
        self.rates["envtrace append"] = n / seconds

        # -- envtrace: append and keep every node in a dict (the store the proofs are served from)
        def append_and_store() -> tuple[CompactRange, dict[tuple[int, int], bytes]]:
            cr = CompactRange()
            store: dict[tuple[int, int], bytes] = {}
            append = cr.append
            for record in self.data:
                for level, index, value in append(leaf_hash(record)):
                    store[level, index] = value
            return cr, store

        seconds, built = timed(append_and_store)
        stored: CompactRange = built[0]
        store: dict[tuple[int, int], bytes] = built[1]
        self.rates["envtrace append+store"] = n / seconds
        root = cr.root()
        if stored.root() != root:
            raise AssertionError("the two envtrace runs disagree")

        # -- pymerkle: append
        def pm_append() -> Any:
            tree = pymerkle.InmemoryTree()
            append = tree.append_entry
            for record in self.data:
                append(record)
            return tree

        seconds, tree = timed(pm_append)
        self.rates["pymerkle append"] = n / seconds
        pm_root = tree.get_root() if hasattr(tree, "get_root") else tree.get_state()  # 7.x, 6.x
        if pm_root != root:
            raise AssertionError("envtrace and pymerkle disagree on the root")

        # -- proofs
        def get_node(level: int, index: int) -> bytes:
            return store[level, index]

        seconds, proofs = timed(lambda: [inclusion_proof(i, n, get_node) for i in self.indices])
        self.rates["envtrace prove"] = k / seconds
        seconds, pm_proofs = timed(lambda: [tree.prove_inclusion(i + 1) for i in self.indices])
        self.rates["pymerkle prove"] = k / seconds
        for i, ours, theirs in zip(self.indices[:200], proofs, pm_proofs, strict=False):
            if theirs.path[0] != store[0, i] or list(theirs.path[1:]) != ours:
                raise AssertionError(f"envtrace and pymerkle disagree on the proof of leaf {i}")

        # -- verification
        leaves = [store[0, i] for i in self.indices]

        def verify_ours() -> None:
            for index, leaf, proof in zip(self.indices, leaves, proofs, strict=True):
                verify_inclusion(leaf, index, n, proof, root)

        def verify_theirs() -> None:
            verify = pymerkle.verify_inclusion
            for leaf, proof in zip(leaves, pm_proofs, strict=True):
                verify(leaf, root, proof)

        seconds, _ = timed(verify_ours)
        self.rates["envtrace verify"] = k / seconds
        seconds, _ = timed(verify_theirs)
        self.rates["pymerkle verify"] = k / seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 leaves, 5,000 proofs")
    parser.add_argument("--leaves", type=int, help="tree size (default 200,000; 20,000 with --quick)")
    parser.add_argument("--proofs", type=int, help="proofs built and verified per repetition")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (medians are reported)")
    parser.add_argument("--seed", type=int, default=212)
    args = parser.parse_args(argv)
    leaves = args.leaves or (20_000 if args.quick else 200_000)
    count = args.proofs or (5_000 if args.quick else 20_000)

    data = records(leaves)
    rng = random.Random(args.seed)
    rounds = []
    for _ in range(args.repeat):
        round_ = Round(data, [rng.randrange(leaves) for _ in range(count)])
        round_.run()
        rounds.append(round_)
    median = {name: statistics.median(r.rates[name] for r in rounds) for name in rounds[0].rates}

    print(f"envtrace.ledger vs pymerkle {pymerkle.__version__}: {leaves} leaves, {count} proofs, ")
    print(f"median of {args.repeat} repetitions, Python {sys.version.split()[0]}")
    print(f"{'operation':<10} {'envtrace/s':>14} {'pymerkle/s':>14} {'ratio':>7}")
    ratios = []
    for op in ("append", "prove", "verify"):
        ours, theirs = median[f"envtrace {op}"], median[f"pymerkle {op}"]
        ratios.append(ours / theirs)
        print(f"{op:<10} {ours:>14,.0f} {theirs:>14,.0f} {ours / theirs:>7.2f}")
    store_rate = median["envtrace append+store"]
    print(f"(envtrace append with every node put in a dict: {store_rate:,.0f}/s, ", end="")
    print(f"{store_rate / median['pymerkle append']:.2f}x pymerkle)")
    print(
        f"appends_per_s={median['envtrace append']:.0f} proofs_per_s={median['envtrace prove']:.0f} "
        f"verifies_per_s={median['envtrace verify']:.0f} ratio_vs_pymerkle={min(ratios):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
