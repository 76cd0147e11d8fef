"""The tables of the roll-up (see the package docstring) and the helpers every query module shares."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    Select,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from envtrace.store.metadata import metadata
from envtrace.store.types import Id

GRANULARITIES = ("hour", "day")
PERIOD_S = {"hour": 3600, "day": 86400}
SOURCES = ("min", "rtd", "hour", "day")
LIMIT_SCOPES = ("national", "local", "permit")
LIMIT_AVERAGING = ("1h", "24h")
DISAGREEMENT_FIELDS = ("avg", "zs_avg", "cou")
APPEND_ONLY = (
    "rollup_value",
    "rollup_aqi",
    "rollup_city_aqi",
    "rollup_exceedance",
    "rollup_disagreement",
    "limit_rule",
)

# ---------------------------------------------------------------------------------------- tables

rollup_cursor = Table(
    "rollup_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("frame_id", Id, nullable=False, comment="readings of raw frames up to this id are taken in"),
    Column("updated_ts", Id, nullable=False),
)

rollup_series = Table(
    "rollup_series",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("granularity", String(4), primary_key=True, comment="reading granularity: rtd|min|hour|day"),
    Column("parameter", String(32), primary_key=True),
)

rollup_pending = Table(
    "rollup_pending",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("granularity", String(4), primary_key=True, comment="hour | day"),
    Column("period_ts", Id, primary_key=True),
    Column("due_ts", Id, nullable=False, comment="not computed before: period end + grace"),
    Column("touched_frame", Id, nullable=False, comment="newest raw frame that touched the period"),
)
Index("ix_rollup_pending_due", rollup_pending.c.due_ts)

rollup_city_pending = Table(
    "rollup_city_pending",
    metadata,
    Column("city", String(64), primary_key=True),
    Column("granularity", String(4), primary_key=True, comment="hour | day"),
    Column("period_ts", Id, primary_key=True),
    Column("due_ts", Id, nullable=False),
)

rollup_value = Table(
    "rollup_value",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", ForeignKey("station.id"), nullable=False),
    Column("granularity", String(4), nullable=False, comment="hour | day"),
    Column("parameter", String(32), nullable=False),
    Column("period_ts", Id, nullable=False, comment="start of the hour / the station's local day"),
    Column("version", Integer, nullable=False, comment="1, 2 ...: the highest is current"),
    Column("kind", String(16), nullable=False, comment="station kind: flue_gas | water | ambient"),
    Column("source", String(4), nullable=False, comment="data it was computed from: min|rtd|hour|day"),
    Column("valid", Boolean, nullable=False),
    Column("reason", SmallInteger, nullable=False, comment="envtrace.standards.Reason (0 = valid)"),
    Column("flag", String(2), comment="aggregate HJ 212 flag (flue gas, wastewater)"),
    Column("n_total", Integer, comment="minutes (hours for days) covered by data"),
    Column("n_valid", Integer, comment="valid minutes (valid hours for days)"),
    Column("n_stopped", Integer, comment="stopped minutes (stopped hours for days)"),
    Column("unit", String(16), comment="unit of value/vmin/vmax/zs_value"),
    Column("value", Float, comment="mean of the valid data (flow-weighted for wastewater)"),
    Column("vmin", Float),
    Column("vmax", Float),
    Column("zs_value", Float, comment="recomputed reference-O2 corrected value"),
    Column("zs_reason", SmallInteger, comment="why zs_value is missing (Reason); null = not applicable"),
    Column("o2_ref", Float, comment="reference O2 % used"),
    Column("o2", Float, comment="O2 % of the period used for the correction"),
    Column("volume_m3", Float, comment="flow rows: volume of the period (flue gas standard dry)"),
    Column("mass_kg", Float, comment="pollutant rows: mass emitted/discharged in the period"),
    Column("max_1h", Float, comment="days, ambient: maximum valid hourly mean"),
    Column("max_8h", Float, comment="days, O3: daily maximum 8-h mean (null when not valid)"),
    Column("station_value", Float, comment="the station's own Avg for the period (2061/2031)"),
    Column("station_zs_value", Float, comment="the station's own ZsAvg"),
    Column("station_cou", Float, comment="the station's own Cou"),
    Column("station_flag", String(4), comment="the station's own flag"),
    Column("edition", String(64), nullable=False, comment="rules applied, by data time"),
    Column("flag_edition", String(16), comment="HJ 212 edition whose flag meanings were read"),
    Column("rules", String(16), nullable=False, comment="digest of the rule tables and code version"),
    Column("detail", Text, nullable=False, comment="JSON: intervals, bases, alternatives ..."),
    Column("computed_ts", Id, nullable=False),
    CheckConstraint(f"granularity IN {GRANULARITIES!r}", name="granularity"),
    CheckConstraint(f"source IN {SOURCES!r}", name="source"),
    UniqueConstraint(
        "station_id", "granularity", "parameter", "period_ts", "version", name="uq_rollup_value_key"
    ),
)
Index("ix_rollup_value_period", rollup_value.c.granularity, rollup_value.c.period_ts)
Index(
    "ix_rollup_value_station_period",
    rollup_value.c.station_id,
    rollup_value.c.granularity,
    rollup_value.c.period_ts,
)


def _aqi_columns() -> list[Any]:
    return [
        Column("granularity", String(4), nullable=False, comment="hour | day"),
        Column("period_ts", Id, nullable=False),
        Column("version", Integer, nullable=False),
        Column("edition", String(16), nullable=False, comment="HJ 633 edition in force at the period"),
        Column("report", String(16), nullable=False, comment="realtime | release | daily"),
        Column("aqi", Integer, comment="published AQI; null = NA (HJ 633-2026 §5.3)"),
        Column("aqi_available", Integer, comment="AQI of the items present"),
        Column("complete", Boolean, nullable=False),
        Column("level", SmallInteger, nullable=False, comment="category 1-6; 0 = none"),
        Column("primary_items", String(128), nullable=False, comment="primary pollutants, ','-joined"),
        Column("iaqi", Text, nullable=False, comment="JSON item -> IAQI (-1 missing)"),
        Column("inputs", Text, nullable=False, comment="JSON item -> concentration used (µg/m³; CO mg/m³)"),
        Column("rules", String(16), nullable=False),
        Column("computed_ts", Id, nullable=False),
        CheckConstraint(f"granularity IN {GRANULARITIES!r}", name="granularity"),
    ]


rollup_aqi = Table(
    "rollup_aqi",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", ForeignKey("station.id"), nullable=False),
    *_aqi_columns(),
    UniqueConstraint("station_id", "granularity", "period_ts", "version", name="uq_rollup_aqi_key"),
)

rollup_city_aqi = Table(
    "rollup_city_aqi",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("city", String(64), nullable=False),
    Column("stations", Text, nullable=False, comment="JSON list of the station ids averaged"),
    *_aqi_columns(),
    UniqueConstraint("city", "granularity", "period_ts", "version", name="uq_rollup_city_aqi_key"),
)

rollup_exceedance = Table(
    "rollup_exceedance",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", ForeignKey("station.id"), nullable=False),
    Column("parameter", String(32), nullable=False),
    Column("granularity", String(4), nullable=False),
    Column("period_ts", Id, nullable=False),
    Column("period_end", Id, nullable=False, comment="exclusive"),
    Column("version", Integer, nullable=False, comment="version of the rollup_value judged"),
    Column("value", Float, nullable=False),
    Column("limit_value", Float, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("basis", String(16), nullable=False, comment="corrected | measured"),
    Column("o2_ref", Float),
    Column("limit_scope", String(16), nullable=False, comment="permit | local | national"),
    Column("limit_source", Text, nullable=False),
    Column("limit_rule_id", ForeignKey("limit_rule.id"), comment="the limit_rule row it came from"),
    Column("averaging", String(4), nullable=False),
    Column("ratio", Float, nullable=False, comment="value / limit"),
    Column("repeats", ForeignKey("rollup_exceedance.id"), comment="earlier record of the same fact"),
    Column("detected_ts", Id, nullable=False),
)
Index("ix_rollup_exceedance_station_period", rollup_exceedance.c.station_id, rollup_exceedance.c.period_ts)

rollup_disagreement = Table(
    "rollup_disagreement",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", ForeignKey("station.id"), nullable=False),
    Column("parameter", String(32), nullable=False),
    Column("granularity", String(4), nullable=False),
    Column("period_ts", Id, nullable=False),
    Column("version", Integer, nullable=False, comment="version of the rollup_value compared"),
    Column("field", String(8), nullable=False, comment="avg | zs_avg | cou"),
    Column("station_value", Float, nullable=False),
    Column("platform_value", Float, nullable=False),
    Column("platform_alt", Float, comment="the other admissible recomputation (method or basis)"),
    Column("difference", Float, nullable=False, comment="distance of the station value from the band"),
    Column("tolerance", Float, nullable=False, comment="allowed distance (abs + rel)"),
    Column("decimals", SmallInteger, nullable=False, comment="decimals the station reported"),
    Column("unit", String(16)),
    Column("station_frame_id", Id, comment="raw frame of the station's value"),
    Column("repeats", ForeignKey("rollup_disagreement.id"), comment="earlier record of the same fact"),
    Column("detected_ts", Id, nullable=False),
    CheckConstraint(f"field IN {DISAGREEMENT_FIELDS!r}", name="field"),
)
Index(
    "ix_rollup_disagreement_station_period", rollup_disagreement.c.station_id, rollup_disagreement.c.period_ts
)

limit_rule = Table(
    "limit_rule",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("scope", String(16), nullable=False, comment="permit | local | national"),
    Column("station_id", ForeignKey("station.id"), comment="null: every station the selectors match"),
    Column("station_kind", String(16), comment="selector"),
    Column("city", Text, comment="selector"),
    Column("industry", Text, comment="selector (enterprise.industry)"),
    Column("parameter", String(32), comment="HJ 212 code; null for a national-table assignment"),
    Column("value", Float),
    Column("unit", String(16)),
    Column("averaging", String(4), nullable=False, server_default="1h", comment="1h | 24h"),
    Column("o2_ref_pct", Float, comment="reference O2 the limit is expressed at"),
    Column("standard", String(64), comment="national assignment: standard of emission_limits.csv"),
    Column("facility", String(64), comment="national assignment: facility"),
    Column("condition", String(64), comment="national assignment: condition"),
    Column("effective_from", Id, comment="inclusive; null = always"),
    Column("effective_to", Id, comment="exclusive; null = open"),
    Column("source", Text, nullable=False, comment="document, clause, permit number"),
    Column("created_ts", Id, nullable=False),
    Column("created_by", Text),
    CheckConstraint(f"scope IN {LIMIT_SCOPES!r}", name="scope"),
    CheckConstraint(f"averaging IN {LIMIT_AVERAGING!r}", name="averaging"),
    CheckConstraint(
        "(standard IS NOT NULL AND facility IS NOT NULL AND condition IS NOT NULL AND scope = 'national')"
        " OR (parameter IS NOT NULL AND value IS NOT NULL AND unit IS NOT NULL)",
        name="assignment_or_value",
    ),
)

rollup_run = Table(
    "rollup_run",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False, comment="job | recompute"),
    Column("started_ts", Id, nullable=False),
    Column("from_ts", Id),
    Column("to_ts", Id),
    Column("frames_from", Id),
    Column("frames_to", Id),
    Column("counts", Text, nullable=False, comment="JSON"),
    Column("rules", String(16), nullable=False),
)


# ---------------------------------------------------------------------------------------- helpers


def clean(x: float | None) -> float | None:
    """A float fit to store and compare: None for NaN/inf, else 12 significant digits."""
    if x is None:
        return None
    f = float(x)
    if not math.isfinite(f):
        return None
    return float(f"{f:.12g}")


def canonical(value: object) -> str:
    """Canonical JSON (sorted keys, no spaces, no NaN) of details and AQI maps."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def latest(table: Table, keys: Sequence[str], *where: Any) -> Select[Any]:
    """Rows of ``table`` matching ``where`` at the highest version of their key."""
    sub = (
        select(*(table.c[k] for k in keys), func.max(table.c.version).label("top"))
        .where(*where)
        .group_by(*(table.c[k] for k in keys))
        .subquery()
    )
    on = and_(*(table.c[k] == sub.c[k] for k in keys), table.c.version == sub.c.top)
    return select(table).select_from(table.join(sub, on))


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, object]], keys: list[str]) -> None:
    """Insert rows, skipping those whose ``keys`` already exist (``ON CONFLICT DO NOTHING``)."""
    if not rows:
        return
    stmt: postgresql.Insert | sqlite.Insert
    stmt = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=keys), rows)
