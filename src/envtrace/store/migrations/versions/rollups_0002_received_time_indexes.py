"""rollups: indexes on the receipt time of raw frames and quarantined frames

The console overview counts the frames received and quarantined in the last 24 hours. Both tables
are ordered by id only (``raw_frame`` also by station and receipt time), so without these indexes
each count reads the whole table. They are declared here, in the web's ``rollups`` branch, so that
core_0001 (the gateway's) stays untouched; the tables themselves are the gateway's.

Revision ID: rollups_0002
Revises: rollups_0001
Create Date: 2026-12-01 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "rollups_0002"
down_revision: str | Sequence[str] | None = "rollups_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_index("ix_raw_frame_received", "raw_frame", ["received_us"], unique=False)
    op.create_index("ix_quarantine_received", "quarantine", ["received_us"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_quarantine_received", table_name="quarantine")
    op.drop_index("ix_raw_frame_received", table_name="raw_frame")
