"""Tables that persist the RFC 9162 log (``ledger`` Alembic branch).

``ledger_leaf``
    one row per leaf, ``idx`` from 0: the record kind, the canonical leaf bytes (see
    ``envtrace.store.ledger_log.encode_leaf``) and their leaf hash.
``ledger_node``
    the hash of every perfect subtree of level >= 1, written once when its last leaf is
    appended (level 0 is ``ledger_leaf.leaf_hash``). Any inclusion or consistency proof, and the
    root of any past size, is computed from these rows.
``ledger_head``
    the single row ``id = 1``: current size and root. Every append updates it, so on PostgreSQL
    the row lock serialises appenders across processes (SQLite's BEGIN IMMEDIATE does there).
``ledger_checkpoint``
    signed checkpoints (size, root, time, the signed note text, the signing key's id).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Integer, LargeBinary, String, Table, Text

from envtrace.store.metadata import metadata
from envtrace.store.types import Bytes, Id

ledger_leaf = Table(
    "ledger_leaf",
    metadata,
    Column("idx", Id, primary_key=True, autoincrement=False, comment="leaf index, from 0"),
    Column("kind", String(32), nullable=False, comment="record kind: raw_frame, sign_off ..."),
    Column("payload", Bytes, nullable=False, comment="canonical JSON leaf bytes (docs/store.md)"),
    Column("leaf_hash", LargeBinary(32), nullable=False, comment="SHA-256(0x00 || payload)"),
    Column("created_us", Id, nullable=False),
)

ledger_node = Table(
    "ledger_node",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", Id, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    CheckConstraint("level >= 1", name="level"),
)

ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", Id, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("updated_us", Id, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

ledger_checkpoint = Table(
    "ledger_checkpoint",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("size", Id, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("ts", Id, nullable=False, comment="Unix seconds UTC"),
    Column("note", Text, nullable=False, comment="the signed note, as published"),
    Column("key_id", String(64), nullable=False),
)
