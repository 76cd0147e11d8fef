"""core: registry, raw frames, quarantine, readings

Revision ID: core_0001
Revises:
Create Date: 2026-11-30 22:59:27.162741
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "core_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("core",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enterprise",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("code", sa.String(length=32), nullable=False, comment="unified social credit code"),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("county", sa.Text(), nullable=True),
        sa.Column("industry", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column(
            "key_unit",
            sa.Boolean(),
            server_default="0",
            nullable=False,
            comment="key pollutant-discharge unit",
        ),
        sa.Column("created_ts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise")),
        sa.UniqueConstraint("code", name=op.f("uq_enterprise_code")),
    )
    op.create_table(
        "parameter",
        sa.Column("code", sa.String(length=32), nullable=False, comment="HJ 212-2017 factor code"),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_parameter")),
    )
    op.create_table(
        "monitoring_point",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("county", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("created_ts", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('flue_gas', 'water', 'ambient', 'noise', 'surface_water', 'vocs', 'dust', 'other')",
            name=op.f("ck_monitoring_point_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprise.id"], name=op.f("fk_monitoring_point_enterprise_id_enterprise")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_point")),
        sa.UniqueConstraint("code", name=op.f("uq_monitoring_point_code")),
    )
    with op.batch_alter_table("monitoring_point", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_point_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "station",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("mn", sa.String(length=64), nullable=False),
        sa.Column("point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("st", sa.String(length=4), nullable=True, comment="HJ 212 system code the station sends"),
        sa.Column("edition", sa.String(length=4), server_default="2017", nullable=False),
        sa.Column(
            "pw_hash", sa.String(length=128), nullable=False, comment="scrypt hash of the access password PW"
        ),
        sa.Column(
            "encrypted", sa.Boolean(), server_default="0", nullable=False, comment="HJ 212-2025 SM4 on"
        ),
        sa.Column(
            "tolerant", sa.Boolean(), server_default="0", nullable=False, comment="accept known deviations"
        ),
        sa.Column("utc_offset_min", sa.Integer(), server_default="480", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column(
            "approved",
            sa.Boolean(),
            server_default="1",
            nullable=False,
            comment="false while a station enrolled on first use awaits approval by staff",
        ),
        sa.Column("approved_ts", sa.Integer(), nullable=True, comment="when staff approved the station"),
        sa.Column("approved_by", sa.Text(), nullable=True, comment="who approved it"),
        sa.Column(
            "enrolled_us",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="set when the gateway enrolled the MN on first use",
        ),
        sa.Column(
            "sm4_key",
            sa.Text(),
            nullable=True,
            comment="HJ 212-2025 SM4 key, sealed with the station-key master key",
        ),
        sa.Column("created_ts", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('flue_gas', 'water', 'ambient', 'noise', 'surface_water', 'vocs', 'dust', 'other')",
            name=op.f("ck_station_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["point_id"], ["monitoring_point.id"], name=op.f("fk_station_point_id_monitoring_point")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station")),
        sa.UniqueConstraint("mn", name=op.f("uq_station_mn")),
    )
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_station_point_id"), ["point_id"], unique=False)

    op.create_table(
        "raw_frame",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column(
            "received_us",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="receipt time, Unix microseconds UTC",
        ),
        sa.Column("peer", sa.String(length=64), nullable=False, comment="remote address:port"),
        sa.Column(
            "station_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="null when the MN is unknown",
        ),
        sa.Column("mn", sa.String(length=64), nullable=True),
        sa.Column("st", sa.String(length=4), nullable=True),
        sa.Column("cn", sa.String(length=8), nullable=True),
        sa.Column("qn", sa.String(length=24), nullable=True),
        sa.Column("flag", sa.Integer(), nullable=True),
        sa.Column("pnum", sa.Integer(), nullable=True, comment="sub-packet count PNUM, when split"),
        sa.Column("pno", sa.Integer(), nullable=True, comment="sub-packet number PNO, when split"),
        sa.Column(
            "data_ts",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="DataTime as Unix seconds UTC, when present",
        ),
        sa.Column("edition", sa.String(length=4), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column(
            "rf", sa.Boolean(), server_default="0", nullable=False, comment="HJ 212-2025 resend marker RF=1"
        ),
        sa.Column(
            "wire",
            sa.String(length=12),
            server_default="plain",
            nullable=False,
            comment="plain | sm4-raw | sm4-text",
        ),
        sa.Column(
            "deviations",
            sa.Text(),
            nullable=True,
            comment="known deviations accepted in tolerant mode, ';'-joined",
        ),
        sa.Column(
            "leaf_index",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="its leaf in the ledger",
        ),
        sa.Column("raw", sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql"), nullable=False),
        sa.CheckConstraint(
            "status IN ('accepted', 'duplicate', 'command', 'partial', 'quarantined', 'refused')",
            name=op.f("ck_raw_frame_status"),
        ),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"], name=op.f("fk_raw_frame_station_id_station")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_frame")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_raw_frame_leaf_index")),
    )
    with op.batch_alter_table("raw_frame", schema=None) as batch_op:
        batch_op.create_index("ix_raw_frame_dedup", ["station_id", "cn", "data_ts"], unique=False)
        batch_op.create_index("ix_raw_frame_station_received", ["station_id", "received_us"], unique=False)

    op.create_table(
        "reading",
        sa.Column("station_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.Column(
            "data_ts",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="DataTime, Unix seconds UTC (period start)",
        ),
        sa.Column("value", sa.Float(), nullable=True, comment="Rtd for real-time data, Avg for period data"),
        sa.Column("min", sa.Float(), nullable=True),
        sa.Column("max", sa.Float(), nullable=True),
        sa.Column("cou", sa.Float(), nullable=True),
        sa.Column("zs_value", sa.Float(), nullable=True, comment="ZsRtd / ZsAvg as the station reported it"),
        sa.Column("zs_min", sa.Float(), nullable=True),
        sa.Column("zs_max", sa.Float(), nullable=True),
        sa.Column("flag", sa.String(length=4), nullable=True),
        sa.Column("eflag", sa.String(length=8), nullable=True),
        sa.Column("sample_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "extra", sa.Text(), nullable=True, comment="JSON of any further fields of the item, never dropped"
        ),
        sa.Column(
            "frame_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="raw_frame.id it was decoded from",
        ),
        sa.CheckConstraint(
            "granularity IN ('rtd', 'min', 'hour', 'day')", name=op.f("ck_reading_granularity")
        ),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"], name=op.f("fk_reading_station_id_station")),
        # key order (station, granularity, data time, parameter): a frame's readings are adjacent in
        # the index (one page written per frame, not one per parameter); see store/readings.py
        sa.PrimaryKeyConstraint("station_id", "granularity", "data_ts", "parameter", name=op.f("pk_reading")),
        postgresql_partition_by="RANGE (data_ts)",
    )
    with op.batch_alter_table("reading", schema=None) as batch_op:
        batch_op.create_index("ix_reading_frame", ["frame_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Monthly partitions are added by envtrace.store.partitions; the default one means an
        # insert never fails for lack of a partition (a station with a wild clock, say).
        op.execute("CREATE TABLE reading_default PARTITION OF reading DEFAULT")

    op.create_table(
        "station_parameter",
        sa.Column("station_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.Column(
            "unit",
            sa.String(length=16),
            nullable=True,
            comment="unit the station sends (configured, never inferred)",
        ),
        sa.Column("span", sa.Float(), nullable=True, comment="analyser full range"),
        sa.Column("lod", sa.Float(), nullable=True, comment="detection limit"),
        sa.Column("o2_ref", sa.Float(), nullable=True, comment="reference O2 % for the corrected value"),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_station_parameter_station_id_station")
        ),
        sa.PrimaryKeyConstraint("station_id", "parameter", name=op.f("pk_station_parameter")),
    )
    op.create_table(
        "station_state",
        sa.Column("station_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("online", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=True),
        sa.Column("connected_us", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("last_seen_us", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "last_data_ts",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="newest DataTime received",
        ),
        sa.Column(
            "frames", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), server_default="0", nullable=False
        ),
        sa.Column(
            "quarantined",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "crc_variant",
            sa.String(length=24),
            nullable=True,
            comment="CRC variant the station was last seen using",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_station_state_station_id_station")
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_state")),
    )
    op.create_table(
        "quarantine",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("frame_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("received_us", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("mn", sa.String(length=64), nullable=True),
        sa.Column(
            "kind",
            sa.String(length=16),
            nullable=False,
            comment="framing|length|crc|syntax|crypto|auth|semantic",
        ),
        sa.Column("reason", sa.Text(), nullable=False, comment="the precise reason, naming what is wrong"),
        sa.Column("raw", sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["frame_id"], ["raw_frame.id"], name=op.f("fk_quarantine_frame_id_raw_frame")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_frame_id"), ["frame_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_frame_id"))

    op.drop_table("quarantine")
    op.drop_table("station_state")
    op.drop_table("station_parameter")
    with op.batch_alter_table("reading", schema=None) as batch_op:
        batch_op.drop_index("ix_reading_frame")

    op.drop_table("reading")
    with op.batch_alter_table("raw_frame", schema=None) as batch_op:
        batch_op.drop_index("ix_raw_frame_station_received")
        batch_op.drop_index("ix_raw_frame_dedup")

    op.drop_table("raw_frame")
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_point_id"))

    op.drop_table("station")
    with op.batch_alter_table("monitoring_point", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_point_enterprise_id"))

    op.drop_table("monitoring_point")
    op.drop_table("parameter")
    op.drop_table("enterprise")
