"""Raw frames, their quarantine records and their readings, held against the sealed ``raw_frame``
leaves and against the raw bytes themselves.

For each ``raw_frame`` leaf (a chunk of leaf indexes at a time): the row that points back at it must
exist and agree with the leaf field by field; its bytes must hash to the leaf's ``raw_sha256``; its
quarantine record must match; the readings stored for it must give the leaf's ``readings_sha256``
(``store.series.readings_digest``) and name its station. The raw bytes are decoded again
(``envtrace.hj212``) and the readings re-derived (``derive``): when the stored readings differ from
what was sealed, this names the reading, the column, the stored and the raw value; when the
re-derivation itself disagrees with what was sealed at receipt, that is a warning about the
platform, not proof of tampering.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from envtrace.evidence.derive import (
    Derived,
    KeyHistory,
    Record,
    SubPackets,
    decode_raw,
    derive,
    records_of,
    station_key,
)
from envtrace.evidence.findings import Finding, Report
from envtrace.evidence.reading_explain import ReadingExplainer, iso, iso_us
from envtrace.evidence.readonly import Row, blob, driver_rows
from envtrace.store.series import digest_of_records, reading_record, readings_digest, record_json

FRAME_COLUMNS = (
    "id", "received_us", "peer", "station_id", "mn", "st", "cn", "qn", "flag", "pnum", "pno", "data_ts",
    "edition", "status", "rf", "wire", "deviations", "leaf_index", "raw",
)  # fmt: skip
FRAME_SQL = f"SELECT {', '.join(FRAME_COLUMNS)} FROM raw_frame WHERE leaf_index >= ? AND leaf_index < ?"
READING_COLUMNS = (
    'frame_id, station_id, granularity, parameter, data_ts, value, "min", "max", cou, zs_value, zs_min, '
    "zs_max, flag, eflag, sample_ts, extra"
)
READING_SQL = f"SELECT {READING_COLUMNS} FROM reading WHERE frame_id >= ? AND frame_id <= ?"
QUARANTINE_SQL = text(
    "SELECT id, frame_id, kind, reason, raw FROM quarantine WHERE frame_id >= :lo AND frame_id <= :hi"
)
SPLIT_STATUSES = ("accepted", "partial", "duplicate")
LEAF_FIELDS = (
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


def stored_record(row: Sequence[Any]) -> Record:
    """The canonical record (``store.series.reading_record``) of a reading row read with
    ``READING_COLUMNS``; a value no number can be made of stays visible, and never matches."""
    values = row[5:12]
    try:
        return reading_record(row[3], row[2], row[4], values, row[12], row[13], row[14], row[15])
    except (TypeError, ValueError):
        shown: list[str | None] = [None if v is None else f"<{v!r}>" for v in values]
        return [row[3], row[2], row[4], shown, row[12], row[13], row[14], row[15]]


def stored_digest(rows: Sequence[Sequence[Any]]) -> str | None:
    """``readings_digest`` of reading rows (``READING_COLUMNS``) through the store's direct encoder
    (``record_json``); None for no rows, or for rows it cannot encode (the slow path decides)."""
    if not rows:
        return None
    try:
        return digest_of_records(
            [(r[3], record_json(r[3], r[2], r[4], r[5:12], r[12], r[13], r[14], r[15])) for r in rows]
        )
    except (TypeError, ValueError, AttributeError):
        return None


def _order(record: Record) -> tuple[str, str, str]:
    return (str(record[0]), str(record[1]), str(record[2]))


@dataclass
class FrameAudit:
    """State carried across chunks: the split-packet replay and per-station counts for notes."""

    conn: Connection
    report: Report
    stations: Mapping[int, Row]
    decode: bool = True
    leaves: int = 0
    keys: KeyHistory | None = None
    parts: SubPackets = field(default_factory=SubPackets)
    undecodable: Counter[tuple[str, str]] = field(default_factory=Counter)
    frames: int = 0
    readings: int = 0

    # ------------------------------------------------------------------------------------ chunk

    def chunk(
        self, lo: int, hi: int, docs: Sequence[tuple[int, dict[str, Any]]], kinds: Mapping[int, str]
    ) -> None:
        rows: dict[int, Row] = {}
        for r in driver_rows(self.conn, FRAME_SQL, (lo, hi)):
            rows[int(r[17])] = dict(zip(FRAME_COLUMNS, r, strict=True))
        for idx, row in rows.items():
            if kinds.get(idx) != "raw_frame":
                what = "no leaf" if idx not in kinds else f"leaf {idx} is a {kinds[idx]} record"
                self.report.add(
                    Finding(
                        "frame-unsealed",
                        f"raw frame {row['id']} (MN {row['mn']}) points at leaf {idx}, but there is {what}",
                        leaf=idx,
                        record=f"raw_frame {row['id']}",
                    )
                )
        ids = [int(r["id"]) for r in rows.values()]
        readings: dict[int, list[Sequence[Any]]] = defaultdict(list)
        quarantine: dict[int, list[Row]] = defaultdict(list)
        if ids:
            span = {"lo": min(ids), "hi": max(ids)}
            wanted = set(ids)
            for r in driver_rows(self.conn, READING_SQL, (span["lo"], span["hi"])):
                if r[0] in wanted:
                    readings[r[0]].append(r)
            for q in self.conn.execute(QUARANTINE_SQL, span).mappings():
                if q["frame_id"] in wanted:
                    quarantine[int(q["frame_id"])].append(q)
        for idx, doc in docs:
            found = rows.get(idx)
            if found is None:
                self.report.add(
                    Finding(
                        "frame-missing",
                        f"the sealed raw frame {doc.get('frame_id')} (MN {doc.get('mn')}, received "
                        f"{iso_us(doc.get('received_us'))}) has no raw_frame row",
                        leaf=idx,
                        record=f"raw_frame {doc.get('frame_id')}",
                    )
                )
                continue
            self.frames += 1
            stored = readings.get(int(found["id"]), [])
            self.readings += len(stored)
            self._frame(idx, doc, found, stored, quarantine.get(int(found["id"]), []))

    # ------------------------------------------------------------------------------------ one frame

    def _add(self, code: str, message: str, idx: int, record: str, **detail: object) -> None:
        self.report.add(Finding(code, message, leaf=idx, record=record, detail=dict(detail)))

    def _frame(
        self,
        idx: int,
        doc: Mapping[str, Any],
        row: Row,
        stored: list[Sequence[Any]],
        quarantined: list[Row],
    ) -> None:
        fid = int(row["id"])
        where = f"raw_frame {fid}"
        if doc.get("frame_id") != fid:
            self._add(
                "frame-field",
                f"column id is {fid} but the leaf sealed frame {doc.get('frame_id')}",
                idx,
                where,
            )
        for name in LEAF_FIELDS:
            value = row[name]
            if value != doc.get(name):
                self._add(
                    "frame-field",
                    f"column {name} is {value!r} but the leaf sealed {doc.get(name)!r}",
                    idx,
                    where,
                    column=name,
                    stored=value,
                    sealed=doc.get(name),
                )
        if row["rf"] not in (0, 1) or bool(row["rf"]) != doc.get("rf"):
            self._add(
                "frame-field", f"column rf is {row['rf']!r} but the leaf sealed {doc.get('rf')}", idx, where
            )
        deviations = ";".join(doc.get("deviations") or []) or None
        if row["deviations"] != deviations:
            self._add(
                "frame-field",
                f"column deviations is {row['deviations']!r} but the leaf sealed {deviations!r}",
                idx,
                where,
            )
        raw = blob(row["raw"])
        digest = hashlib.sha256(raw).hexdigest()
        if digest != doc.get("raw_sha256") or len(raw) != doc.get("raw_len"):
            self._add(
                "frame-bytes",
                f"the stored bytes ({len(raw)} bytes, SHA-256 {digest}) are not the bytes received "
                f"({doc.get('raw_len')} bytes, SHA-256 {doc.get('raw_sha256')})",
                idx,
                where,
            )
        self._quarantine(idx, doc, fid, quarantined)
        decoded = None
        if self.decode and doc.get("status") != "quarantined" and digest == doc.get("raw_sha256"):
            decoded = self._decode(raw, row, doc)
            if decoded is not None:
                self._header(idx, row, decoded, where)
        self._readings(idx, doc, row, stored, decoded)

    def _quarantine(self, idx: int, doc: Mapping[str, Any], fid: int, rows: list[Row]) -> None:
        sealed = doc.get("quarantine")
        where = f"quarantine of raw_frame {fid}"
        if sealed is None:
            for q in rows:
                self._add(
                    "quarantine-extra",
                    f"quarantine row {q['id']} for a frame sealed as not quarantined",
                    idx,
                    where,
                )
            return
        if not rows:
            self._add(
                "quarantine-missing",
                f"the frame was sealed as quarantined ({sealed}) but has no quarantine row",
                idx,
                where,
            )
            return
        for extra in rows[1:]:
            self._add("quarantine-extra", f"a second quarantine row {extra['id']} for the frame", idx, where)
        q = rows[0]
        for name in ("kind", "reason"):
            if q[name] != sealed.get(name):
                self._add(
                    "quarantine-field",
                    f"column {name} is {q[name]!r} but the leaf sealed {sealed.get(name)!r}",
                    idx,
                    where,
                )
        if hashlib.sha256(blob(q["raw"])).hexdigest() != doc.get("raw_sha256"):
            self._add("quarantine-field", "column raw is not the bytes received", idx, where)

    def _decode(self, raw: bytes, row: Row, doc: Mapping[str, Any]) -> Any:
        station = self.stations.get(row["station_id"]) if row["station_id"] is not None else None
        keys: list[bytes] = []
        cipher = doc.get("wire") != "plain"
        if station is not None and (station["encrypted"] or cipher):
            if self.keys is not None:  # the key history (envtrace.store.station_keys)
                keys = self.keys.candidates(int(row["station_id"]), int(row["received_us"]))
            legacy = station_key(station["sm4_key"])  # a key still in the registry's old column
            if legacy is not None:
                keys.append(legacy)
            if not keys and cipher:
                why = "no SM4 key of the station is available (key history or master key missing)"
                self.undecodable[(str(row["mn"]), why)] += 1
                return None
        first = None
        tries: list[bytes | None] = list(keys) if keys else [None]
        for key in tries:
            decoded = decode_raw(raw, key)
            if decoded.ok or not cipher:
                return decoded
            first = first or decoded
        why = f"it decrypts with none of the station's {len(keys)} SM4 keys ({first.error if first else '?'})"
        self.undecodable[(str(row["mn"]), why)] += 1
        return None

    def _header(self, idx: int, row: Row, decoded: Any, where: str) -> None:
        header = decoded.header or {}
        st = header.get("ST")
        st = st if st is None or len(st) <= 4 else None
        flag_text = header.get("Flag")
        flag = (
            int(flag_text) if flag_text is not None and flag_text.isdigit() and len(flag_text) <= 9 else None
        )
        for name, raw_value in (("st", st), ("flag", flag)):
            if row[name] != raw_value:
                self._add(
                    "frame-field",
                    f"column {name} is {row[name]!r} but the raw bytes say {raw_value!r}",
                    idx,
                    where,
                    column=name,
                )

    def _derive(self, doc: Mapping[str, Any], decoded: Any) -> Derived | None:
        """The readings the raw bytes make (None when this frame makes none to compare)."""
        if decoded is None:
            return None
        status = doc.get("status")
        pnum, pno = doc.get("pnum"), doc.get("pno")
        items = None
        if isinstance(pnum, int) and pnum > 1 and isinstance(pno, int) and status in SPLIT_STATUSES:
            if not decoded.ok:
                return Derived(None, "the raw frame no longer decodes")
            items = self.parts.add(decoded, pnum, pno)
            if status != "accepted":
                return None
            if items is None:
                return Derived(None, "its split set is incomplete here")
        if status != "accepted":
            return None
        return derive(decoded, doc.get("data_ts"), items)

    def _readings(
        self,
        idx: int,
        doc: Mapping[str, Any],
        row: Row,
        stored: list[Sequence[Any]],
        decoded: Any,
    ) -> None:
        fid = int(row["id"])
        sealed_n = doc.get("readings") or 0
        sealed_digest = doc.get("readings_sha256")
        derived = self._derive(doc, decoded)
        trusted: dict[str, tuple[object, ...]] | None = None
        if derived is not None and derived.rows is None and sealed_n and doc.get("wire") == "plain":
            self._add(
                "readings-derivation",
                f"{sealed_n} readings were sealed at receipt but {derived.reason}",
                idx,
                f"raw_frame {fid}",
            )
        if derived is not None and derived.rows is not None:
            got = derived.digest
            if got == sealed_digest and len(derived.rows) == sealed_n:
                trusted = derived.rows
            else:
                self._add(
                    "readings-derivation",
                    f"decoding the raw frame gives {len(derived.rows)} readings (digest {got}) but "
                    f"{sealed_n} were sealed at receipt (digest {sealed_digest})",
                    idx,
                    f"raw_frame {fid}",
                )
        for r in stored:
            if r[1] != row["station_id"]:
                self._add(
                    "reading-station",
                    f"reading {r[3]} {r[2]} at {iso(r[4])} names station {r[1]} but its frame {fid} came "
                    f"from station {row['station_id']} (MN {row['mn']})",
                    idx,
                    f"reading {row['mn']}/{r[3]}",
                )
        if trusted is not None:
            mine = {r[3]: (r[2], *r[4:16]) for r in stored}
            zeros = any(0.0 in r[5:12] for r in stored)  # -0.0 == 0.0: let the canonical form tell them apart
            if not zeros and len(mine) == len(stored) and mine == trusted:
                return  # the very values the raw frame makes, and those give the sealed digest
        elif len(stored) == sealed_n and stored_digest(stored) == sealed_digest:
            return
        records = sorted((stored_record(r) for r in stored), key=_order)
        expected = None if trusted is None else sorted(records_of(trusted), key=_order)
        if expected is not None and records == expected:
            return
        digest = readings_digest(records) if records else None
        if len(records) == sealed_n and digest == sealed_digest:
            return
        ReadingExplainer(self.conn, self.report).explain(idx, doc, row, records, expected, derived)

    # ------------------------------------------------------------------------------------ after

    def finish(self) -> None:
        for (mn, why), n in sorted(self.undecodable.items()):
            self.report.add(
                Finding(
                    "decode-unavailable",
                    f"{n} frames of station {mn} could not be re-decoded: {why}; their readings were checked "
                    "against the sealed digest only",
                    record=f"station {mn}",
                )
            )
        for fid, leaf_index in self.conn.execute(
            text(
                "SELECT id, leaf_index FROM raw_frame "
                "WHERE leaf_index IS NULL OR leaf_index < 0 OR leaf_index >= :n"
            ),
            {"n": self.leaves},
        ):
            self.report.add(
                Finding(
                    "frame-unsealed",
                    f"raw frame {fid} points at leaf {leaf_index}, which is not in the ledger",
                    record=f"raw_frame {fid}",
                )
            )
        for fid, n in self.conn.execute(
            text(
                "SELECT r.frame_id, count(*) FROM reading r WHERE NOT EXISTS "
                "(SELECT 1 FROM raw_frame f WHERE f.id = r.frame_id) GROUP BY r.frame_id"
            )
        ):
            self.report.add(
                Finding(
                    "reading-orphan",
                    f"{n} readings name raw frame {fid}, which does not exist",
                    record=f"reading frame {fid}",
                )
            )
        for qid, fid in self.conn.execute(
            text(
                "SELECT q.id, q.frame_id FROM quarantine q "
                "WHERE NOT EXISTS (SELECT 1 FROM raw_frame f WHERE f.id = q.frame_id)"
            )
        ):
            self.report.add(
                Finding(
                    "quarantine-extra",
                    f"quarantine row {qid} names raw frame {fid}, which does not exist",
                    record=f"quarantine {qid}",
                )
            )
