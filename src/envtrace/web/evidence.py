"""Showing raw bytes safely and proving a frame's place in the ledger.

Raw frames are shown as text with every byte outside printable ASCII (and every non-UTF-8 byte)
escaped as ``\\xNN``, plus a hex dump; the page autoescapes the result, so no byte a station sent
can become markup. The inclusion proof is computed from the stored ledger nodes against the newest
checkpoint that covers the leaf (or the current head) and verified before it is shown.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from envtrace.ledger import LedgerError, inclusion_proof, leaf_hash, verify_inclusion
from envtrace.store import console
from envtrace.store.errors import StoreError
from envtrace.store.ledger_log import node_getter
from envtrace.store.ledger_tables import ledger_head, ledger_leaf
from envtrace.web.models import InclusionProofOut


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
    )
