"""accounts: users, sessions, login attempts

Revision ID: accounts_0001
Revises:
Create Date: 2026-11-30 23:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "accounts_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("accounts",)
depends_on: str | Sequence[str] | None = "core_0001"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ROLES = (
    "'admin', 'monitoring_staff', 'enforcement_officer', 'lab_analyst', 'reviewer', 'signatory', "
    "'enterprise', 'discipline_inspector'"
)


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("enterprise_id", _ID, nullable=True, comment="set for role enterprise only"),
        sa.Column("password_hash", sa.Text(), nullable=False, comment="argon2id PHC string"),
        sa.Column(
            "locked", sa.Boolean(), server_default="0", nullable=False, comment="locked by an administrator"
        ),
        sa.Column("created_ts", sa.Integer(), nullable=False),
        sa.Column("password_ts", sa.Integer(), nullable=False, comment="when the password was last set"),
        sa.CheckConstraint(f"role IN ({_ROLES})", name=op.f("ck_app_user_role")),
        sa.CheckConstraint(
            "(role = 'enterprise') = (enterprise_id IS NOT NULL)", name=op.f("ck_app_user_enterprise_bound")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprise.id"], name=op.f("fk_app_user_enterprise_id_enterprise")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "user_session",
        sa.Column(
            "token_sha256", sa.String(length=64), nullable=False, comment="SHA-256 of the cookie token, hex"
        ),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_ts", sa.Integer(), nullable=False),
        sa.Column("last_seen_ts", sa.Integer(), nullable=False),
        sa.Column("expires_ts", sa.Integer(), nullable=False, comment="absolute expiry"),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_user_session_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_user_session")),
    )
    op.create_index(op.f("ix_user_session_user_id"), "user_session", ["user_id"], unique=False)
    op.create_table(
        "login_attempt",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column(
            "reason",
            sa.String(length=32),
            nullable=False,
            comment="ok|bad_password|unknown_user|locked|lockout",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    op.create_index("ix_login_attempt_username_ts", "login_attempt", ["username", "ts"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_login_attempt_username_ts", table_name="login_attempt")
    op.drop_table("login_attempt")
    op.drop_index(op.f("ix_user_session_user_id"), table_name="user_session")
    op.drop_table("user_session")
    op.drop_table("app_user")
