"""Raw frames as received, quarantine, and per-station connection state.

Every byte a station sends is stored here before anything else happens to it: conforming frames,
duplicates, refused (unknown MN / wrong PW) and malformed ones alike, each sealed in the ledger.
"""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text

from envtrace.store.metadata import metadata
from envtrace.store.types import Bytes, Id

FRAME_STATUSES = ("accepted", "duplicate", "command", "partial", "quarantined", "refused")

raw_frame = Table(
    "raw_frame",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received_us", Id, nullable=False, comment="receipt time, Unix microseconds UTC"),
    Column("peer", String(64), nullable=False, comment="remote address:port"),
    Column("station_id", ForeignKey("station.id"), comment="null when the MN is unknown"),
    Column("mn", String(64)),
    Column("st", String(4)),
    Column("cn", String(8)),
    Column("qn", String(24)),
    Column("flag", Integer),
    Column("pnum", Integer, comment="sub-packet count PNUM, when split"),
    Column("pno", Integer, comment="sub-packet number PNO, when split"),
    Column("data_ts", Id, comment="DataTime as Unix seconds UTC, when present"),
    Column("edition", String(4)),
    Column("status", String(12), nullable=False),
    Column("rf", Boolean, nullable=False, server_default="0", comment="HJ 212-2025 resend marker RF=1"),
    Column("wire", String(12), nullable=False, server_default="plain", comment="plain | sm4-raw | sm4-text"),
    Column("deviations", Text, comment="known deviations accepted in tolerant mode, ';'-joined"),
    Column("leaf_index", Id, unique=True, comment="its leaf in the ledger"),
    Column("raw", Bytes, nullable=False),
    CheckConstraint(f"status IN {FRAME_STATUSES!r}", name="status"),
)
Index("ix_raw_frame_station_received", raw_frame.c.station_id, raw_frame.c.received_us)
Index("ix_raw_frame_dedup", raw_frame.c.station_id, raw_frame.c.cn, raw_frame.c.data_ts)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("frame_id", ForeignKey("raw_frame.id"), nullable=False, index=True),
    Column("received_us", Id, nullable=False),
    Column("peer", String(64), nullable=False),
    Column("mn", String(64)),
    Column("kind", String(16), nullable=False, comment="framing|length|crc|syntax|crypto|auth|semantic"),
    Column("reason", Text, nullable=False, comment="the precise reason, naming what is wrong"),
    Column("raw", Bytes, nullable=False),
)

station_state = Table(
    "station_state",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("online", Boolean, nullable=False, server_default="0"),
    Column("peer", String(64)),
    Column("connected_us", Id),
    Column("last_seen_us", Id),
    Column("last_data_ts", Id, comment="newest DataTime received"),
    Column("frames", Id, nullable=False, server_default="0"),
    Column("quarantined", Id, nullable=False, server_default="0"),
    Column("crc_variant", String(24), comment="CRC variant the station was last seen using"),
)
