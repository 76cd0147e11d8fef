"""alarms: alarms, events, evidence, notification outbox

Revision ID: alarms_0001
Revises:
Create Date: 2026-11-30 23:07:08.576551
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "alarms_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("alarms",)
depends_on: str | Sequence[str] | None = "core_0001"


# The history and the evidence are never changed or removed, only added to: the database refuses
# it, so that a change needs the triggers dropped first (and is then caught by the ledger).
APPEND_ONLY = ("alarm_event", "alarm_evidence")


def _append_only(tables: Sequence[str]) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION alarm_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$"
        )
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION alarm_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION alarm_append_only()"
            )
        return
    for table in tables:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            )


def _drop_append_only(tables: Sequence[str]) -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    for table in tables:
        names = (
            (f"{table}_append_only", f"{table}_no_truncate")
            if postgres
            else (
                f"{table}_no_update",
                f"{table}_no_delete",
            )
        )
        for name in names:
            op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS alarm_append_only()")


def upgrade() -> None:
    op.create_table(
        "alarm",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("station_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "enterprise_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="owner of the outlet, when known",
        ),
        sa.Column("pattern", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="fraud | qc | exceedance | offline"),
        sa.Column("detector", sa.String(length=64), nullable=False, comment="detector of the first evidence"),
        sa.Column("parameters", sa.Text(), nullable=False, comment="JSON list of parameter codes, sorted"),
        sa.Column(
            "start_ts",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="window start, inclusive",
        ),
        sa.Column(
            "end_ts",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="window end, exclusive",
        ),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column(
            "owner_user",
            sa.String(length=64),
            nullable=True,
            comment="null while the alarm waits in a role queue",
        ),
        sa.Column("owner_role", sa.String(length=24), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column(
            "due_ts",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="current deadline; null once closed",
        ),
        sa.Column("opened_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("closed_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "supersedes_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="the closed alarm it reopens",
        ),
        sa.Column("superseded_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("enforcement_type", sa.String(length=32), nullable=True),
        sa.Column("enforcement_ref", sa.Text(), nullable=True),
        sa.Column("dismiss_reason", sa.String(length=32), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('new', 'acknowledged', 'under_verification', 'confirmed', 'dismissed')",
            name=op.f("ck_alarm_state"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprise.id"], name=op.f("fk_alarm_enterprise_id_enterprise")
        ),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"], name=op.f("fk_alarm_station_id_station")),
        sa.ForeignKeyConstraint(["supersedes_id"], ["alarm.id"], name=op.f("fk_alarm_supersedes_id_alarm")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_alarm_supersedes_id")),
    )
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        batch_op.create_index("ix_alarm_owner", ["owner_role", "owner_user"], unique=False)
        batch_op.create_index("ix_alarm_state_due", ["state", "due_ts"], unique=False)
        batch_op.create_index(
            "ix_alarm_station_pattern_state", ["station_id", "pattern", "state"], unique=False
        )

    op.create_table(
        "alarm_event",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("alarm_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, comment="1, 2, ... within the alarm"),
        sa.Column("ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("prev_state", sa.String(length=24), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False, comment="canonical JSON of the sealed record"),
        sa.Column(
            "leaf_index",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="its leaf in the ledger",
        ),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarm.id"], name=op.f("fk_alarm_event_alarm_id_alarm")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_event")),
        sa.UniqueConstraint("alarm_id", "seq", name=op.f("uq_alarm_event_alarm_id_seq")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_alarm_event_leaf_index")),
    )
    op.create_table(
        "alarm_evidence",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("alarm_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False, comment="SHA-256 of body, hex"),
        sa.Column("source", sa.String(length=16), nullable=False, comment="detector | exceedance"),
        sa.Column("detector", sa.String(length=64), nullable=False),
        sa.Column("start_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("end_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "body", sa.Text(), nullable=False, comment="canonical JSON: the evidence with its plot series"
        ),
        sa.Column("seq", sa.Integer(), nullable=False, comment="the alarm event that attached it"),
        sa.Column("received_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarm.id"], name=op.f("fk_alarm_evidence_alarm_id_alarm")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_evidence")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_alarm_evidence_fingerprint")),
    )
    with op.batch_alter_table("alarm_evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_evidence_alarm_id"), ["alarm_id"], unique=False)

    op.create_table(
        "alarm_delivery",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("target", sa.Text(), nullable=False, comment="URL, or comma-separated e-mail addresses"),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column(
            "body", sa.Text(), nullable=False, comment="exactly what is sent (webhook JSON, mail text)"
        ),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sent_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f("ck_alarm_delivery_channel")),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f("ck_alarm_delivery_status")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["alarm_event.id"], name=op.f("fk_alarm_delivery_event_id_alarm_event")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_delivery")),
    )
    with op.batch_alter_table("alarm_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_delivery_event_id"), ["event_id"], unique=False)
        batch_op.create_index("ix_alarm_delivery_status_next", ["status", "next_attempt_ts"], unique=False)

    op.create_table(
        "alarm_notice",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("planned_ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["alarm_event.id"], name=op.f("fk_alarm_notice_event_id_alarm_event")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_alarm_notice")),
    )
    op.create_table(
        "alarm_delivery_attempt",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, comment="HTTP status, SMTP reply or the error"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["alarm_delivery.id"],
            name=op.f("fk_alarm_delivery_attempt_delivery_id_alarm_delivery"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_delivery_attempt")),
    )
    with op.batch_alter_table("alarm_delivery_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alarm_delivery_attempt_delivery_id"), ["delivery_id"], unique=False
        )

    _append_only(APPEND_ONLY)


def downgrade() -> None:
    _drop_append_only(APPEND_ONLY)
    with op.batch_alter_table("alarm_delivery_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_delivery_attempt_delivery_id"))

    op.drop_table("alarm_delivery_attempt")
    op.drop_table("alarm_notice")
    with op.batch_alter_table("alarm_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_alarm_delivery_status_next")
        batch_op.drop_index(batch_op.f("ix_alarm_delivery_event_id"))

    op.drop_table("alarm_delivery")
    with op.batch_alter_table("alarm_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_evidence_alarm_id"))

    op.drop_table("alarm_evidence")
    op.drop_table("alarm_event")
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        batch_op.drop_index("ix_alarm_station_pattern_state")
        batch_op.drop_index("ix_alarm_state_due")
        batch_op.drop_index("ix_alarm_owner")

    op.drop_table("alarm")
