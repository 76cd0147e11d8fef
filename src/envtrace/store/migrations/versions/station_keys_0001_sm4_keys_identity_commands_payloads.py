"""station_keys: HJ 212-2025 SM4 keys, logger bindings, station commands, non-reading payloads

Tables: station_key, station_key_event (store/station_keys.py); station_binding
(store/station_identity.py); station_command, station_mn_change (store/station_commands.py);
measurement, standard_check, station_resend (store/payloads.py).

Revision ID: station_keys_0001
Revises:
Create Date: 2026-12-01 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "station_keys_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("station_keys",)
depends_on: str | Sequence[str] | None = "core_0001"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BYTES = sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")


def _station_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["station_id"], ["station.id"], name=op.f(f"fk_{table}_station_id_station")
    )


def upgrade() -> None:
    op.create_table(
        "station_key",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False, comment="names the key in events and logs"),
        sa.Column(
            "fingerprint",
            sa.String(length=64),
            nullable=False,
            comment="HMAC-SHA256 under the master key, hex",
        ),
        sa.Column("sealed", _BYTES, nullable=False, comment="the key, AES-256-GCM under the master key"),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column(
            "origin", sa.String(length=12), nullable=False, comment="registered | generated | imported"
        ),
        sa.Column(
            "sk_create_time",
            sa.String(length=17),
            nullable=True,
            comment="SKCreateTime, station local time, 17 digits",
        ),
        sa.Column("created_us", _ID, nullable=False),
        sa.Column(
            "activated_us", _ID, nullable=True, comment="first frame received under it (or registration)"
        ),
        sa.Column("until_us", _ID, nullable=True, comment="previous keys: end of the overlap window"),
        sa.Column("ended_us", _ID, nullable=True, comment="retired or revoked at"),
        sa.CheckConstraint(
            "state IN ('pending', 'current', 'previous', 'retired', 'revoked')",
            name=op.f("ck_station_key_state"),
        ),
        sa.CheckConstraint(
            "origin IN ('registered', 'generated', 'imported')", name=op.f("ck_station_key_origin")
        ),
        _station_fk("station_key"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_key")),
        sa.UniqueConstraint("key_id", name=op.f("uq_station_key_key_id")),
    )
    op.create_index("ix_station_key_station", "station_key", ["station_id", "created_us"])
    op.create_index("ix_station_key_fingerprint", "station_key", ["fingerprint"])

    op.create_table(
        "station_key_event",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("mn", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=12), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("ts_us", _ID, nullable=False),
        sa.Column(
            "detail",
            sa.Text(),
            nullable=False,
            comment="canonical JSON: SKCreateTime, previous key, reason ...",
        ),
        sa.Column("leaf_index", _ID, nullable=True, comment="its station_key leaf in the ledger"),
        sa.CheckConstraint(
            "event IN ('registered', 'delivered', 'activated', 'retired', 'revoked')",
            name=op.f("ck_station_key_event_event"),
        ),
        _station_fk("station_key_event"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_key_event")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_station_key_event_leaf_index")),
    )
    op.create_index(op.f("ix_station_key_event_station_id"), "station_key_event", ["station_id"])

    op.create_table(
        "station_binding",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("mn", sa.String(length=64), nullable=False, comment="the MN the logger reported under"),
        sa.Column(
            "identity", sa.String(length=64), nullable=False, comment="SHA-256 of the four identity values"
        ),
        sa.Column("logger_id", sa.Text(), nullable=True, comment="i23005-Info"),
        sa.Column("cpu_id", sa.Text(), nullable=True, comment="i23006-Info"),
        sa.Column("mac1", sa.Text(), nullable=True, comment="i23007-Info"),
        sa.Column("mac2", sa.Text(), nullable=True, comment="i23008-Info"),
        sa.Column("event", sa.String(length=8), nullable=False, comment="bound (first) | changed"),
        sa.Column("previous", sa.String(length=64), nullable=True, comment="identity it replaced"),
        sa.Column("first_seen_us", _ID, nullable=False),
        sa.Column("last_seen_us", _ID, nullable=False),
        sa.Column("reports", sa.Integer(), server_default="1", nullable=False),
        sa.Column("current", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=True, comment="address the first report came from"),
        sa.Column("reported_ts", _ID, nullable=True, comment="changes: when the alarm intake raised it"),
        sa.Column("leaf_index", _ID, nullable=True),
        _station_fk("station_binding"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_binding")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_station_binding_leaf_index")),
    )
    op.create_index("ix_station_binding_station", "station_binding", ["station_id", "current"])

    op.create_table(
        "station_command",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", _ID, nullable=False),
        sa.Column(
            "mn", sa.String(length=64), nullable=False, comment="the station's MN when the command was issued"
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.Text(), nullable=False, comment="canonical JSON (PolId, the new MN ...)"),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("qn", sa.String(length=24), nullable=True, comment="QN of the request sent"),
        sa.Column("qn_rtn", sa.String(length=4), nullable=True, comment="9011 QnRtn the station answered"),
        sa.Column("exe_rtn", sa.String(length=4), nullable=True, comment="9012 ExeRtn the station answered"),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("created_us", _ID, nullable=False),
        sa.Column("expires_us", _ID, nullable=False, comment="not sent by then: expired"),
        sa.Column("sent_us", _ID, nullable=True),
        sa.Column("answered_us", _ID, nullable=True),
        sa.Column(
            "detail", sa.Text(), nullable=True, comment="what happened (key id delivered, why it failed ...)"
        ),
        sa.Column("leaf_index", _ID, nullable=True),
        sa.CheckConstraint(
            "kind IN ('set_mn', 'rotate_key', 'retain_sample', 'standard_check')",
            name=op.f("ck_station_command_kind"),
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'sent', 'acknowledged', 'done', 'failed', 'expired', 'cancelled')",
            name=op.f("ck_station_command_state"),
        ),
        _station_fk("station_command"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_command")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_station_command_leaf_index")),
    )
    op.create_index("ix_station_command_state", "station_command", ["state", "station_id"])

    op.create_table(
        "station_mn_change",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("old_mn", sa.String(length=64), nullable=False),
        sa.Column("new_mn", sa.String(length=64), nullable=False),
        sa.Column("command_id", _ID, nullable=True, comment="the 1002 command the station confirmed"),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("ts_us", _ID, nullable=False),
        sa.Column("leaf_index", _ID, nullable=True),
        _station_fk("station_mn_change"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_mn_change")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_station_mn_change_leaf_index")),
    )
    op.create_index(op.f("ix_station_mn_change_station_id"), "station_mn_change", ["station_id"])

    op.create_table(
        "measurement",
        sa.Column("station_id", _ID, nullable=False),
        sa.Column(
            "cn",
            sa.String(length=4),
            nullable=False,
            comment="2013 raw periodic | 2052 noise | 2111 furnace 5-min",
        ),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.Column("data_ts", _ID, nullable=False, comment="DataTime, Unix seconds UTC"),
        sa.Column("value", sa.Float(), nullable=True, comment="Avg (2013, 2111) or Data (2052)"),
        sa.Column("sample_ts", _ID, nullable=True, comment="2013: SampleTime"),
        sa.Column("complete_ts", _ID, nullable=True, comment="2013: CompleteTime"),
        sa.Column("sample_type", sa.String(length=8), nullable=True, comment="2013: SampleType"),
        sa.Column("flag", sa.String(length=4), nullable=True),
        sa.Column(
            "extra", sa.Text(), nullable=True, comment="JSON of any further fields of the item, never dropped"
        ),
        sa.Column("frame_id", _ID, nullable=False, comment="raw_frame.id it was decoded from"),
        _station_fk("measurement"),
        sa.PrimaryKeyConstraint("station_id", "cn", "parameter", "data_ts", name=op.f("pk_measurement")),
    )
    op.create_index("ix_measurement_frame", "measurement", ["frame_id"])

    op.create_table(
        "standard_check",
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.Column("data_ts", _ID, nullable=False, comment="DataTime: start of the check"),
        sa.Column("measured", sa.Float(), nullable=True, comment="SampleRd"),
        sa.Column("nominal", sa.Float(), nullable=True, comment="StandardValue"),
        sa.Column("result", sa.SmallInteger(), nullable=True, comment="ResultType as sent: 1 pass, 0 fail"),
        sa.Column("flag", sa.String(length=4), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True, comment="JSON of any further fields of the item"),
        sa.Column("frame_id", _ID, nullable=False),
        _station_fk("standard_check"),
        sa.PrimaryKeyConstraint("station_id", "parameter", "data_ts", name=op.f("pk_standard_check")),
    )
    op.create_index("ix_standard_check_frame", "standard_check", ["frame_id"])

    op.create_table(
        "station_resend",
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("frames", _ID, server_default="0", nullable=False, comment="frames received with RF=1"),
        sa.Column(
            "filled", _ID, server_default="0", nullable=False, comment="data periods RF=1 frames filled"
        ),
        sa.Column("duplicates", _ID, server_default="0", nullable=False, comment="RF=1 frames already held"),
        sa.Column("last_us", _ID, nullable=True, comment="receipt time of the newest RF=1 frame"),
        _station_fk("station_resend"),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_resend")),
    )


def downgrade() -> None:
    for table in (
        "station_resend",
        "standard_check",
        "measurement",
        "station_mn_change",
        "station_command",
        "station_binding",
        "station_key_event",
        "station_key",
    ):
        op.drop_table(table)
