"""rollups: raw statistics of readings per hour and per CST day

Revision ID: rollups_0001
Revises:
Create Date: 2026-11-30 23:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rollups_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("rollups",)
depends_on: str | Sequence[str] | None = "core_0001"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _stats() -> list[sa.Column[object]]:
    return [
        sa.Column("n", sa.Integer(), nullable=False, comment="values received (value not null)"),
        sa.Column("n_normal", sa.Integer(), nullable=False, comment="values with flag N (normal)"),
        sa.Column("v_sum", sa.Float(), nullable=True),
        sa.Column("v_min", sa.Float(), nullable=True),
        sa.Column("v_max", sa.Float(), nullable=True),
        sa.Column("zs_n", sa.Integer(), nullable=False, comment="corrected (Zs) values received"),
        sa.Column("zs_sum", sa.Float(), nullable=True),
        sa.Column("zs_min", sa.Float(), nullable=True),
        sa.Column("zs_max", sa.Float(), nullable=True),
    ]


def _create(name: str, period: str, comment: str) -> None:
    op.create_table(
        name,
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.Column(period, _ID, nullable=False, comment=comment),
        *_stats(),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"], name=op.f(f"fk_{name}_station_id_station")),
        sa.PrimaryKeyConstraint("station_id", "granularity", "parameter", period, name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    _create("reading_hour_stats", "hour_ts", "Unix seconds UTC of the hour's start")
    op.create_index("ix_reading_hour_stats_hour", "reading_hour_stats", ["hour_ts"], unique=False)
    _create("reading_day_stats", "day_ts", "Unix seconds UTC of 00:00 China Standard Time")
    op.create_index("ix_reading_day_stats_day", "reading_day_stats", ["day_ts"], unique=False)
    op.create_table(
        "rollup_watermark",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("frame_id", _ID, nullable=False, comment="readings of frames up to this id are rolled up"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollup_watermark")),
    )


def downgrade() -> None:
    op.drop_table("rollup_watermark")
    op.drop_index("ix_reading_day_stats_day", table_name="reading_day_stats")
    op.drop_table("reading_day_stats")
    op.drop_index("ix_reading_hour_stats_hour", table_name="reading_hour_stats")
    op.drop_table("reading_hour_stats")
