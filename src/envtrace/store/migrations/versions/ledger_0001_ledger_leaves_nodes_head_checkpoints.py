"""ledger: leaves, perfect-subtree nodes, head, checkpoints

Revision ID: ledger_0001
Revises:
Create Date: 2026-11-30 23:30:00
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ledger_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ledger",)
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BYTES = sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ledger_leaf",
        sa.Column("idx", _ID, autoincrement=False, nullable=False, comment="leaf index, from 0"),
        sa.Column(
            "kind", sa.String(length=32), nullable=False, comment="record kind: raw_frame, sign_off ..."
        ),
        sa.Column("payload", _BYTES, nullable=False, comment="canonical JSON leaf bytes (docs/store.md)"),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False, comment="SHA-256(0x00 || payload)"),
        sa.Column("created_us", _ID, nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_leaf")),
    )
    op.create_table(
        "ledger_node",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", _ID, autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint("level >= 1", name=op.f("ck_ledger_node_level")),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_ledger_node")),
    )
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", _ID, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("updated_us", _ID, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )
    op.create_table(
        "ledger_checkpoint",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("size", _ID, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("ts", _ID, nullable=False, comment="Unix seconds UTC"),
        sa.Column("note", sa.Text(), nullable=False, comment="the signed note, as published"),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoint")),
    )
    # The empty tree: size 0, root SHA-256 of the empty string (RFC 9162 2.1.1).
    op.bulk_insert(head, [{"id": 1, "size": 0, "root": hashlib.sha256(b"").digest(), "updated_us": 0}])


def downgrade() -> None:
    op.drop_table("ledger_checkpoint")
    op.drop_table("ledger_head")
    op.drop_table("ledger_node")
    op.drop_table("ledger_leaf")
