"""Generate the JSON probes in tests/ledger/vectors/ from happy paths by systematic tampering.

    .venv/bin/python -m tests.ledger.gen_vectors          # rewrite the vectors
    .venv/bin/python -m tests.ledger.gen_vectors --check  # exit 1 if the files differ

Every probe is one file with its inputs, a `desc` and `want_error` (null, or the name of the
`envtrace.ledger` error class the verifier must raise). Nothing here uses `envtrace.ledger`: the
happy proofs come from the reference transcription of RFC 9162 (`reference.py`), signatures are
made with `cryptography` directly, and `want_error` follows from the verifiers' documented order
of checks, with the RFC's own verification algorithm deciding between success and `RootMismatch`.
`test_vectors.py` fails when the files on disk drift from what this script produces.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .reference import RFC_LEAVES, ReferenceTree, rfc_verify_consistency, rfc_verify_inclusion

VECTORS = Path(__file__).resolve().parent / "vectors"

# RFC 6962 / 9162 test leaves, then deterministic filler for the larger trees.
ENTRIES = RFC_LEAVES + [f"envtrace vector leaf {i}".encode() for i in range(8, 300)]
TREE = ReferenceTree(ENTRIES)
EMPTY_ROOT = hashlib.sha256(b"").digest()

INCLUSION_BASES = [
    (0, 1), (0, 2), (1, 2), (2, 3), (0, 5), (4, 5), (3, 7), (6, 7), (0, 8), (5, 8),
    (12, 13), (16, 33), (32, 33), (100, 130), (129, 130),
]  # fmt: skip
CONSISTENCY_BASES = [
    (1, 1), (0, 5), (1, 2), (1, 8), (3, 7), (4, 7), (5, 8), (6, 8), (7, 8),
    (13, 30), (16, 33), (31, 32), (32, 64), (64, 130), (100, 130), (129, 130),
]  # fmt: skip

Probe = dict[str, Any]

SAME_SHAPE = (
    " (accepted, as by RFC 9162's algorithm: the proof has the same shape for both sizes, and the"
    " root still matches; a verifier must take size and root together from one checkpoint)"
)
EMPTY_PREFIX = " (accepted: the empty tree is a prefix of every tree, so nothing is proven)"


def flip(value: bytes, bit: int = 0) -> bytes:
    """`value` with one bit flipped (bit 0 of the byte in the middle by default)."""
    data = bytearray(value)
    data[len(data) // 2] ^= 1 << bit
    return bytes(data)


# ---- inclusion -------------------------------------------------------------------------------


def expect_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> str | None:
    if size < 0:
        return "BadSize"
    if not 0 <= index < size:
        return "IndexOutOfRange"
    if len(leaf) != 32:
        return "BadNode"
    if len(proof) != len(TREE.inclusion(index, size)) or any(len(p) != 32 for p in proof):
        return "InvalidProof"
    return None if rfc_verify_inclusion(leaf, index, size, proof, root) else "RootMismatch"


def inclusion_probes(index: int, size: int) -> Iterator[tuple[str, Probe]]:
    leaf, proof, root = TREE.leaf_hash(index), TREE.inclusion(index, size), TREE.root(size)

    def probe(tag: str, desc: str, **changes: Any) -> tuple[str, Probe]:
        args: dict[str, Any] = {"leaf": leaf, "index": index, "size": size, "proof": proof, "root": root}
        args.update(changes)
        want = expect_inclusion(args["leaf"], args["index"], args["size"], args["proof"], args["root"])
        if want is None and changes:
            desc += SAME_SHAPE
        body = {
            "desc": f"inclusion of leaf {index} in size {size}: {desc}",
            "leaf_index": args["index"],
            "tree_size": args["size"],
            "leaf_hash": args["leaf"].hex(),
            "proof": [p.hex() for p in args["proof"]],
            "root": args["root"].hex(),
            "want_error": want,
        }
        return f"size{size}-index{index}-{tag}", body

    yield probe("happy", "the proof from RFC 9162 PATH")
    for i in range(len(proof)):
        bad = [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
        yield probe(f"bitflip@{i}", f"one bit flipped in proof hash {i}", proof=bad)
    yield probe("wrong-leaf", "one bit flipped in the leaf hash", leaf=flip(leaf))
    yield probe("other-leaf", "the hash of another leaf", leaf=TREE.leaf_hash(299))
    yield probe("wrong-root", "one bit flipped in the root", root=flip(root))
    yield probe("stale-root", "the root of the tree one leaf smaller", root=TREE.root(size - 1))
    for tag, new_index in (("index+1", index + 1), ("index-1", index - 1)):
        yield probe(tag, f"claimed index {new_index}", index=new_index)
    for tag, new_size in (("size+1", size + 1), ("size-1", size - 1), ("size*2", size * 2)):
        if new_size != size:
            yield probe(tag, f"claimed tree size {new_size}", size=new_size)
    yield probe("size-negative", "claimed tree size -1", size=-1)
    yield probe("extra-last", "an extra hash at the end", proof=[*proof, root])
    yield probe("extra-first", "an extra hash at the start", proof=[leaf, *proof])
    if proof:
        yield probe("missing-last", "the last hash removed", proof=proof[:-1])
        yield probe("missing-first", "the first hash removed", proof=proof[1:])
        yield probe("long-hash", "a trailing byte added to hash 0", proof=[proof[0] + b"\x00", *proof[1:]])
        yield probe("short-hash", "the last byte of hash 0 removed", proof=[proof[0][:-1], *proof[1:]])
    yield probe("long-leaf", "a trailing byte added to the leaf hash", leaf=leaf + b"\x00")


# ---- consistency -----------------------------------------------------------------------------


def expect_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> str | None:
    if size1 < 0 or size2 < 0 or size1 > size2:
        return "BadSize"
    if size1 == 0 or size1 == size2:
        if proof:
            return "InvalidProof"
        if size1 == 0:
            return None if root1 == EMPTY_ROOT else "RootMismatch"
        return None if root1 == root2 else "RootMismatch"
    if len(proof) != len(TREE.consistency(size1, size2)) or any(len(p) != 32 for p in proof):
        return "InvalidProof"
    return None if rfc_verify_consistency(size1, size2, root1, root2, proof) else "RootMismatch"


def consistency_probes(size1: int, size2: int) -> Iterator[tuple[str, Probe]]:
    root1, root2 = TREE.root(size1), TREE.root(size2)
    proof = TREE.consistency(size1, size2) if size1 else []

    def probe(tag: str, desc: str, **changes: Any) -> tuple[str, Probe]:
        args: dict[str, Any] = {"size1": size1, "size2": size2, "root1": root1, "root2": root2}
        args["proof"] = proof
        args.update(changes)
        want = expect_consistency(args["size1"], args["size2"], args["root1"], args["root2"], args["proof"])
        if want is None and changes:
            desc += EMPTY_PREFIX if args["size1"] == 0 else SAME_SHAPE
        body = {
            "desc": f"consistency of size {size1} with size {size2}: {desc}",
            "size1": args["size1"],
            "size2": args["size2"],
            "root1": args["root1"].hex(),
            "root2": args["root2"].hex(),
            "proof": [p.hex() for p in args["proof"]],
            "want_error": want,
        }
        return f"size{size1}-to-{size2}-{tag}", body

    yield probe("happy", "the proof from RFC 9162 PROOF")
    for i in range(len(proof)):
        bad = [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
        yield probe(f"bitflip@{i}", f"one bit flipped in proof hash {i}", proof=bad)
    yield probe("wrong-root1", "one bit flipped in the first root", root1=flip(root1))
    yield probe("wrong-root2", "one bit flipped in the second root", root2=flip(root2))
    if root1 != root2:
        yield probe("swapped-roots", "the two roots swapped", root1=root2, root2=root1)
    for tag, new1 in (("size1+1", size1 + 1), ("size1-1", size1 - 1), ("size1*2", size1 * 2)):
        if new1 != size1:
            yield probe(tag, f"claimed first size {new1}", size1=new1)
    for tag, new2 in (("size2+1", size2 + 1), ("size2-1", size2 - 1), ("size2*2", size2 * 2)):
        if new2 != size2:
            yield probe(tag, f"claimed second size {new2}", size2=new2)
    yield probe("extra-last", "an extra hash at the end", proof=[*proof, root2])
    yield probe("extra-first", "an extra hash at the start", proof=[root1, *proof])
    if proof:
        yield probe("missing-last", "the last hash removed", proof=proof[:-1])
        yield probe("missing-first", "the first hash removed", proof=proof[1:])
        yield probe("long-hash", "a trailing byte added to hash 0", proof=[proof[0] + b"\x00", *proof[1:]])
        yield probe("short-hash", "the last byte of hash 0 removed", proof=[proof[0][:-1], *proof[1:]])


# ---- checkpoints -----------------------------------------------------------------------------


class _Key:
    """A note signer made with `cryptography` directly, from a fixed seed."""

    def __init__(self, label: str, name: str) -> None:
        self.private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())
        self.public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.name = name
        self.key_id = hashlib.sha256(name.encode() + b"\n\x01" + self.public).digest()[:4]

    def vkey(self) -> str:
        encoded = base64.b64encode(b"\x01" + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def line(self, text: str) -> str:
        blob = self.key_id + self.private.sign(text.encode())
        return f"\u2014 {self.name} {base64.b64encode(blob).decode()}\n"


ORIGIN = "envtrace.example.gov.cn/log"
KEY_A = _Key("envtrace vector key A", ORIGIN)
KEY_B = _Key("envtrace vector key B (rotated in)", ORIGIN)
KEY_C = _Key("envtrace vector key C (unknown)", "witness.example.org")


def body(size: int = 8, root: str | None = None, time: str = "time 1700000000", origin: str = ORIGIN) -> str:
    root = root if root is not None else base64.b64encode(TREE.root(8)).decode()
    return f"{origin}\n{size}\n{root}\n{time}\n"


def signed(text: str, *keys: _Key) -> str:
    return text + "\n" + "".join(k.line(text) for k in keys)


def checkpoint_probes() -> Iterator[tuple[str, Probe]]:
    good = body()
    note_a = signed(good, KEY_A)
    want = {"origin": ORIGIN, "size": 8, "root": TREE.root(8).hex(), "timestamp": 1700000000}
    a, ab = [KEY_A.vkey()], [KEY_A.vkey(), KEY_B.vkey()]

    def probe(tag: str, desc: str, note: str, verifiers: list[str], error: str | None) -> tuple[str, Probe]:
        return tag, {
            "desc": desc,
            "note": note,
            "verifiers": verifiers,
            "want_error": error,
            "want": want if error is None else None,
        }

    def resign(text: str) -> str:
        return signed(text, KEY_A)

    sig_a = KEY_A.line(good)
    blob = base64.b64decode(sig_a.split(" ")[2])
    yield probe("happy", "signed by the log key", note_a, a, None)
    yield probe(
        "rotated-new-key", "signed by the new key only, both keys trusted", signed(good, KEY_B), ab, None
    )
    yield probe("rotated-both", "signed by old and new key", signed(good, KEY_A, KEY_B), ab, None)
    yield probe(
        "rotated-old-only-trusted",
        "signed by the new key, only the old trusted",
        signed(good, KEY_B),
        a,
        "SignatureError",
    )
    yield probe(
        "unknown-cosigner-ignored", "log key plus an unknown witness", signed(good, KEY_A, KEY_C), a, None
    )
    yield probe("unknown-only", "signed by an unknown key only", signed(good, KEY_C), a, "SignatureError")
    yield probe("no-verifiers", "no trusted keys at all", note_a, [], "SignatureError")
    bad_b = signed(good, KEY_A) + KEY_B.line(good.replace("\n8\n", "\n9\n"))
    yield probe("known-bad-second", "a second known key's signature fails", bad_b, ab, "SignatureError")
    for tag, old, new in (
        ("body-size", "\n8\n", "\n9\n"),
        ("body-time", "1700000000", "1700000001"),
        ("body-origin", "envtrace", "envtracf"),
    ):
        yield probe(
            f"tampered-{tag}",
            f"body changed ({old.strip()} -> {new.strip()})",
            note_a.replace(old, new, 1),
            a,
            "SignatureError",
        )
    root_b64 = base64.b64encode(TREE.root(8)).decode()
    other_root = base64.b64encode(flip(TREE.root(8))).decode()
    yield probe(
        "tampered-root",
        "one bit of the root flipped",
        note_a.replace(root_b64, other_root),
        a,
        "SignatureError",
    )
    for name, bad in (
        ("sig-bitflip", blob[:4] + flip(blob[4:])),
        ("keyid-bitflip", flip(blob[:4]) + blob[4:]),
        ("sig-truncated", blob[:-1]),
    ):
        line = f"\u2014 {ORIGIN} {base64.b64encode(bad).decode()}\n"
        yield probe(name, f"signature line altered: {name}", good + "\n" + line, a, "SignatureError")
    yield probe(
        "wrong-key-name",
        "the log key under another name",
        good + "\n" + sig_a.replace(ORIGIN, "other.example"),
        a,
        "SignatureError",
    )
    malformed = [
        ("no-blank-line", "no blank line before the signature", good + sig_a),
        ("no-signature", "a blank line but no signature line", good + "\n"),
        (
            "sig-bad-base64",
            "signature not base64",
            good + "\n" + sig_a.replace(sig_a.split(" ")[2][:4], "!!!!"),
        ),
        (
            "sig-noncanonical-base64",
            "signature base64 without padding",
            good + "\n" + sig_a.replace("=\n", "\n"),
        ),
        ("sig-trailing-space", "a space after the signature", good + "\n" + sig_a.replace("\n", " \n")),
        (
            "sig-double-space",
            "two spaces after the name",
            good + "\n" + sig_a.replace(f"{ORIGIN} ", f"{ORIGIN}  "),
        ),
        ("sig-ascii-dash", "ASCII '--' instead of the em dash", good + "\n" + sig_a.replace("\u2014", "--")),
        ("no-final-newline", "the last line has no newline", note_a[:-1]),
        ("crlf", "CRLF line ends", note_a.replace("\n", "\r\n")),
        ("tab", "a tab in the body", resign(body(time="time\t1700000000"))),
        ("size-leading-zero", "size 08", resign(body(size=8).replace("\n8\n", "\n08\n"))),
        ("size-plus", "size +8", resign(body().replace("\n8\n", "\n+8\n"))),
        ("size-negative", "size -1", resign(body().replace("\n8\n", "\n-1\n"))),
        ("size-not-decimal", "size 0x8", resign(body().replace("\n8\n", "\n0x8\n"))),
        ("size-fraction", "size 8.0", resign(body().replace("\n8\n", "\n8.0\n"))),
        ("size-space", "size ' 8'", resign(body().replace("\n8\n", "\n 8\n"))),
        ("size-too-large", "size 2**64", resign(body(size=1 << 64))),
        ("size-arabic-digit", "size in Arabic-Indic digits", resign(body().replace("\n8\n", "\n\u0668\n"))),
        ("root-short", "a 31-byte root", resign(body(root=base64.b64encode(TREE.root(8)[:31]).decode()))),
        ("root-bad-base64", "root not base64", resign(body(root="not base64!"))),
        ("root-unpadded", "root base64 without padding", resign(body(root=root_b64.rstrip("=")))),
        ("root-trailing-space", "root followed by a space", resign(body(root=root_b64 + " "))),
        ("time-missing", "no time line", resign(body().replace("time 1700000000\n", ""))),
        ("time-keyword", "'Time' instead of 'time'", resign(body(time="Time 1700000000"))),
        ("time-double-space", "two spaces after 'time'", resign(body(time="time  1700000000"))),
        ("time-negative", "time -5", resign(body(time="time -5"))),
        ("extra-line", "a fifth body line", resign(body() + "extra\n")),
        ("empty-line-in-body", "an empty line inside the body", resign(body().replace("\n8\n", "\n\n8\n"))),
        ("origin-trailing-space", "origin followed by a space", resign(body(origin=ORIGIN + " "))),
        ("origin-empty", "an empty origin", resign(body(origin=""))),
    ]
    for tag, desc, note in malformed:
        yield probe(f"malformed-{tag}", desc, note, a, "MalformedCheckpoint")


def build() -> dict[str, Probe]:
    """Every probe, keyed by its path under vectors/ (without .json)."""
    probes: dict[str, Probe] = {}
    sources: list[tuple[str, Callable[[], Iterator[tuple[str, Probe]]]]] = []
    for index, size in INCLUSION_BASES:
        sources.append(("inclusion", functools.partial(inclusion_probes, index, size)))
    for size1, size2 in CONSISTENCY_BASES:
        sources.append(("consistency", functools.partial(consistency_probes, size1, size2)))
    sources.append(("checkpoint", checkpoint_probes))
    for folder, make in sources:
        for name, probe in make():
            key = f"{folder}/{name}"
            if key in probes:
                raise RuntimeError(f"duplicate probe {key}")
            probes[key] = probe
    return probes


def render(probe: Probe) -> str:
    return json.dumps(probe, indent=1, ensure_ascii=False) + "\n"


def on_disk() -> dict[str, str]:
    return {
        str(path.relative_to(VECTORS).with_suffix("")): path.read_text(encoding="utf-8")
        for path in sorted(VECTORS.glob("*/*.json"))
    }


def main(argv: list[str]) -> int:
    wanted = {key: render(probe) for key, probe in build().items()}
    if "--check" in argv:
        if on_disk() != wanted:
            print("tests/ledger/vectors drifted: run python -m tests.ledger.gen_vectors", file=sys.stderr)
            return 1
        return 0
    for path in VECTORS.glob("*/*.json"):
        if str(path.relative_to(VECTORS).with_suffix("")) not in wanted:
            path.unlink()
    for key, text in wanted.items():
        path = VECTORS / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    print(f"{len(wanted)} probes in {VECTORS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
