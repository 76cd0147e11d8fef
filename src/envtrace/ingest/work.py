"""What the network side hands the storage side: one ``Work`` per received frame (or run of
unframed bytes), in arrival order per connection, and state events for connections opening and
closing.

The network process fills in everything it can decide without the database (decoding,
authentication, quarantine reason, the answer to send after commit, the factor items the readings
come from); the storage process decides what needs the database (frame id, duplicate or new,
enrolment, leaf index), makes the readings of the frames it accepts and their digest, and commits.
``Work.record()`` is the frame as it crosses to the storage process: a flat tuple of plain values
(``RECORD_FIELDS`` order), serialised with ``marshal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from envtrace.ingest.leaf import static_parts

if TYPE_CHECKING:
    from envtrace.ingest.session import StationConnection

# Status decided on the loop; "data" is resolved by the writer into accepted / duplicate / partial.
DATA = "data"

# A reading as the storage process makes it: (shape mask, parameter, *the values present), the values
# in ``store.series.OPTIONAL_COLUMNS`` order, only those whose bit is set in the mask.
ReadingRow = tuple[Any, ...]
# Where a data frame's readings come from: its own CP pairs (a tuple of (key, value)) or, for the
# part that completes a set of sub-packets, the merged items of the set ({code: {suffix: value}}).
Source = tuple[tuple[str, str], ...] | dict[str, dict[str, str]] | None

RECORD_FIELDS = (
    "received_us",
    "peer",
    "raw",
    "mn",
    "pw",
    "st",
    "cn",
    "qn",
    "flag",
    "pnum",
    "pno",
    "rf",
    "data_ts",
    "edition",
    "wire",
    "deviations",
    "station_id",
    "enrol_hash",
    "status",
    "q_kind",
    "q_reason",
    "final_part",
    "gap_ok",
    "source",
    "utc_offset_min",
    "leaf_parts",
)


class Work:
    """One received frame on its way to the database, as the network side keeps it until commit."""

    __slots__ = (
        "after",
        "answer",
        "cn",
        "conn",
        "data_ts",
        "deviations",
        "edition",
        "enrol_hash",
        "final_part",
        "flag",
        "header",
        "mn",
        "peer",
        "pno",
        "pnum",
        "pw",
        "q_kind",
        "q_reason",
        "qn",
        "raw",
        "received_us",
        "request_qn",
        "rf",
        "source",
        "st",
        "station_id",
        "status",
        "utc_offset_min",
        "wire",
    )

    def __init__(self, conn: StationConnection | None, raw: bytes, received_us: int, peer: str) -> None:
        self.conn = conn
        self.raw = raw
        self.received_us = received_us
        self.peer = peer
        self.header: Mapping[str, str] | None = None
        self.mn: str | None = None
        self.pw: str | None = None
        self.st: str | None = None
        self.cn: str | None = None
        self.qn: str | None = None
        self.flag: int | None = None
        self.pnum: int | None = None
        self.pno: int | None = None
        self.rf = False
        self.data_ts: int | None = None
        self.edition: str | None = None
        self.wire = "plain"
        self.deviations: tuple[str, ...] = ()
        self.station_id: int | None = None
        self.enrol_hash: str | None = None
        self.status = "quarantined"
        self.q_kind: str | None = None
        self.q_reason: str | None = None
        self.source: Source = None
        self.utc_offset_min = 480
        self.final_part = True
        self.request_qn: str | None = None
        self.answer: bytes | None = None
        # what the gateway does once the frame is committed (a 2025 key request, identity report)
        self.after: tuple[str, Mapping[str, str]] | None = None

    def quarantine(self, kind: str, reason: str) -> Work:
        self.status = "quarantined"
        self.q_kind = kind
        self.q_reason = reason
        self.source = None
        return self

    def refuse(self, reason: str) -> Work:
        self.status = "refused"
        self.q_kind = "auth"
        self.q_reason = reason
        self.source = None
        return self

    def record(self, *, seal: bool = True) -> tuple[Any, ...]:
        """The frame for the storage process (``RECORD_FIELDS`` order; plain values only), with
        its leaf pre-rendered around the holes the storage process fills (``leaf.py``) when sealing."""
        parts = None
        if seal:
            parts = static_parts(
                cn=self.cn, data_ts=self.data_ts, deviations=self.deviations, edition=self.edition,
                mn=self.mn, peer=self.peer, pno=self.pno, pnum=self.pnum, qn=self.qn, q_kind=self.q_kind,
                q_reason=self.q_reason, raw=self.raw, received_us=self.received_us, rf=self.rf,
                wire=self.wire,
            )  # fmt: skip
        return (
            self.received_us,
            self.peer,
            self.raw,
            self.mn,
            self.pw if self.enrol_hash is not None else None,  # the PW travels only to enrol
            self.st,
            self.cn,
            self.qn,
            self.flag,
            self.pnum,
            self.pno,
            self.rf,
            self.data_ts,
            self.edition,
            self.wire,
            self.deviations,
            self.station_id,
            self.enrol_hash,
            self.status,
            self.q_kind,
            self.q_reason,
            self.final_part,
            not self.rf and self.request_qn is None,  # live data: a jump past the newest may be a gap
            self.source,
            self.utc_offset_min,
            parts,
        )


def state_event(station_id: int, *, online: bool, peer: str, at_us: int) -> tuple[int, bool, str, int]:
    """A station's connection opened (``online``) or closed, as the storage process takes it."""
    return (station_id, online, peer, at_us)


class Gap:
    """A hole in a station's minute or hour series, noticed when live data jumped over it."""

    __slots__ = ("begin_ts", "cn", "end_ts", "station_id")

    def __init__(self, station_id: int, cn: str, begin_ts: int, end_ts: int) -> None:
        self.station_id = station_id
        self.cn = cn
        self.begin_ts = begin_ts
        self.end_ts = end_ts

    def __repr__(self) -> str:
        return f"Gap(station={self.station_id}, cn={self.cn}, {self.begin_ts}..{self.end_ts})"
