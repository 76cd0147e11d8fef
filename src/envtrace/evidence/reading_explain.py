"""Naming what differs when a frame's stored readings do not give the digest its leaf sealed.

The readings the raw frame makes (re-derived, and shown to give the sealed digest) are held against
the stored ones, reading by reading and column by column: a missing reading (unless an earlier
frame of the same station and data time holds it: first arrival wins), an extra one, each differing
column with the stored and the raw value. When the frame cannot be decoded again, the finding says
so and gives the counts and digests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from envtrace.evidence.derive import RECORD_COLUMNS, VALUE_COLUMNS, Derived, Record
from envtrace.evidence.findings import Finding, Report
from envtrace.evidence.readonly import Row


def iso(ts: object) -> str:
    """Unix seconds as ISO 8601 UTC (anything else as its repr)."""
    if not isinstance(ts, int) or isinstance(ts, bool):
        return repr(ts)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def iso_us(us: object) -> str:
    """Unix microseconds as ISO 8601 UTC (anything else as its repr)."""
    return iso(us // 1_000_000) if isinstance(us, int) and not isinstance(us, bool) else repr(us)


def _show(value: object) -> str:
    return "null" if value is None else str(value)


@dataclass
class ReadingExplainer:
    conn: Connection
    report: Report

    def _add(self, code: str, message: str, idx: int, record: str, **detail: object) -> None:
        self.report.add(Finding(code, message, leaf=idx, record=record, detail=dict(detail)))

    def explain(
        self,
        idx: int,
        doc: Mapping[str, Any],
        row: Row,
        records: list[Record],
        trusted: list[Record] | None,
        derived: Derived | None,
    ) -> None:
        fid, mn, sid = int(row["id"]), row["mn"], row["station_id"]
        frame = f"frame {fid} (station {mn}, id {sid}, received {iso_us(row['received_us'])})"
        if trusted is None:
            why = "the raw frame could not be re-decoded to name the values"
            if derived is not None and derived.reason:
                why += f" ({derived.reason})"
            elif derived is not None:
                why = "re-decoding the raw frame does not reproduce the sealed readings either"
            self._add(
                "readings-digest",
                f"{len(records)} readings are stored for {frame} but {doc.get('readings') or 0} were sealed "
                f"(digest {doc.get('readings_sha256')}); {why}",
                idx,
                f"raw_frame {fid}",
            )
            return
        expected = {str(r[0]): r for r in trusted}
        have = {str(r[0]): r for r in records}
        found = False
        for param, rec in expected.items():
            if param not in have:
                found = True
                self._missing(idx, row, rec, frame)
        for param, rec in have.items():
            if param not in expected:
                found = True
                self._add(
                    "reading-extra",
                    f"station {mn} {param} {rec[1]} data time {iso(rec[2])}: stored for {frame}, "
                    "which does not contain it",
                    idx,
                    f"reading {mn}/{param}/{rec[1]}/{rec[2]}",
                )
        for param in expected.keys() & have.keys():
            found |= self._compare(idx, mn, frame, have[param], expected[param])
        if not found:  # pragma: no cover - a differing digest always differs somewhere
            self._add(
                "readings-digest",
                f"the readings of {frame} do not give the sealed digest",
                idx,
                f"raw_frame {fid}",
            )

    def _compare(self, idx: int, mn: object, frame: str, mine: Record, raw: Record) -> bool:
        found = False
        param, gran, ts = raw[0], raw[1], raw[2]
        pairs: list[tuple[str, object, object]] = []
        for n, name in enumerate(RECORD_COLUMNS):
            if name == "values":
                stored_values: list[object] = list(mine[3]) if isinstance(mine[3], list) else [mine[3]] * 7
                raw_values = raw[3] if isinstance(raw[3], list) else []
                pairs += list(zip(VALUE_COLUMNS, stored_values, raw_values, strict=False))
            elif name != "parameter":
                pairs.append((name, mine[n], raw[n]))
        for column, s, r in pairs:
            if s != r:
                found = True
                self._add(
                    "reading-value",
                    f"station {mn} {param} {gran} data time {iso(ts)} column {column}: stored {_show(s)} but "
                    f"the raw {frame} says {_show(r)}",
                    idx,
                    f"reading {mn}/{param}/{gran}/{ts}",
                    column=column,
                    stored=s,
                    raw=r,
                    parameter=param,
                    data_ts=ts,
                    mn=mn,
                )
        return found

    def _missing(self, idx: int, row: Row, rec: Record, frame: str) -> None:
        param, gran, ts = rec[0], rec[1], rec[2]
        other = self.conn.execute(
            text(
                "SELECT r.frame_id, f.leaf_index FROM reading r JOIN raw_frame f ON f.id = r.frame_id "
                "WHERE r.station_id = :s AND r.granularity = :g AND r.parameter = :p AND r.data_ts = :t "
                "AND f.station_id = :s AND f.data_ts = :t AND f.status = 'accepted'"
            ),
            {"s": row["station_id"], "g": gran, "p": param, "t": ts},
        ).first()
        if other is not None and other[0] != row["id"] and other[1] is not None and int(other[1]) < idx:
            self._add(
                "reading-superseded",
                f"station {row['mn']} {param} {gran} data time {iso(ts)} of {frame} is stored from "
                f"the earlier frame {other[0]} (first arrival wins)",
                idx,
                f"reading {row['mn']}/{param}/{gran}/{ts}",
            )
            return
        value = rec[3][0] if isinstance(rec[3], list) else None
        self._add(
            "reading-missing",
            f"station {row['mn']} {param} {gran} data time {iso(ts)}: the raw {frame} has value "
            f"{_show(value)}, but no reading is stored",
            idx,
            f"reading {row['mn']}/{param}/{gran}/{ts}",
        )
