"""Showing raw bytes safely, decoding them again, and proving a frame's place in the ledger.

Raw frames are shown as text with every byte outside printable ASCII (and every non-UTF-8 byte)
escaped as ``\\xNN``, plus a hex dump; the page autoescapes the result, so no byte a station sent
can become markup. The decoded view is the HJ 212 codec's reading of the stored bytes, made again
on every view (``envtrace.hj212.decode``: strict first, tolerant when only the known device
deviations stand in the way; SM4-encrypted CPs with the station's registered key), so it shows what
the bytes say, not what was stored from them. The access password PW is masked in the decoded
header and in the raw bytes shown (``mask_password``; the database and evidence bundles keep the
bytes as received, and the page gives their SHA-256). The inclusion proof is computed from the stored ledger
nodes against the newest checkpoint that covers the leaf (or the current head) and verified before
it is shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, select

from envtrace.evidence.derive import KeyHistory
from envtrace.hj212 import Decoded, code_2017, decode, factor
from envtrace.ledger import LedgerError, inclusion_proof, leaf_hash, verify_inclusion
from envtrace.store import console
from envtrace.store.errors import StoreError
from envtrace.store.ledger_log import node_getter
from envtrace.store.ledger_tables import ledger_head, ledger_leaf
from envtrace.web.models import CpItemOut, DecodedOut, InclusionProofOut

_PW = re.compile(rb"(?<![A-Za-z])PW=([^;&]*)")


def mask_password(raw: bytes) -> bytes:
    """``raw`` with the station's access password (the header's ``PW=`` value) replaced by as many
    ``*``: whoever reads a frame in the console must not learn what would let them send as the
    station. The exact bytes stay in the database and in evidence bundles (their hash is sealed)."""
    cp = raw.find(b"CP=&&")
    head = raw if cp < 0 else raw[:cp]
    found = _PW.search(head)
    if found is None:
        return raw
    start, end = found.span(1)
    return raw[:start] + b"*" * (end - start) + raw[end:]


def safe_text(raw: bytes) -> str:
    out = []
    for b in raw:
        if 0x20 <= b < 0x7F and b != 0x5C:
            out.append(chr(b))
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        else:
            out.append(f"\\x{b:02x}")
    text = "".join(out)
    # Keep valid UTF-8 (Chinese text in CP fields) readable: decode runs of non-ASCII bytes.
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return text
    if all(ch.isprintable() or ch in "\r\n" for ch in decoded):
        return decoded.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
    return text


def hex_dump(raw: bytes, width: int = 16) -> str:
    lines = []
    for off in range(0, len(raw), width):
        chunk = raw[off : off + width]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        ascii_ = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{off:08x}  {hexes:<{width * 3}} {ascii_}")
    return "\n".join(lines)


def inclusion(conn: Connection, leaf_index: int | None) -> InclusionProofOut | None:
    """A verified inclusion proof of ``leaf_index``, or None when there is none to give."""
    if leaf_index is None:
        return None
    try:
        payload = conn.execute(select(ledger_leaf.c.payload).where(ledger_leaf.c.idx == leaf_index)).scalar()
        if payload is None:
            return None
        cp = console.checkpoint_covering(conn, leaf_index)
        if cp is not None:
            size, root = cp.size, cp.root
        else:
            head = conn.execute(
                select(ledger_head.c.size, ledger_head.c.root).where(ledger_head.c.id == 1)
            ).first()
            if head is None or int(head[0]) <= leaf_index:
                return None
            size, root = int(head[0]), bytes(head[1])
        lh = leaf_hash(bytes(payload))
        path = inclusion_proof(leaf_index, size, node_getter(conn))
        verify_inclusion(lh, leaf_index, size, path, root)
    except (LedgerError, StoreError):
        return None
    return InclusionProofOut(
        leaf_index=leaf_index,
        tree_size=size,
        root_hex=root.hex(),
        leaf_hash_hex=lh.hex(),
        path_hex=[p.hex() for p in path],
        verified=True,
        checkpoint_id=None if cp is None else cp.id,
        checkpoint_ts=None if cp is None else cp.ts,
    )


def _items(d: Decoded) -> list[CpItemOut]:
    if d.packet is None:
        return []
    st = d.packet.st
    out = []
    for code, fields in d.packet.items.items():
        mapped = code_2017(code, st=st)
        f = factor(mapped) if mapped else None
        out.append(
            CpItemOut(
                code=code,
                code_2017=mapped,
                name_zh=None if f is None else f.name_zh,
                name_en=None if f is None else f.name_en,
                fields=dict(fields),
            )
        )
    return out


def station_keys(conn: Connection, state_dir: Path, station_id: int, received_us: int) -> list[bytes]:
    """The station's SM4 keys to try on a frame received at ``received_us``, in the verifier's order
    (``evidence.derive.KeyHistory``: those in use then first); none without the master key of
    ``state_dir`` (the frame is then shown undecoded)."""
    history = KeyHistory.load(conn, state_dir, station_ids=[station_id])
    return [] if history is None else history.candidates(station_id, received_us)


def decoded_view(raw: bytes, keys: Sequence[bytes] = ()) -> DecodedOut:
    """Decode ``raw`` again (strict, then tolerant); an encrypted CP with each of the station's
    SM4 ``keys`` in turn until one gives a conforming packet."""
    key = None
    strict = decode(raw, key=None, strict=True)
    for candidate in keys:
        attempt = decode(raw, key=candidate, strict=True)
        if attempt.ok or key is None:
            key, strict = candidate, attempt
        if attempt.ok:
            break
    d, mode, strict_error = strict, "strict", None
    if not strict.ok:
        tolerant = decode(raw, key=key, strict=False)
        if tolerant.ok:
            d, mode, strict_error = tolerant, "tolerant", str(strict.error)
    header = dict(d.header or {})
    if "PW" in header:
        header["PW"] = "******"
    return DecodedOut(
        ok=d.ok,
        mode=mode,
        error_kind=None if d.error is None else d.error.kind,
        error=None if d.error is None else str(d.error),
        strict_error=strict_error,
        deviations=list(d.deviations),
        edition=d.edition,
        wire_form=str(d.wire_form),
        crc=None if d.crc is None else f"{d.crc:04X}",
        crc_variant=d.crc_variant,
        decrypted=key is not None and d.wire_form != "plain" and d.packet is not None,
        header=header,
        fields={} if d.packet is None else dict(d.packet.fields),
        items=_items(d),
    )
