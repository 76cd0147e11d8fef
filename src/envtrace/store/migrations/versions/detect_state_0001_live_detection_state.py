"""detect_state: live detection's per-station state, pending hours, cursors, reported silences

Revision ID: detect_state_0001
Revises:
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "detect_state_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("detect_state",)
depends_on: str | Sequence[str] | None = "core_0001"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BYTES = sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")


def _station_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["station_id"], ["station.id"], name=op.f(f"fk_{table}_station_id_station")
    )


def upgrade() -> None:
    op.create_table(
        "detect_state",
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False, comment="warming | live"),
        sa.Column("first_ts", _ID, nullable=True, comment="start of the first judged hour seen"),
        sa.Column("last_ts", _ID, nullable=True, comment="end of the newest judged hour seen"),
        sa.Column(
            "fitted_ts",
            _ID,
            nullable=True,
            comment="the baseline was fitted on the hours before this instant",
        ),
        sa.Column(
            "neighbours", sa.Text(), nullable=False, comment="JSON list of the MNs the state also reads"
        ),
        sa.Column(
            "state", _BYTES, nullable=True, comment="StationDetectorState.to_bytes(): zlib-compressed JSON"
        ),
        sa.Column("updates", _ID, nullable=False, comment="number of saves (optimistic lock)"),
        sa.Column("updated_ts", _ID, nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False, comment="consecutive failed runs"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("retry_ts", _ID, nullable=True, comment="after a failure: not before this instant"),
        _station_fk("detect_state"),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_detect_state")),
    )
    op.create_table(
        "detect_pending",
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("from_ts", _ID, nullable=False, comment="earliest hour with new data"),
        sa.Column("to_ts", _ID, nullable=False, comment="end of the newest hour with new data"),
        sa.Column("seq", _ID, nullable=False, comment="grows at each merge"),
        _station_fk("detect_pending"),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_detect_pending")),
    )
    op.create_table(
        "detect_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("position", _ID, nullable=False, comment="last id consumed"),
        sa.Column("updated_ts", _ID, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_detect_cursor")),
    )
    op.create_table(
        "detect_offline",
        sa.Column("station_id", _ID, nullable=False),
        sa.Column(
            "last_seen_us",
            _ID,
            nullable=False,
            comment="the silence reported began after this receipt",
        ),
        sa.Column("reported_ts", _ID, nullable=False),
        _station_fk("detect_offline"),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_detect_offline")),
    )


def downgrade() -> None:
    op.drop_table("detect_offline")
    op.drop_table("detect_cursor")
    op.drop_table("detect_pending")
    op.drop_table("detect_state")
