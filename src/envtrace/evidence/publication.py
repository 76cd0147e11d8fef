"""The database's tree against what was published: the check run at start-up and before signing.

The published record is the checkpoint file (``published``) backed by the ``ledger_checkpoint``
table. ``reconcile`` reads the tail of both: every checkpoint the table records must be in the file
(a table entry missing from the file means the file was replaced or rolled back), and file entries
newer than the table's last one (a crash between publishing and committing) are recorded in the
table once the tree is shown to extend them. ``check_extends`` proves, with an RFC 9162 consistency
proof built from the stored nodes, that the current tree extends the newest published checkpoint.

``check_against_published(engine, settings)`` is the start-up gate of ``envtrace serve``: it raises
a ``PublicationError`` naming the checkpoint, the sizes and the roots when the platform must not run
(fork, truncation, replaced file, untrusted signature), and otherwise makes sure a signing key exists.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from envtrace.evidence.errors import (
    CheckpointFileCorrupt,
    OriginMismatch,
    PublicationMismatch,
    TreeForked,
    TreeTruncated,
)
from envtrace.evidence.keys import KeyRing
from envtrace.evidence.options import EvidenceOptions
from envtrace.evidence.published import SignedCheckpoint, note_checkpoint, open_signed, split_notes
from envtrace.ledger import (
    CompactRange,
    LedgerError,
    VerifyingKey,
    consistency_proof,
    frontier_ids,
    open_note,
    verify_consistency,
)
from envtrace.store import LedgerHead, add_checkpoint, get_node, node_getter, read_head, write_transaction
from envtrace.store.errors import StoreError
from envtrace.store.ledger_tables import ledger_checkpoint

log = logging.getLogger("envtrace.evidence")

TAIL = 16
"""How many of the newest file and table entries are compared on start-up and before signing."""


@dataclass(frozen=True, slots=True)
class TableCheckpoint:
    id: int
    size: int
    root: bytes
    ts: int
    note: str
    key_id: str


def table_checkpoints(conn: Connection, *, last: int | None = None) -> list[TableCheckpoint]:
    """Checkpoints recorded in the database, oldest first (only the ``last`` newest if given)."""
    c = ledger_checkpoint.c
    query = select(c.id, c.size, c.root, c.ts, c.note, c.key_id).order_by(c.id.desc())
    if last is not None:
        query = query.limit(last)
    rows = [
        TableCheckpoint(int(r[0]), int(r[1]), bytes(r[2]), int(r[3]), r[4], r[5]) for r in conn.execute(query)
    ]
    rows.reverse()
    return rows


def read_tail(path: Path, count: int = TAIL) -> list[str] | None:
    """The last ``count`` notes of the checkpoint file (None when there is no file)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    block = 16_384
    with path.open("rb") as fh:
        while True:
            start = max(0, size - block)
            fh.seek(start)
            data = fh.read()
            if start > 0:
                # an entry starts after an empty line that is not followed by a signature line
                cut = -1
                pos = data.find(b"\n\n")
                while pos != -1:
                    if not data.startswith("\u2014".encode(), pos + 2):
                        cut = pos + 2
                        break
                    pos = data.find(b"\n\n", pos + 2)
                if cut == -1 or data[cut:].count(b"\n\n") < 2 * count:
                    block *= 4
                    continue
                data = data[cut:]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CheckpointFileCorrupt(path, 0, f"not UTF-8 text: {exc}") from exc
            return split_notes(text, path)[-count:]


def cut_torn_tail(path: Path) -> bool:
    """Cut an incomplete last entry off the checkpoint file (a write torn by a power loss: it was
    never committed, since the table row commits after the file is written). True if cut."""
    data = path.read_bytes()
    if not data or data.endswith(b"\n\n"):
        return False
    boundary = 0
    pos = data.find(b"\n\n")
    while pos != -1:
        if not data.startswith("\u2014".encode(), pos + 2):
            boundary = pos + 2
        pos = data.find(b"\n\n", pos + 2)
    split_notes(data[:boundary].decode("utf-8"), path)  # what stays must be whole entries
    with path.open("r+b") as fh:
        fh.truncate(boundary)
        fh.flush()
        os.fsync(fh.fileno())
    log.warning("cut an incomplete last entry (%d bytes) off %s", len(data) - boundary, path)
    return True


def published_tail(path: Path, count: int = TAIL) -> list[str] | None:
    """``read_tail``, after cutting an entry torn by a power loss (``cut_torn_tail``)."""
    try:
        return read_tail(path, count)
    except CheckpointFileCorrupt as exc:
        if "incomplete" not in exc.reason or not cut_torn_tail(path):
            raise
    return read_tail(path, count)


def resolve_origin(options: EvidenceOptions, ring: KeyRing, published: Sequence[str]) -> str:
    """The origin of this database's log: the published one, else the keys', else configured/default."""
    found, where = None, ""
    if published:
        found, where = note_checkpoint(published[-1]).origin, "the newest published checkpoint"
    elif ring.origin() is not None:
        found, where = ring.origin(), f"the key ring in {ring.dir}"
    if found is not None:
        if options.origin is not None and options.origin != found:
            raise OriginMismatch(options.origin, found, where)
        return found
    return options.origin or options.default_origin


@contextmanager
def publication_lock(options: EvidenceOptions) -> Iterator[None]:
    """One signer or checker at a time per state folder (an advisory lock on a file beside it)."""
    options.state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(options.state_dir / ".publication.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _describe(source: str, cp: TableCheckpoint) -> str:
    return f"{source} id {cp.id}"


def reconcile(
    engine: Engine, options: EvidenceOptions, verifiers: Sequence[VerifyingKey], origin: str
) -> SignedCheckpoint | None:
    """The newest published checkpoint, verified, after comparing the file with the table.

    Returns None when nothing was ever published. Records in the table the newest file entries it
    lacks (after ``check_extends`` has shown the tree extends them)."""
    path = options.checkpoint_file
    notes = published_tail(path)
    with engine.connect() as conn:
        table = table_checkpoints(conn, last=TAIL)
    if not notes:
        if table:
            last = table[-1]
            state = "missing" if notes is None else "empty"
            raise PublicationMismatch(
                f"recorded in the database but the published checkpoint file {path} is {state}: restore "
                "it from a backup or a witness's copy",
                source=_describe("ledger_checkpoint", last),
                size=last.size,
                root=last.root,
            )
        return None
    tip = open_signed(notes[-1], verifiers, origin=origin, source=f"{path} (newest entry)")
    unrecorded = list(notes)
    if table:
        last = table[-1]
        if last.note not in notes:
            raise PublicationMismatch(
                f"recorded in the database but not among the newest {len(notes)} entries of {path}: "
                "the published file was replaced or rolled back",
                source=_describe("ledger_checkpoint", last),
                size=last.size,
                root=last.root,
            )
        unrecorded = notes[notes.index(last.note) + 1 :]
    if unrecorded:
        with engine.connect() as conn, conn.begin():
            check_extends(conn, tip)
        with write_transaction(engine) as conn:
            for note in unrecorded:
                cp = open_signed(note, verifiers, origin=origin, source=str(path))
                key_id = note_key_ids(note, verifiers)
                add_checkpoint(conn, size=cp.size, root=cp.root, ts=cp.timestamp, note=note, key_id=key_id)
        log.warning(
            "recorded %d published checkpoint(s) the database lacked (up to size %d)",
            len(unrecorded),
            tip.size,
        )
    return tip


def note_key_ids(note: str, verifiers: Sequence[VerifyingKey]) -> str:
    """The hex key ids of the trusted keys that signed ``note`` (comma-separated)."""
    return ",".join(k.key_id.hex() for k in open_note(note, verifiers).verified_by)[:64]


def head_checked(conn: Connection) -> LedgerHead:
    """The head row, after checking that the stored frontier nodes fold to its root."""
    head = read_head(conn)
    try:
        hashes = [get_node(conn, level, index) for level, index in frontier_ids(head.size)]
        root = CompactRange.from_frontier(head.size, hashes).root()
    except (StoreError, LedgerError) as exc:
        raise PublicationMismatch(
            f"the stored nodes of the current tree cannot be read: {exc}",
            source="ledger_head",
            size=head.size,
            root=head.root,
        ) from exc
    if root != head.root:
        raise PublicationMismatch(
            f"ledger_head records root {head.root.hex()} but the stored nodes give {root.hex()}",
            source="ledger_head",
            size=head.size,
            root=head.root,
        )
    return head


def check_extends(conn: Connection, tip: SignedCheckpoint | None) -> LedgerHead:
    """The checked head, after proving that the tree extends ``tip`` (RFC 9162 consistency)."""
    head = head_checked(conn)
    if tip is None:
        return head
    if head.size < tip.size:
        missing = tip.size - head.size
        raise _tree_error(
            TreeTruncated, f"the ledger is truncated: {missing} published leaves are missing", tip, head
        )
    try:
        proof = consistency_proof(tip.size, head.size, node_getter(conn))
        verify_consistency(tip.size, head.size, tip.root, head.root, proof)
    except StoreError as exc:
        raise _tree_error(TreeForked, f"a node the proof needs is missing: {exc}", tip, head) from exc
    except LedgerError as exc:
        raise _tree_error(TreeForked, f"the consistency proof fails: {exc}", tip, head) from exc
    return head


def _tree_error(
    cls: type[TreeTruncated] | type[TreeForked], text: str, tip: SignedCheckpoint, head: LedgerHead
) -> TreeTruncated | TreeForked:
    return cls(
        text,
        source=tip.source,
        checkpoint_size=tip.size,
        checkpoint_root=tip.root,
        checkpoint_ts=tip.timestamp,
        size=head.size,
        root=head.root,
    )
