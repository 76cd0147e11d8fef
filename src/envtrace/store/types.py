"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary
from sqlalchemy.dialects import postgresql

# A 64-bit surrogate key that is SQLite's rowid alias there (INTEGER PRIMARY KEY) and BIGINT on
# PostgreSQL.
Id = BigInteger().with_variant(Integer, "sqlite")

# Raw bytes: BLOB on SQLite, BYTEA on PostgreSQL.
Bytes = LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")
