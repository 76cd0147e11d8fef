"""``envtrace verify``: is every stored record still what was sealed and published?

``verify_database(conn, context)`` reads the whole database in one snapshot, a chunk of leaf
indexes at a time, and never writes:

1. the published checkpoints, from the file and the table, each opened with the published keys;
2. every leaf: its hash recomputed from its bytes, the tree rebuilt from those hashes;
3. per chunk, the records that point at those leaves: raw frames (bytes, fields, quarantine,
   readings, re-decoded), station enrolments and approvals, corrections, key changes, and every
   sealed table (``record_audit.SEALED_TABLES``);
4. every stored node, the head, and every published root against the rebuilt tree;
5. rows that point at nothing: unsealed frames, readings of no frame, quarantine of no frame.

Cost: one pass over leaves, frames, readings and nodes, plus one HJ 212 decode per frame; memory
about 64 bytes per leaf for the rebuilt tree plus one chunk of records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from envtrace.evidence.derive import KeyHistory
from envtrace.evidence.errors import CheckpointFileCorrupt, UntrustedCheckpoint
from envtrace.evidence.findings import Finding, Report
from envtrace.evidence.frame_audit import FrameAudit
from envtrace.evidence.keys import KeyRing
from envtrace.evidence.options import EvidenceOptions
from envtrace.evidence.publication import TableCheckpoint
from envtrace.evidence.published import SignedCheckpoint, note_checkpoint, open_signed, read_notes
from envtrace.evidence.readonly import blob, driver_rows, readonly_engine, snapshot
from envtrace.evidence.record_audit import RecordAudit, pointer_tables
from envtrace.evidence.tree_audit import (
    ZERO,
    PublishedRoot,
    Recomputed,
    compare_head,
    compare_nodes,
    compare_published,
)
from envtrace.ledger import LedgerError, VerifyingKey, leaf_hash

LEAF_SQL = "SELECT idx, kind, payload, leaf_hash FROM ledger_leaf WHERE idx >= ? AND idx < ? ORDER BY idx"


@dataclass(frozen=True, slots=True)
class VerifyContext:
    """What verification trusts besides the database: the published keys and checkpoint file."""

    verifiers: tuple[VerifyingKey, ...] = ()
    checkpoint_file: Path | None = None
    origin: str | None = None
    decode: bool = True
    chunk: int = 20_000
    limit: int = 50
    state_dir: Path | None = None
    """The state folder: its station-key master key opens the SM4 key history (encrypted frames)."""

    @classmethod
    def for_database(
        cls,
        db_url: str,
        *,
        state_dir: Path | None = None,
        pubkeys: Sequence[VerifyingKey] = (),
        decode: bool = True,
        limit: int = 50,
    ) -> VerifyContext:
        """The context of ``db_url``'s state folder (keys in ``keys/public``, ``checkpoints.txt``);
        ``pubkeys`` (obtained out of band) are trusted as well."""
        options = EvidenceOptions.for_database(db_url, state_dir)
        ring = KeyRing(options.keys_dir)
        keys = [*ring.published(), *pubkeys]
        return cls(
            tuple(keys),
            options.checkpoint_file,
            options.origin or ring.origin(),
            decode,
            limit=limit,
            state_dir=options.state_dir,
        )


def verify_url(db_url: str, context: VerifyContext) -> Report:
    """Verify the database at ``db_url``, opened read-only."""
    engine = readonly_engine(db_url)
    try:
        with snapshot(engine) as conn:
            return verify_database(conn, context)
    finally:
        engine.dispose()


def verify_database(conn: Connection, context: VerifyContext) -> Report:
    """Every finding about the database ``conn`` reads (see the module docstring)."""
    started = time.perf_counter()
    report = Report(limit=context.limit)
    head = conn.execute(text("SELECT size, root FROM ledger_head WHERE id = 1")).first()
    top = conn.execute(text("SELECT max(idx) FROM ledger_leaf")).scalar()
    end = int(top) + 1 if top is not None else 0
    published = _published(conn, context, report)
    stations = {int(r["id"]): r for r in conn.execute(text("SELECT * FROM station")).mappings()}
    tree = Recomputed()
    history = KeyHistory.load(conn, context.state_dir) if context.decode else None
    frames = FrameAudit(conn, report, stations, decode=context.decode, leaves=end, keys=history)
    records = RecordAudit(conn, report, tree, stations, context.verifiers, pointer_tables(conn))
    for lo in range(0, end, context.chunk):
        hi = min(lo + context.chunk, end)
        frame_docs, other_docs, kinds = _leaves(conn, lo, hi, tree, report)
        frames.chunk(lo, hi, frame_docs, kinds)
        records.chunk(lo, hi, other_docs, kinds)
    for (idx,) in conn.execute(text("SELECT idx FROM ledger_leaf WHERE idx < 0")):
        report.add(Finding("leaf-extra", f"a ledger_leaf row has the negative index {idx}"))
    raw_size: object = None if head is None else head[0]
    head_size = raw_size if isinstance(raw_size, int) and not isinstance(raw_size, bool) else None
    if head_size is not None and head_size < end:
        report.add(
            Finding(
                "leaf-extra",
                f"leaves {head_size}..{end - 1} lie beyond the size {head_size} ledger_head records",
                leaf=head_size,
            )
        )
    if head_size is not None and head_size > end:
        report.add(
            Finding(
                "leaf-missing", f"leaves {end}..{head_size - 1} are missing: the log is truncated", leaf=end
            )
        )
    compare_nodes(conn, tree, report, context.chunk)
    compare_head(raw_size, None if head is None else blob(head[1]), end, tree, report)
    compare_published(published, tree, report)
    newest = max((p.size for p in published), default=0)
    if not published and end:
        report.add(Finding("checkpoint-none", f"no signed checkpoint covers the {end} leaves"))
    elif end > newest and published:
        report.add(
            Finding(
                "checkpoint-behind",
                f"leaves {newest}..{end - 1} are sealed but not yet in a published checkpoint",
            )
        )
    frames.finish()
    records.finish(end)
    report.checked.update(
        leaves=end,
        frames=frames.frames,
        readings=frames.readings,
        checkpoints=len({p.root + p.size.to_bytes(8, "big") for p in published}),
        records=records.rows,
    )
    report.elapsed_s = time.perf_counter() - started
    return report


def _leaves(
    conn: Connection, lo: int, hi: int, tree: Recomputed, report: Report
) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, dict[str, Any]]], dict[int, str]]:
    """Hash the leaves ``lo <= idx < hi`` into ``tree``; their documents, split raw frame / other."""
    frame_docs: list[tuple[int, dict[str, Any]]] = []
    other_docs: list[tuple[int, dict[str, Any]]] = []
    kinds: dict[int, str] = {}
    expect = lo
    for idx, kind, payload, stored in driver_rows(conn, LEAF_SQL, (lo, hi)):
        if not isinstance(idx, int):
            report.add(Finding("leaf-unreadable", f"a ledger_leaf row has the index {idx!r}"))
            continue
        if idx > expect:
            report.add(
                Finding(
                    "leaf-missing",
                    f"no ledger_leaf rows for indexes {expect}..{idx - 1} (deleted)",
                    leaf=expect,
                )
            )
            for missing in range(expect, idx):
                tree.push(ZERO)
                tree.mark_bad(missing)
        expect = idx + 1
        data = blob(payload)
        stored = blob(stored)
        digest = leaf_hash(data)
        if stored != digest:
            tree.mark_bad(idx)
            report.add(
                Finding(
                    "leaf-hash",
                    f"stored leaf_hash {stored.hex()} but the payload hashes to {digest.hex()}",
                    leaf=idx,
                    record=f"ledger_leaf {idx} ({kind})",
                )
            )
        tree.push(digest)
        kinds[idx] = str(kind)
        try:
            doc = json.loads(data)
        except ValueError as exc:
            report.add(Finding("leaf-unreadable", f"the payload is not JSON: {exc}", leaf=idx))
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
            report.add(Finding("leaf-unreadable", "the payload is not a record with a kind", leaf=idx))
            continue
        if doc["kind"] != kind:
            report.add(
                Finding(
                    "leaf-kind",
                    f"column kind is {kind!r} but the payload is a {doc['kind']!r} record",
                    leaf=idx,
                )
            )
            kinds[idx] = doc["kind"]
        (frame_docs if doc["kind"] == "raw_frame" else other_docs).append((idx, doc))
    if expect < hi:
        report.add(
            Finding(
                "leaf-missing", f"no ledger_leaf rows for indexes {expect}..{hi - 1} (deleted)", leaf=expect
            )
        )
        for missing in range(expect, hi):
            tree.push(ZERO)
            tree.mark_bad(missing)
    return frame_docs, other_docs, kinds


def _published(conn: Connection, context: VerifyContext, report: Report) -> list[PublishedRoot]:
    """Every published (size, root) whose signature verifies; findings for the others."""
    path = context.checkpoint_file
    file_notes: list[str] | None = None
    if path is not None:
        try:
            file_notes = read_notes(path)
        except CheckpointFileCorrupt as exc:
            report.add(Finding("checkpoint-file", str(exc), record=str(path)))
            file_notes = []
    table = _table_rows(conn, report)
    origin = context.origin
    if origin is None:
        first = (file_notes or []) + [t.note for t in table]
        origin = note_checkpoint(first[0]).origin if first else None
    opened: dict[str, SignedCheckpoint | str] = {}

    def open_(note: str, source: str) -> SignedCheckpoint | None:
        if note not in opened:
            try:
                opened[note] = open_signed(note, context.verifiers, origin=origin, source=source)
            except (UntrustedCheckpoint, LedgerError) as exc:
                opened[note] = str(exc)
                report.add(Finding("checkpoint-signature", str(exc), record=source))
        got = opened[note]
        return got if isinstance(got, SignedCheckpoint) else None

    roots: list[PublishedRoot] = []
    last: SignedCheckpoint | None = None
    for n, note in enumerate(file_notes or [], 1):
        source = f"{path.name if path else 'file'} entry {n}"
        signed = open_(note, source)
        if signed is None:
            continue
        roots.append(PublishedRoot(signed.size, signed.root, signed.timestamp, source))
        if last is not None and (signed.size < last.size or signed.timestamp < last.timestamp):
            report.add(
                Finding(
                    "checkpoint-order",
                    f"size {signed.size} at {signed.timestamp} follows size {last.size} at {last.timestamp}",
                    record=source,
                )
            )
        last = signed
    previous = None
    for row in table:
        source = f"ledger_checkpoint id {row.id}"
        signed = open_(row.note, source)
        if signed is None:
            continue
        if (row.size, row.root, row.ts) != (signed.size, signed.root, signed.timestamp):
            report.add(
                Finding(
                    "checkpoint-row",
                    f"columns (size {row.size}, root {row.root.hex()}, ts {row.ts}) but the signed note says "
                    f"(size {signed.size}, root {signed.root.hex()}, ts {signed.timestamp})",
                    record=source,
                )
            )
        roots.append(PublishedRoot(signed.size, signed.root, signed.timestamp, source))
        if previous is not None and signed.size < previous.size:
            report.add(
                Finding("checkpoint-order", f"size {signed.size} follows size {previous.size}", record=source)
            )
        previous = signed
    if path is not None:
        _membership(report, path, file_notes, table)
    return roots


def _table_rows(conn: Connection, report: Report) -> list[TableCheckpoint]:
    """The ledger_checkpoint rows, oldest first; a row whose columns are not of their types is a finding."""
    rows = []
    for cid, size, root, ts, note, key_id in conn.execute(
        text("SELECT id, size, root, ts, note, key_id FROM ledger_checkpoint ORDER BY id")
    ):
        if not (isinstance(size, int) and isinstance(ts, int) and isinstance(note, str)):
            report.add(
                Finding(
                    "checkpoint-row",
                    f"columns size {size!r}, ts {ts!r} are not a checkpoint's",
                    record=f"ledger_checkpoint id {cid}",
                )
            )
            continue
        rows.append(TableCheckpoint(int(cid), size, blob(root), ts, note, str(key_id)))
    return rows


def _membership(report: Report, path: Path, file_notes: list[str] | None, table: Sequence[Any]) -> None:
    if file_notes is None:
        if table:
            report.add(
                Finding(
                    "checkpoint-file",
                    f"{len(table)} checkpoints are recorded in the database but the published file "
                    f"{path} is missing",
                    record=str(path),
                )
            )
        return
    in_file = set(file_notes)
    in_table = {t.note for t in table}
    for row in table:
        if row.note not in in_file:
            report.add(
                Finding(
                    "checkpoint-unpublished",
                    f"checkpoint of size {row.size} (root {row.root.hex()}) is not in {path}: the file was "
                    "replaced or rolled back, or the row was forged",
                    record=f"ledger_checkpoint id {row.id}",
                )
            )
    for n, note in enumerate(file_notes, 1):
        if note not in in_table:
            cp = note_checkpoint(note)
            report.add(
                Finding(
                    "checkpoint-unrecorded",
                    f"published checkpoint of size {cp.size} (root {cp.root.hex()}) is not recorded in "
                    "ledger_checkpoint: the row was deleted (or the platform stopped while publishing: "
                    "starting it records the entry)",
                    record=f"{path.name} entry {n}",
                )
            )
