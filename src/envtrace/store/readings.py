"""Readings decoded from conforming data frames.

One row per station x parameter x granularity x data time, keyed so that the first arrival wins
and a duplicate adds nothing. On PostgreSQL the table is range-partitioned by ``data_ts`` (see
``envtrace.store.partitions``).

The key's column order is (station_id, granularity, data_ts, parameter): the readings of one frame
(one station, one granularity, one data time) sit next to each other in the key's index, so
inserting a frame's readings writes one index page, not one per parameter. With thousands of
stations each sending a frame now and then, that divides the pages a commit writes (and the WAL
SQLite appends) by about the number of factors per frame. Range queries of a station and
granularity over time read the index in (data_ts, parameter) order.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from envtrace.store.metadata import metadata
from envtrace.store.types import Id

GRANULARITIES = ("rtd", "min", "hour", "day")

reading = Table(
    "reading",
    metadata,
    Column("station_id", ForeignKey("station.id"), nullable=False),
    Column("granularity", String(4), nullable=False),
    Column("parameter", String(32), nullable=False),
    Column("data_ts", Id, nullable=False, comment="DataTime, Unix seconds UTC (period start)"),
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
    PrimaryKeyConstraint("station_id", "granularity", "data_ts", "parameter"),
    CheckConstraint(f"granularity IN {GRANULARITIES!r}", name="granularity"),
    postgresql_partition_by="RANGE (data_ts)",
)
Index("ix_reading_frame", reading.c.frame_id)
