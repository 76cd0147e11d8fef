"""rollup: judged hourly/daily values, AQI, exceedances, disagreements, limit rules

Revision ID: rollup_0001
Revises:
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rollup_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("rollup",)
depends_on: str | Sequence[str] | None = "core_0001"

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Results are never changed or removed, only added to (a recomputation appends a new version): the
# database refuses UPDATE and DELETE on these tables.
APPEND_ONLY = (
    "rollup_value",
    "rollup_aqi",
    "rollup_city_aqi",
    "rollup_exceedance",
    "rollup_disagreement",
    "limit_rule",
)


def _append_only(tables: Sequence[str]) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION rollup_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$"
        )
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION rollup_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION rollup_append_only()"
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
        if postgres:
            names = (f"{table}_append_only", f"{table}_no_truncate")
        else:
            names = (f"{table}_no_update", f"{table}_no_delete")
        for name in names:
            op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS rollup_append_only()")


def upgrade() -> None:
    op.create_table(
        "rollup_city_aqi",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("stations", sa.Text(), nullable=False, comment="JSON list of the station ids averaged"),
        sa.Column("granularity", sa.String(length=4), nullable=False, comment="hour | day"),
        sa.Column("period_ts", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "edition", sa.String(length=16), nullable=False, comment="HJ 633 edition in force at the period"
        ),
        sa.Column("report", sa.String(length=16), nullable=False, comment="realtime | release | daily"),
        sa.Column("aqi", sa.Integer(), nullable=True, comment="published AQI; null = NA (HJ 633-2026 §5.3)"),
        sa.Column("aqi_available", sa.Integer(), nullable=True, comment="AQI of the items present"),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False, comment="category 1-6; 0 = none"),
        sa.Column(
            "primary_items", sa.String(length=128), nullable=False, comment="primary pollutants, ','-joined"
        ),
        sa.Column("iaqi", sa.Text(), nullable=False, comment="JSON item -> IAQI (-1 missing)"),
        sa.Column(
            "inputs", sa.Text(), nullable=False, comment="JSON item -> concentration used (µg/m³; CO mg/m³)"
        ),
        sa.Column("rules", sa.String(length=16), nullable=False),
        sa.Column("computed_ts", _ID, nullable=False),
        sa.CheckConstraint("granularity IN ('hour', 'day')", name=op.f("ck_rollup_city_aqi_granularity")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_city_aqi")),
        sa.UniqueConstraint("city", "granularity", "period_ts", "version", name="uq_rollup_city_aqi_key"),
    )
    op.create_table(
        "rollup_city_pending",
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False, comment="hour | day"),
        sa.Column("period_ts", _ID, nullable=False),
        sa.Column("due_ts", _ID, nullable=False),
        sa.PrimaryKeyConstraint("city", "granularity", "period_ts", name=op.f("pk_rollup_city_pending")),
    )
    op.create_table(
        "rollup_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column(
            "frame_id", _ID, nullable=False, comment="readings of raw frames up to this id are taken in"
        ),
        sa.Column("updated_ts", _ID, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollup_cursor")),
    )
    op.create_table(
        "rollup_run",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="job | recompute"),
        sa.Column("started_ts", _ID, nullable=False),
        sa.Column("from_ts", _ID, nullable=True),
        sa.Column("to_ts", _ID, nullable=True),
        sa.Column("frames_from", _ID, nullable=True),
        sa.Column("frames_to", _ID, nullable=True),
        sa.Column("counts", sa.Text(), nullable=False, comment="JSON"),
        sa.Column("rules", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_run")),
    )
    op.create_table(
        "limit_rule",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False, comment="permit | local | national"),
        sa.Column("station_id", _ID, nullable=True, comment="null: every station the selectors match"),
        sa.Column("station_kind", sa.String(length=16), nullable=True, comment="selector"),
        sa.Column("city", sa.Text(), nullable=True, comment="selector"),
        sa.Column("industry", sa.Text(), nullable=True, comment="selector (enterprise.industry)"),
        sa.Column(
            "parameter",
            sa.String(length=32),
            nullable=True,
            comment="HJ 212 code; null for a national-table assignment",
        ),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("averaging", sa.String(length=4), server_default="1h", nullable=False, comment="1h | 24h"),
        sa.Column("o2_ref_pct", sa.Float(), nullable=True, comment="reference O2 the limit is expressed at"),
        sa.Column(
            "standard",
            sa.String(length=64),
            nullable=True,
            comment="national assignment: standard of emission_limits.csv",
        ),
        sa.Column("facility", sa.String(length=64), nullable=True, comment="national assignment: facility"),
        sa.Column("condition", sa.String(length=64), nullable=True, comment="national assignment: condition"),
        sa.Column("effective_from", _ID, nullable=True, comment="inclusive; null = always"),
        sa.Column("effective_to", _ID, nullable=True, comment="exclusive; null = open"),
        sa.Column("source", sa.Text(), nullable=False, comment="document, clause, permit number"),
        sa.Column("created_ts", _ID, nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(standard IS NOT NULL AND facility IS NOT NULL AND condition IS NOT NULL AND scope = 'national')"
            " OR (parameter IS NOT NULL AND value IS NOT NULL AND unit IS NOT NULL)",
            name=op.f("ck_limit_rule_assignment_or_value"),
        ),
        sa.CheckConstraint("averaging IN ('1h', '24h')", name=op.f("ck_limit_rule_averaging")),
        sa.CheckConstraint("scope IN ('national', 'local', 'permit')", name=op.f("ck_limit_rule_scope")),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_limit_rule_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_rule")),
    )
    op.create_table(
        "rollup_aqi",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False, comment="hour | day"),
        sa.Column("period_ts", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "edition", sa.String(length=16), nullable=False, comment="HJ 633 edition in force at the period"
        ),
        sa.Column("report", sa.String(length=16), nullable=False, comment="realtime | release | daily"),
        sa.Column("aqi", sa.Integer(), nullable=True, comment="published AQI; null = NA (HJ 633-2026 §5.3)"),
        sa.Column("aqi_available", sa.Integer(), nullable=True, comment="AQI of the items present"),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False, comment="category 1-6; 0 = none"),
        sa.Column(
            "primary_items", sa.String(length=128), nullable=False, comment="primary pollutants, ','-joined"
        ),
        sa.Column("iaqi", sa.Text(), nullable=False, comment="JSON item -> IAQI (-1 missing)"),
        sa.Column(
            "inputs", sa.Text(), nullable=False, comment="JSON item -> concentration used (µg/m³; CO mg/m³)"
        ),
        sa.Column("rules", sa.String(length=16), nullable=False),
        sa.Column("computed_ts", _ID, nullable=False),
        sa.CheckConstraint("granularity IN ('hour', 'day')", name=op.f("ck_rollup_aqi_granularity")),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_rollup_aqi_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_aqi")),
        sa.UniqueConstraint("station_id", "granularity", "period_ts", "version", name="uq_rollup_aqi_key"),
    )
    op.create_table(
        "rollup_disagreement",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False),
        sa.Column("period_ts", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, comment="version of the rollup_value compared"),
        sa.Column("field", sa.String(length=8), nullable=False, comment="avg | zs_avg | cou"),
        sa.Column("station_value", sa.Float(), nullable=False),
        sa.Column("platform_value", sa.Float(), nullable=False),
        sa.Column(
            "platform_alt",
            sa.Float(),
            nullable=True,
            comment="the other admissible recomputation (method or basis)",
        ),
        sa.Column(
            "difference", sa.Float(), nullable=False, comment="distance of the station value from the band"
        ),
        sa.Column("tolerance", sa.Float(), nullable=False, comment="allowed distance (abs + rel)"),
        sa.Column("decimals", sa.SmallInteger(), nullable=False, comment="decimals the station reported"),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("station_frame_id", _ID, nullable=True, comment="raw frame of the station's value"),
        sa.Column("repeats", _ID, nullable=True, comment="earlier record of the same fact"),
        sa.Column("detected_ts", _ID, nullable=False),
        sa.CheckConstraint("field IN ('avg', 'zs_avg', 'cou')", name=op.f("ck_rollup_disagreement_field")),
        sa.ForeignKeyConstraint(
            ["repeats"],
            ["rollup_disagreement.id"],
            name=op.f("fk_rollup_disagreement_repeats_rollup_disagreement"),
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_rollup_disagreement_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_disagreement")),
    )
    op.create_index(
        "ix_rollup_disagreement_station_period",
        "rollup_disagreement",
        ["station_id", "period_ts"],
        unique=False,
    )
    op.create_table(
        "rollup_pending",
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False, comment="hour | day"),
        sa.Column("period_ts", _ID, nullable=False),
        sa.Column("due_ts", _ID, nullable=False, comment="not computed before: period end + grace"),
        sa.Column("touched_frame", _ID, nullable=False, comment="newest raw frame that touched the period"),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_rollup_pending_station_id_station")
        ),
        sa.PrimaryKeyConstraint("station_id", "granularity", "period_ts", name=op.f("pk_rollup_pending")),
    )
    op.create_index("ix_rollup_pending_due", "rollup_pending", ["due_ts"], unique=False)
    op.create_table(
        "rollup_series",
        sa.Column("station_id", _ID, nullable=False),
        sa.Column(
            "granularity",
            sa.String(length=4),
            nullable=False,
            comment="reading granularity: rtd|min|hour|day",
        ),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_rollup_series_station_id_station")
        ),
        sa.PrimaryKeyConstraint("station_id", "granularity", "parameter", name=op.f("pk_rollup_series")),
    )
    op.create_table(
        "rollup_value",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False, comment="hour | day"),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.Column("period_ts", _ID, nullable=False, comment="start of the hour / the station's local day"),
        sa.Column("version", sa.Integer(), nullable=False, comment="1, 2 ...: the highest is current"),
        sa.Column(
            "kind", sa.String(length=16), nullable=False, comment="station kind: flue_gas | water | ambient"
        ),
        sa.Column(
            "source",
            sa.String(length=4),
            nullable=False,
            comment="data it was computed from: min|rtd|hour|day",
        ),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column(
            "reason", sa.SmallInteger(), nullable=False, comment="envtrace.standards.Reason (0 = valid)"
        ),
        sa.Column(
            "flag", sa.String(length=2), nullable=True, comment="aggregate HJ 212 flag (flue gas, wastewater)"
        ),
        sa.Column("n_total", sa.Integer(), nullable=True, comment="minutes (hours for days) covered by data"),
        sa.Column("n_valid", sa.Integer(), nullable=True, comment="valid minutes (valid hours for days)"),
        sa.Column(
            "n_stopped", sa.Integer(), nullable=True, comment="stopped minutes (stopped hours for days)"
        ),
        sa.Column("unit", sa.String(length=16), nullable=True, comment="unit of value/vmin/vmax/zs_value"),
        sa.Column(
            "value",
            sa.Float(),
            nullable=True,
            comment="mean of the valid data (flow-weighted for wastewater)",
        ),
        sa.Column("vmin", sa.Float(), nullable=True),
        sa.Column("vmax", sa.Float(), nullable=True),
        sa.Column("zs_value", sa.Float(), nullable=True, comment="recomputed reference-O2 corrected value"),
        sa.Column(
            "zs_reason",
            sa.SmallInteger(),
            nullable=True,
            comment="why zs_value is missing (Reason); null = not applicable",
        ),
        sa.Column("o2_ref", sa.Float(), nullable=True, comment="reference O2 % used"),
        sa.Column("o2", sa.Float(), nullable=True, comment="O2 % of the period used for the correction"),
        sa.Column(
            "volume_m3",
            sa.Float(),
            nullable=True,
            comment="flow rows: volume of the period (flue gas standard dry)",
        ),
        sa.Column(
            "mass_kg",
            sa.Float(),
            nullable=True,
            comment="pollutant rows: mass emitted/discharged in the period",
        ),
        sa.Column("max_1h", sa.Float(), nullable=True, comment="days, ambient: maximum valid hourly mean"),
        sa.Column(
            "max_8h",
            sa.Float(),
            nullable=True,
            comment="days, O3: daily maximum 8-h mean (null when not valid)",
        ),
        sa.Column(
            "station_value",
            sa.Float(),
            nullable=True,
            comment="the station's own Avg for the period (2061/2031)",
        ),
        sa.Column("station_zs_value", sa.Float(), nullable=True, comment="the station's own ZsAvg"),
        sa.Column("station_cou", sa.Float(), nullable=True, comment="the station's own Cou"),
        sa.Column("station_flag", sa.String(length=4), nullable=True, comment="the station's own flag"),
        sa.Column("edition", sa.String(length=64), nullable=False, comment="rules applied, by data time"),
        sa.Column(
            "flag_edition",
            sa.String(length=16),
            nullable=True,
            comment="HJ 212 edition whose flag meanings were read",
        ),
        sa.Column(
            "rules",
            sa.String(length=16),
            nullable=False,
            comment="digest of the rule tables and code version",
        ),
        sa.Column("detail", sa.Text(), nullable=False, comment="JSON: intervals, bases, alternatives ..."),
        sa.Column("computed_ts", _ID, nullable=False),
        sa.CheckConstraint("granularity IN ('hour', 'day')", name=op.f("ck_rollup_value_granularity")),
        sa.CheckConstraint("source IN ('min', 'rtd', 'hour', 'day')", name=op.f("ck_rollup_value_source")),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_rollup_value_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_value")),
        sa.UniqueConstraint(
            "station_id", "granularity", "parameter", "period_ts", "version", name="uq_rollup_value_key"
        ),
    )
    op.create_index("ix_rollup_value_period", "rollup_value", ["granularity", "period_ts"], unique=False)
    op.create_index(
        "ix_rollup_value_station_period",
        "rollup_value",
        ["station_id", "granularity", "period_ts"],
        unique=False,
    )
    op.create_table(
        "rollup_exceedance",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", _ID, nullable=False),
        sa.Column("parameter", sa.String(length=32), nullable=False),
        sa.Column("granularity", sa.String(length=4), nullable=False),
        sa.Column("period_ts", _ID, nullable=False),
        sa.Column("period_end", _ID, nullable=False, comment="exclusive"),
        sa.Column("version", sa.Integer(), nullable=False, comment="version of the rollup_value judged"),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("limit_value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False, comment="corrected | measured"),
        sa.Column("o2_ref", sa.Float(), nullable=True),
        sa.Column("limit_scope", sa.String(length=16), nullable=False, comment="permit | local | national"),
        sa.Column("limit_source", sa.Text(), nullable=False),
        sa.Column("limit_rule_id", _ID, nullable=True, comment="the limit_rule row it came from"),
        sa.Column("averaging", sa.String(length=4), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=False, comment="value / limit"),
        sa.Column("repeats", _ID, nullable=True, comment="earlier record of the same fact"),
        sa.Column("detected_ts", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["limit_rule_id"], ["limit_rule.id"], name=op.f("fk_rollup_exceedance_limit_rule_id_limit_rule")
        ),
        sa.ForeignKeyConstraint(
            ["repeats"], ["rollup_exceedance.id"], name=op.f("fk_rollup_exceedance_repeats_rollup_exceedance")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_rollup_exceedance_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_exceedance")),
    )
    op.create_index(
        "ix_rollup_exceedance_station_period", "rollup_exceedance", ["station_id", "period_ts"], unique=False
    )

    _append_only(APPEND_ONLY)


def downgrade() -> None:
    _drop_append_only(APPEND_ONLY)
    op.drop_index("ix_rollup_exceedance_station_period", table_name="rollup_exceedance")
    op.drop_table("rollup_exceedance")
    op.drop_index("ix_rollup_value_station_period", table_name="rollup_value")
    op.drop_index("ix_rollup_value_period", table_name="rollup_value")
    op.drop_table("rollup_value")
    op.drop_table("rollup_series")
    op.drop_index("ix_rollup_pending_due", table_name="rollup_pending")
    op.drop_table("rollup_pending")
    op.drop_index("ix_rollup_disagreement_station_period", table_name="rollup_disagreement")
    op.drop_table("rollup_disagreement")
    op.drop_table("rollup_aqi")
    op.drop_table("limit_rule")
    op.drop_table("rollup_run")
    op.drop_table("rollup_cursor")
    op.drop_table("rollup_city_pending")
    op.drop_table("rollup_city_aqi")
