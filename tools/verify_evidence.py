#!/usr/bin/env python3
"""Check an envtrace evidence bundle without envtrace: Python's standard library + ``cryptography``.

    python3 verify_evidence.py BUNDLE.json [--pubkey KEY.vkey] [--checkpoint WITNESS.txt] [--json]

What it checks, each from first principles (RFC 9162, C2SP signed-note), trusting nothing the
platform computed:

1. the checkpoint note is signed by a trusted Ed25519 key (the bundle's keys, or only the ones
   given with --pubkey, obtained from the department through another channel) for the bundle's log;
2. the leaf (the record as sealed) is in the tree of that checkpoint (inclusion proof);
3. the raw frame's bytes have the SHA-256 and length the leaf sealed, and its receipt metadata
   (station, MN, command, QN, data time, status ...) is what the leaf sealed;
4. the readings give the digest the leaf sealed, and every value is in the raw frame under its
   factor code (plain frames; SM4-encrypted frames are bound by the digest only);
5. every consistency proof in the bundle, and each --checkpoint (a witness's copy of a published
   checkpoint) against the bundle's checkpoint.

Exit status: 0 valid, 1 invalid (the first failing check is printed), 2 unreadable input.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT, VERSION = "envtrace-evidence-bundle", 1
SLOTS = {"Rtd": 0, "Avg": 0, "Min": 1, "Max": 2, "Cou": 3, "ZsRtd": 4, "ZsAvg": 4, "ZsMin": 5, "ZsMax": 6}
FIELDS = (
    "received_us",
    "peer",
    "station_id",
    "mn",
    "cn",
    "qn",
    "pnum",
    "pno",
    "data_ts",
    "status",
    "edition",
    "wire",
)


class Invalid(Exception):
    """A check failed: args are (check, reason)."""


def b64(text: str) -> bytes:
    """Strict base64: the one canonical spelling of the bytes, or ValueError."""
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError(f"not canonical base64: {text[:40]!r}")
    return data


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def parse_vkey(vkey: str) -> tuple[str, bytes, bytes]:
    """(name, key id, Ed25519 public key) of a note verifier key ``name+hexid+base64(0x01||key)``."""
    name, key_id, blob = vkey.strip().split("+", 2)
    raw = b64(blob)
    if len(raw) != 33 or raw[0] != 1:
        raise ValueError(f"not an Ed25519 verifier key: {vkey!r}")
    if sha256(name.encode() + b"\n\x01" + raw[1:])[:4].hex() != key_id:
        raise ValueError(f"the key id of {vkey!r} does not match its key")
    return name, bytes.fromhex(key_id), raw[1:]


def open_checkpoint(
    note: str, keys: list[tuple[str, bytes, bytes]], origin: str
) -> tuple[int, bytes, list[str]]:
    """(size, root, signer names) of a checkpoint note with at least one valid trusted signature."""
    text, sep, sigs = note.partition("\n\n")
    lines = text.split("\n")
    if not sep or len(lines) != 4 or not note.endswith("\n"):
        raise Invalid("checkpoint", "not a signed checkpoint note")
    signers = []
    for line in sigs.rstrip("\n").split("\n"):
        dash, name, blob = line.split(" ")
        sig = b64(blob)
        for kname, kid, public in keys:
            if dash == "\u2014" and name == kname and sig[:4] == kid:
                try:
                    Ed25519PublicKey.from_public_bytes(public).verify(sig[4:], (text + "\n").encode())
                except InvalidSignature:
                    raise Invalid("checkpoint", f"the signature of {name} does not verify") from None
                signers.append(name)
    if not signers:
        raise Invalid("checkpoint", "no trusted key signed it")
    if lines[0] != origin:
        raise Invalid("checkpoint", f"it is a checkpoint of {lines[0]!r}, not {origin!r}")
    size, root = int(lines[1]), b64(lines[2])
    if str(size) != lines[1] or len(root) != 32 or not lines[3].startswith("time "):
        raise Invalid("checkpoint", "malformed size, root or time line")
    return size, root, signers


def root_from_inclusion(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        raise Invalid("inclusion", f"index {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise Invalid("inclusion", "the proof is too long")
        if fn % 2 == 1 or fn == sn:
            r = node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Invalid("inclusion", "the proof is too short")
    return r


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, path: list[bytes]) -> None:
    """RFC 9162 §2.1.4.2."""
    if size1 == size2 or size1 == 0:
        if path or (size1 == size2 and root1 != root2):
            raise Invalid("consistency", f"sizes {size1} and {size2} need an empty proof and equal roots")
        return
    if not 0 < size1 < size2 or not path:
        raise Invalid("consistency", f"no proof from size {size1} to {size2}")
    if size1 & (size1 - 1) == 0:
        path = [root1, *path]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Invalid("consistency", "the proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if fr != root1 or sr != root2 or sn != 0:
        raise Invalid("consistency", f"the tree of size {size2} does not extend the tree of size {size1}")


def hashes(values: list[str]) -> list[bytes]:
    out = [bytes.fromhex(v) for v in values]
    if any(len(h) != 32 or h.hex() != v for h, v in zip(out, values, strict=True)):
        raise Invalid("structure", "a proof holds something that is not a 32-byte lowercase hex hash")
    return out


def check_leaf(part: dict, inclusion: dict, size: int, root: bytes) -> dict:
    data = b64(part["bytes_b64"])
    leaf = sha256(b"\x00" + data)
    if leaf.hex() != part["hash"] or inclusion["tree_size"] != size:
        raise Invalid("leaf", "the leaf bytes or the proof's size are not the bundle's")
    if root_from_inclusion(leaf, part["index"], size, hashes(inclusion["path"])) != root:
        raise Invalid("inclusion", f"leaf {part['index']} is not in the signed tree of size {size}")
    doc = json.loads(data)
    if doc.get("kind") != part["kind"]:
        raise Invalid("leaf", "the leaf's kind is not the bundle's")
    return doc


def check_frame(frame: dict, doc: dict) -> bytes:
    raw = b64(frame["raw_b64"])
    if hashlib.sha256(raw).hexdigest() != doc["raw_sha256"] or len(raw) != doc["raw_len"]:
        raise Invalid("raw frame", "the raw bytes are not the bytes the leaf sealed")
    for name in ("id", *FIELDS):
        if frame.get(name) != doc.get("frame_id" if name == "id" else name):
            raise Invalid("raw frame", f"{name} is not what the leaf sealed")
    return raw


def cp_items(raw: bytes) -> dict[str, dict[str, str]]:
    """Factor items ``code -> {suffix: text}`` of a plain HJ 212 frame's CP."""
    text = raw.decode("utf-8").rstrip("\r\n")[6:-4]
    cp = text[text.index("CP=&&") + 5 : text.rindex("&&")]
    items: dict[str, dict[str, str]] = {}
    for group in cp.split(";"):
        for pair in group.split(","):
            key, _, value = pair.partition("=")
            code, dash, suffix = key.rpartition("-")
            if dash and key != "DataTime":
                items.setdefault(code, {})[suffix] = value
    return items


def check_readings(bundle: dict, doc: dict, raws: list[tuple[int, bytes]]) -> str:
    records = (bundle.get("readings") or {}).get("records") or []
    ordered = sorted(records, key=lambda r: (str(r[0]), str(r[1]), str(r[2])))
    text = json.dumps(ordered, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(text.encode("ascii")).hexdigest() if records else None
    if digest != doc.get("readings_sha256") or len(records) != (doc.get("readings") or 0):
        raise Invalid("readings", "the readings do not give the digest the leaf sealed")
    if not records:
        return "no readings"
    if doc["wire"] != "plain":
        return f"{len(records)} readings bound to the sealed digest (SM4-encrypted frame)"
    items: dict[str, dict[str, str]] = {}
    for _, raw in sorted(raws):
        for code, fields in cp_items(raw).items():
            items.setdefault(code, {}).update(fields)
    named = set()
    for param, _gran, ts, values, flag, eflag, _sample, extra in records:
        code = json.loads(extra).get("code", param) if extra else param
        named.add(code)
        fields = items.get(code, {})
        if ts != doc["data_ts"] or fields.get("Flag", flag) != flag or fields.get("EFlag", eflag) != eflag:
            raise Invalid("readings", f"{param}: data time or flags are not the raw frame's")
        for slot, value in enumerate(values):
            raw_values = {repr(float(t)) for s, t in fields.items() if SLOTS.get(s) == slot and _number(t)}
            if value is not None and value not in raw_values:
                raise Invalid(
                    "readings", f"{param} slot {slot}: {value} is not in the raw frame ({sorted(raw_values)})"
                )
    if named != set(items):
        raise Invalid("readings", f"the raw frame has items {sorted(set(items) - named)} the readings lack")
    return f"{len(records)} readings are in the raw frame and give the sealed digest"


def _number(text: str) -> bool:
    try:
        return float(text) not in (float("inf"), float("-inf")) and float(text) == float(text)
    except ValueError:
        return False


def verify(bundle: dict, pinned: list[str], witnesses: list[str]) -> list[str]:
    if bundle.get("format") != FORMAT or bundle.get("version") != VERSION:
        raise Invalid("structure", f"not an {FORMAT} version {VERSION}")
    keys = [parse_vkey(k) for k in (pinned or bundle["keys"])]
    size, root, signers = open_checkpoint(bundle["checkpoint"], keys, bundle["origin"])
    done = [f"checkpoint: size {size}, root {root.hex()}, signed by {', '.join(signers)}"]
    doc = check_leaf(bundle["leaf"], bundle["inclusion"], size, root)
    done.append(f"inclusion: leaf {bundle['leaf']['index']} ({doc['kind']}) is in the signed tree")
    if doc["kind"] == "raw_frame":
        raws = [(bundle["frame"].get("pno") or 0, check_frame(bundle["frame"], doc))]
        for part in bundle.get("parts") or []:
            pdoc = check_leaf(part["leaf"], part["inclusion"], size, root)
            raws.append((part["frame"].get("pno") or 0, check_frame(part["frame"], pdoc)))
        done.append(f"raw frame: {doc['raw_len']} bytes, SHA-256 {doc['raw_sha256']} as sealed")
        done.append("readings: " + check_readings(bundle, doc, raws))
    proven = {size: root}
    for entry in bundle["consistency"]:
        try:
            other_size, other_root, _ = open_checkpoint(entry["checkpoint"], keys, bundle["origin"])
        except Invalid as exc:
            if exc.args[1] == "no trusted key signed it":
                continue  # signed only by keys not trusted here (a pinned key after a rotation)
            raise
        (s1, r1), (s2, r2) = sorted([(other_size, other_root), (size, root)])
        verify_consistency(s1, s2, r1, r2, hashes(entry["proof"]))
        proven[other_size] = other_root
    done.append(f"consistency: {len(proven) - 1} other published checkpoints extend or are extended by it")
    for text in witnesses:
        parts = text.split("\n\n")
        for n in range(0, len(parts) - 1, 2):
            w_size, w_root, _ = open_checkpoint(
                f"{parts[n]}\n\n{parts[n + 1].rstrip(chr(10))}\n", keys, bundle["origin"]
            )
            if w_size not in proven:
                raise Invalid(
                    "witness",
                    f"the bundle holds no consistency proof for size {w_size} (export with --witness)",
                )
            if proven[w_size] != w_root:
                raise Invalid("witness", f"the witness holds another root for size {w_size}: the log forked")
            done.append(f"witness: checkpoint of size {w_size} agrees")
    return done


def read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def check(bundle: dict, pinned: list[str], witnesses: list[str]) -> tuple[bool, list[str]]:
    """(valid, what was checked) or (False, [the failing check and why])."""
    try:
        return True, verify(bundle, pinned, witnesses)
    except Invalid as exc:
        return False, [f"{exc.args[0]}: {exc.args[1]}"]
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return False, [f"structure: the bundle is malformed ({exc!r})"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--pubkey", action="append", default=[], help="trust only this key (vkey file)")
    parser.add_argument(
        "--checkpoint", action="append", default=[], help="a witness's checkpoint (note or file)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args(argv)
    try:
        bundle = json.loads(read(args.bundle))
        pinned = [read(p).strip() for p in args.pubkey]
        witnesses = [read(p) for p in args.checkpoint]
    except (OSError, ValueError) as exc:
        print(f"cannot read the input: {exc}", file=sys.stderr)
        return 2
    valid, lines = check(bundle, pinned, witnesses)
    if args.json:
        print(json.dumps({"valid": valid, "checked" if valid else "failed": lines}))
    elif valid:
        print("\n".join(f"ok {line}" for line in lines) + "\nVALID")
    else:
        print(f"INVALID {lines[0]}")
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
