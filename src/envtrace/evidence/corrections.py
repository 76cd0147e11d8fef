"""Corrections: nothing is edited in place; a correction is a new record naming what it supersedes.

A correction leaf (kind ``correction``) is::

    {"kind": "correction", "v": 1,
     "supersedes": {"leaf": <leaf index>, "kind": <its kind>, "leaf_hash": <hex SHA-256 leaf hash>,
                    "ref": {...what in that record, e.g. {"reading": {"station_id", "parameter",
                            "granularity", "data_ts"}} or {} for the whole record}},
     "reason": <why, in words>, "actor": <who decided>, "ts": <Unix seconds>,
     "replacement": {...the corrected values, decimals as strings} | null}

The superseded record is named by its leaf index *and* leaf hash, so the correction can only ever
refer to that exact record; ``envtrace verify`` checks that the named leaf exists before the
correction, has that kind and that hash. Reading the current value of something means applying the
corrections that supersede it, newest last; the original stays in the ledger, and so does the
correction.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection

from envtrace.evidence.errors import RecordNotFound
from envtrace.store import append, leaf
from envtrace.store.errors import NodeNotFound

CORRECTION_KIND = "correction"


@dataclass(frozen=True, slots=True)
class RecordRef:
    """An exact ledger record (and optionally a part of it)."""

    leaf: int
    kind: str
    leaf_hash: str
    ref: Mapping[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"leaf": self.leaf, "kind": self.kind, "leaf_hash": self.leaf_hash, "ref": dict(self.ref)}


def record_ref(conn: Connection, leaf_index: int, ref: Mapping[str, object] | None = None) -> RecordRef:
    """A reference to the record at ``leaf_index`` as stored now (kind and leaf hash)."""
    try:
        found = leaf(conn, leaf_index)
    except NodeNotFound as exc:
        raise RecordNotFound(f"leaf {leaf_index}") from exc
    return RecordRef(leaf_index, found.kind, found.leaf_hash.hex(), dict(ref or {}))


def correction_payload(
    supersedes: RecordRef,
    *,
    reason: str,
    actor: str,
    ts: int,
    replacement: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The payload of a correction leaf (``append(conn, "correction", payload)``)."""
    if not reason.strip() or not actor.strip():
        raise ValueError("a correction needs a reason and an actor")
    return {
        "supersedes": supersedes.as_json(),
        "reason": reason,
        "actor": actor,
        "ts": ts,
        "replacement": None if replacement is None else dict(replacement),
    }


def append_correction(
    conn: Connection,
    *,
    leaf_index: int,
    reason: str,
    actor: str,
    ref: Mapping[str, object] | None = None,
    replacement: Mapping[str, object] | None = None,
    ts: int | None = None,
) -> int:
    """Seal a correction of the record at ``leaf_index`` in the caller's write transaction; returns
    the correction's leaf index."""
    target = record_ref(conn, leaf_index, ref)
    payload = correction_payload(
        target,
        reason=reason,
        actor=actor,
        ts=int(time.time()) if ts is None else ts,
        replacement=replacement,
    )
    return append(conn, CORRECTION_KIND, payload)
