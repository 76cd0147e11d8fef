"""Evidence bundles: one record with everything an outsider needs to check it offline.

Schema (``format`` "envtrace-evidence-bundle", ``version`` 1; ``docs/evidence.md`` has it in full)::

    {"format", "version", "exported_ts", "origin",
     "leaf": {"index", "kind", "bytes_b64", "hash"},                 the record exactly as sealed
     "inclusion": {"tree_size", "path": [hex ...]},                  RFC 9162 PATH(index, D[tree_size])
     "checkpoint": "<signed note>",                                  the newest published one covering it
     "keys": ["<vkey>" ...],                                         every published public key
     "consistency": [{"checkpoint": "<signed note>", "proof": [hex ...]} ...],
     "frame": {"id", "raw_b64", "received_us", "received", "peer", "status", "cn", "qn", "data_ts",
               "pnum", "pno", "wire", "edition", "deviations", "quarantine"} | null,
     "parts": [{"leaf": {...}, "inclusion": {...}, "frame": {...}} ...],   other parts of a split packet
     "station": {"id", "mn", "name", "kind", "st", "edition", "utc_offset_min", "encrypted",
                 "point", "enterprise"} | null,
     "readings": {"columns": [...], "records": [[parameter, granularity, data_ts,
                  [value, min, max, cou, zs_value, zs_min, zs_max], flag, eflag, sample_ts, extra] ...],
                  "sha256"} | null}

``build_bundle`` reads one record and its proofs (read-only; it needs a published checkpoint
covering the record); ``export_bundle`` signs one first through ``signer.sign_now`` when none covers
it. A bundle is checked before it is handed out (``bundle_check.verify_bundle``, also offline).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, text

from envtrace.evidence.bundle_check import BUNDLE_FORMAT, BUNDLE_VERSION, FRAME_FIELDS, verify_bundle
from envtrace.evidence.derive import VALUE_COLUMNS
from envtrace.evidence.errors import RecordNotFound
from envtrace.evidence.frame_audit import READING_COLUMNS, stored_record
from envtrace.evidence.keys import KeyRing
from envtrace.evidence.options import EvidenceOptions
from envtrace.evidence.publication import read_tail, resolve_origin
from envtrace.evidence.published import SignedCheckpoint, open_signed, witness_notes
from envtrace.evidence.queries import covering_checkpoint
from envtrace.evidence.signer import sign_now
from envtrace.ledger import (
    LedgerError,
    VerifyingKey,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)
from envtrace.store import leaf, node_getter
from envtrace.store.errors import StoreError
from envtrace.store.series import readings_digest

COLUMNS: list[object] = [
    "parameter",
    "granularity",
    "data_ts",
    list(VALUE_COLUMNS),
    "flag",
    "eflag",
    "sample_ts",
    "extra",
]
DAILY_DAYS = 400


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _leaf_part(
    conn: Connection, index: int, size: int
) -> tuple[dict[str, object], dict[str, object], dict[str, Any]]:
    stored = leaf(conn, index)
    digest = leaf_hash(stored.payload)
    if digest != stored.leaf_hash:
        raise RecordNotFound(
            f"an intact leaf {index}: its stored hash differs from its bytes (run envtrace verify)"
        )
    path = inclusion_proof(index, size, node_getter(conn))
    doc: dict[str, Any] = json.loads(stored.payload)
    return (
        {"index": index, "kind": stored.kind, "bytes_b64": _b64(stored.payload), "hash": digest.hex()},
        {"tree_size": size, "path": [p.hex() for p in path]},
        doc,
    )


def _frame_part(conn: Connection, index: int) -> dict[str, object]:
    row = conn.execute(text("SELECT * FROM raw_frame WHERE leaf_index = :i"), {"i": index}).mappings().first()
    if row is None:
        raise RecordNotFound(f"the raw frame of leaf {index}")
    raw = bytes(row["raw"])
    quarantine = conn.execute(
        text("SELECT kind, reason FROM quarantine WHERE frame_id = :f"), {"f": row["id"]}
    ).first()
    return {
        "id": int(row["id"]),
        "raw_b64": _b64(raw),
        "received_us": int(row["received_us"]),
        "received": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(row["received_us"]) // 1_000_000)),
        **{name: row[name] for name in FRAME_FIELDS if name != "received_us"},
        "rf": bool(row["rf"]),
        "deviations": [d for d in (row["deviations"] or "").split(";") if d],
        "quarantine": None if quarantine is None else {"kind": quarantine[0], "reason": quarantine[1]},
    }


def _station(conn: Connection, station_id: object) -> dict[str, object] | None:
    if station_id is None:
        return None
    row = conn.execute(text("SELECT * FROM station WHERE id = :i"), {"i": station_id}).mappings().first()
    if row is None:
        return None
    point = enterprise = None
    if row["point_id"] is not None:
        p = (
            conn.execute(text("SELECT * FROM monitoring_point WHERE id = :i"), {"i": row["point_id"]})
            .mappings()
            .first()
        )
        if p is not None:
            point = {"code": p["code"], "name": p["name"], "kind": p["kind"], "city": p["city"]}
            if p["enterprise_id"] is not None:
                e = conn.execute(
                    text("SELECT code, name FROM enterprise WHERE id = :i"), {"i": p["enterprise_id"]}
                ).first()
                if e is not None:
                    enterprise = {"code": e[0], "name": e[1]}
    return {
        "id": int(row["id"]),
        "mn": row["mn"],
        "name": row["name"],
        "kind": row["kind"],
        "st": row["st"],
        "edition": row["edition"],
        "utc_offset_min": int(row["utc_offset_min"]),
        "encrypted": bool(row["encrypted"]),
        "point": point,
        "enterprise": enterprise,
    }


def _readings(conn: Connection, frame_id: int, doc: Mapping[str, Any]) -> dict[str, object] | None:
    query = text(f"SELECT {READING_COLUMNS} FROM reading WHERE frame_id = :f")
    rows = list(conn.execute(query, {"f": frame_id}))
    if not rows and not doc.get("readings"):
        return None
    records = sorted((stored_record(r) for r in rows), key=lambda r: (str(r[0]), str(r[1]), str(r[2])))
    digest = readings_digest(records) if records else None
    if digest != doc.get("readings_sha256") or len(records) != (doc.get("readings") or 0):
        raise RecordNotFound(
            f"intact readings of frame {frame_id}: the stored readings differ from the sealed digest "
            "(run envtrace verify)"
        )
    return {"columns": COLUMNS, "records": records, "sha256": digest}


def _parts(conn: Connection, index: int, doc: Mapping[str, Any], size: int) -> list[dict[str, object]]:
    pnum, pno = doc.get("pnum"), doc.get("pno")
    if not (isinstance(pnum, int) and pnum > 1 and isinstance(pno, int)) or doc.get("status") != "accepted":
        return []
    found = conn.execute(
        text(
            "SELECT pno, max(leaf_index) FROM raw_frame WHERE station_id = :s AND cn = :c AND data_ts = :t "
            "AND pnum = :n AND pno <> :p AND leaf_index < :i "
            "AND status IN ('partial', 'accepted', 'duplicate') GROUP BY pno"
        ),
        {
            "s": doc.get("station_id"),
            "c": doc.get("cn"),
            "t": doc.get("data_ts"),
            "n": pnum,
            "p": pno,
            "i": index,
        },
    ).all()
    parts: list[dict[str, object]] = []
    for _, part_index in sorted(found):
        leaf_part, inclusion, _doc = _leaf_part(conn, int(part_index), size)
        parts.append({"leaf": leaf_part, "inclusion": inclusion, "frame": _frame_part(conn, int(part_index))})
    return parts


def _consistency(
    conn: Connection, cp: SignedCheckpoint, witnesses: Sequence[SignedCheckpoint], head_size: int
) -> list[dict[str, object]]:
    rows = conn.execute(text("SELECT id, size, ts FROM ledger_checkpoint ORDER BY id")).all()
    firsts: dict[int, int] = {}
    for cid, size, ts in rows:
        if 0 < int(size) < cp.size:
            firsts.setdefault(int(ts) // 86_400, int(cid))
    chosen = sorted(firsts.items())[-DAILY_DAYS:]
    notes = [
        str(conn.execute(text("SELECT note FROM ledger_checkpoint WHERE id = :i"), {"i": cid}).scalar())
        for _, cid in chosen
    ]
    get = node_getter(conn)
    out: list[dict[str, object]] = []
    for note, other in [(n, None) for n in notes] + [(w.note, w) for w in witnesses]:
        size = other.size if other is not None else _size_of(note)
        if size == cp.size or size == 0 or size > head_size:
            continue
        lo, hi = sorted((size, cp.size))
        out.append({"checkpoint": note, "proof": [p.hex() for p in consistency_proof(lo, hi, get)]})
    return out


def _size_of(note: str) -> int:
    return int(note.split("\n", 2)[1])


def build_bundle(
    conn: Connection,
    *,
    leaf_index: int,
    keys: Sequence[VerifyingKey],
    origin: str,
    witnesses: Sequence[str] = (),
    now: int | None = None,
) -> dict[str, object]:
    """The bundle of the record at ``leaf_index`` (read-only; needs a published checkpoint covering it)."""
    row = covering_checkpoint(conn, leaf_index)
    if row is None:
        raise RecordNotFound(f"a published checkpoint covering leaf {leaf_index}")
    cp = open_signed(row.note, keys, origin=origin, source=f"ledger_checkpoint id {row.id}")
    opened = [
        open_signed(note, keys, origin=origin, source="witness checkpoint")
        for text_ in witnesses
        for note in witness_notes(text_)
    ]
    head_size = int(conn.execute(text("SELECT size FROM ledger_head WHERE id = 1")).scalar() or 0)
    try:
        leaf_part, inclusion, doc = _leaf_part(conn, leaf_index, cp.size)
        bundle: dict[str, object] = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "exported_ts": int(time.time()) if now is None else now,
            "origin": origin,
            "leaf": leaf_part,
            "inclusion": inclusion,
            "checkpoint": cp.note,
            "keys": [k.to_vkey() for k in keys],
            "consistency": _consistency(conn, cp, opened, head_size),
            "frame": None,
            "parts": [],
            "station": None,
            "readings": None,
        }
        if doc.get("kind") == "raw_frame":
            frame = _frame_part(conn, leaf_index)
            bundle["frame"] = frame
            bundle["parts"] = _parts(conn, leaf_index, doc, cp.size)
            bundle["station"] = _station(conn, doc.get("station_id"))
            bundle["readings"] = _readings(conn, int(str(frame["id"])), doc)
    except (StoreError, LedgerError) as exc:
        raise RecordNotFound(f"a provable record at leaf {leaf_index}: {exc}") from exc
    verify_bundle(bundle)  # never hand out a bundle that does not verify
    return bundle


def export_bundle(
    engine: Engine,
    options: EvidenceOptions,
    *,
    frame_id: int | None = None,
    leaf_index: int | None = None,
    witnesses: Sequence[str] = (),
) -> dict[str, object]:
    """The bundle of a raw frame (or any leaf); signs a checkpoint first if none covers it yet."""
    with engine.connect() as conn:
        if frame_id is not None:
            found = conn.execute(
                text("SELECT leaf_index FROM raw_frame WHERE id = :i"), {"i": frame_id}
            ).scalar()
            if found is None:
                raise RecordNotFound(f"a sealed raw frame {frame_id}")
            leaf_index = int(found)
        if leaf_index is None:
            raise RecordNotFound("a frame or leaf to export")
        covered = covering_checkpoint(conn, leaf_index) is not None
    if not covered:
        sign_now(engine, options)
    ring = KeyRing(options.keys_dir)
    origin = resolve_origin(options, ring, read_tail(options.checkpoint_file, 1) or [])
    with engine.connect() as conn:
        return build_bundle(
            conn, leaf_index=leaf_index, keys=ring.published(), origin=origin, witnesses=witnesses
        )
