"""Registry tables: enterprises, monitoring points, stations (data loggers), parameters.

A *station* is one data logger identified on the wire by its MN; it belongs to a *monitoring point*
(an outlet of an enterprise, or an ambient site), which may belong to an *enterprise*.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)

from envtrace.store.metadata import metadata
from envtrace.store.types import Id

STATION_KINDS = ("flue_gas", "water", "ambient", "noise", "surface_water", "vocs", "dust", "other")

enterprise = Table(
    "enterprise",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True, comment="unified social credit code"),
    Column("name", Text, nullable=False),
    Column("name_en", Text),
    Column("city", Text),
    Column("county", Text),
    Column("industry", Text),
    Column("address", Text),
    Column("key_unit", Boolean, nullable=False, server_default="0", comment="key pollutant-discharge unit"),
    Column("created_ts", Integer, nullable=False),
)

monitoring_point = Table(
    "monitoring_point",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("enterprise_id", ForeignKey("enterprise.id"), index=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text),
    Column("kind", String(16), nullable=False),
    Column("city", Text),
    Column("county", Text),
    Column("lat", Float),
    Column("lon", Float),
    Column("created_ts", Integer, nullable=False),
    CheckConstraint(f"kind IN {STATION_KINDS!r}", name="kind"),
)

station = Table(
    "station",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("mn", String(64), nullable=False, unique=True),
    Column("point_id", ForeignKey("monitoring_point.id"), index=True),
    Column("name", Text),
    Column("kind", String(16), nullable=False),
    Column("st", String(4), comment="HJ 212 system code the station sends"),
    Column("edition", String(4), nullable=False, server_default="2017"),
    Column("pw_hash", String(128), nullable=False, comment="scrypt hash of the access password PW"),
    Column("encrypted", Boolean, nullable=False, server_default="0", comment="HJ 212-2025 SM4 on"),
    Column("tolerant", Boolean, nullable=False, server_default="0", comment="accept known deviations"),
    Column("utc_offset_min", Integer, nullable=False, server_default="480"),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column(
        "approved",
        Boolean,
        nullable=False,
        server_default="1",
        comment="false while a station enrolled on first use awaits approval by staff",
    ),
    Column("approved_ts", Integer, comment="when staff approved the station"),
    Column("approved_by", Text, comment="who approved it"),
    Column("enrolled_us", Id, comment="set when the gateway enrolled the MN on first use"),
    Column("sm4_key", Text, comment="HJ 212-2025 SM4 key, sealed with the station-key master key"),
    Column("created_ts", Integer, nullable=False),
    CheckConstraint(f"kind IN {STATION_KINDS!r}", name="kind"),
)

parameter = Table(
    "parameter",
    metadata,
    Column("code", String(32), primary_key=True, comment="HJ 212-2017 factor code"),
    Column("name_zh", Text, nullable=False),
    Column("name_en", Text, nullable=False),
    Column("unit", String(16)),
    Column("kind", String(16)),
)

station_parameter = Table(
    "station_parameter",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("parameter", String(32), primary_key=True),
    Column("unit", String(16), comment="unit the station sends (configured, never inferred)"),
    Column("span", Float, comment="analyser full range"),
    Column("lod", Float, comment="detection limit"),
    Column("o2_ref", Float, comment="reference O2 % for the corrected value"),
)
