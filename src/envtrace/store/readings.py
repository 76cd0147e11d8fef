"""Readings decoded from conforming data frames.

One row per station x parameter x granularity x data time, keyed so that the first arrival wins
and a duplicate adds nothing. On PostgreSQL the table is range-partitioned by ``data_ts`` (see
``envtrace.store.partitions``).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Float, ForeignKey, Index, String, Table, Text

from envtrace.store.metadata import metadata
from envtrace.store.types import Id

GRANULARITIES = ("rtd", "min", "hour", "day")

reading = Table(
    "reading",
    metadata,
    Column("station_id", ForeignKey("station.id"), primary_key=True),
    Column("granularity", String(4), primary_key=True),
    Column("parameter", String(32), primary_key=True),
    Column("data_ts", Id, primary_key=True, comment="DataTime, Unix seconds UTC (period start)"),
    Column("value", Float, comment="Rtd for real-time data, Avg for period data"),
    Column("min", Float),
    Column("max", Float),
    Column("cou", Float),
    Column("zs_value", Float, comment="ZsRtd / ZsAvg as the station reported it"),
    Column("zs_min", Float),
    Column("zs_max", Float),
    Column("flag", String(4)),
    Column("eflag", String(8)),
    Column("sample_ts", Id),
    Column("extra", Text, comment="JSON of any further fields of the item, never dropped"),
    Column("frame_id", Id, nullable=False, comment="raw_frame.id it was decoded from"),
    CheckConstraint(f"granularity IN {GRANULARITIES!r}", name="granularity"),
    postgresql_partition_by="RANGE (data_ts)",
)
Index("ix_reading_frame", reading.c.frame_id)
