"""Monthly range partitions of ``reading`` on PostgreSQL (SQLite has one plain table).

``ensure`` creates the partitions for the months around now (UTC months of ``data_ts``); the
gateway calls it at start-up and daily. The migration's ``reading_default`` partition catches any
row outside them (a station with a wild clock). When a month's partition is created while the
default holds rows of that month, those rows move into it in the same transaction: the partition
is built as a plain table, filled from the default, then attached.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from envtrace.store.engine import write_transaction


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @property
    def name(self) -> str:
        return f"reading_p{self.year:04d}{self.month:02d}"

    @property
    def start_ts(self) -> int:
        return calendar.timegm((self.year, self.month, 1, 0, 0, 0))

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def end_ts(self) -> int:
        return self.next().start_ts


def months_around(now_ts: int, *, behind: int, ahead: int) -> list[Month]:
    t = time.gmtime(now_ts)
    first = Month(t.tm_year, t.tm_mon)
    for _ in range(behind):
        first = Month(first.year - (first.month == 1), 12 if first.month == 1 else first.month - 1)
    out = [first]
    for _ in range(behind + ahead):
        out.append(out[-1].next())
    return out


def existing(conn: Connection) -> set[str]:
    rows = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'reading'"
    )
    return {r[0] for r in rows}


def create_month(conn: Connection, month: Month) -> None:
    """Create (and fill from the default partition) one month's partition, in ``conn``'s transaction."""
    name = month.name
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE reading INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    conn.exec_driver_sql(
        f"WITH moved AS (DELETE FROM reading_default WHERE data_ts >= {month.start_ts} "
        f"AND data_ts < {month.end_ts} RETURNING *) INSERT INTO {name} SELECT * FROM moved"
    )
    conn.exec_driver_sql(
        f"ALTER TABLE reading ATTACH PARTITION {name} FOR VALUES FROM ({month.start_ts}) TO ({month.end_ts})"
    )


def ensure(engine: Engine, *, now_ts: int | None = None, behind: int = 1, ahead: int = 3) -> list[str]:
    """Create the missing monthly partitions from ``behind`` months ago to ``ahead`` months on.

    Returns the names created; does nothing on SQLite.
    """
    if engine.dialect.name != "postgresql":
        return []
    now = int(time.time()) if now_ts is None else now_ts
    created: list[str] = []
    for month in months_around(now, behind=behind, ahead=ahead):
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("LOCK TABLE reading IN SHARE ROW EXCLUSIVE MODE")
            if month.name in existing(conn):
                continue
            create_month(conn, month)
            created.append(month.name)
    return created
