"""Persisting the RFC 9162 log: append inside the caller's transaction, nodes for proofs.

Every record that must be tamper-evident (a raw frame as received, a station approval, a sign-off,
an intervention, an alarm decision, a key change, a correction) becomes one *leaf*: the canonical
JSON bytes of ``{"kind": KIND, "v": 1, ...payload}`` (``encode_leaf``). ``append`` writes the leaf,
the perfect-subtree nodes it completes and the new head **in the caller's transaction**, so the
record and its leaf commit or roll back together.

Resources
    One ``CompactRange`` per database is cached in memory (``_Cache``). Each append reads the head
    row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite write transactions hold the lock from
    BEGIN IMMEDIATE, see ``engine.write_transaction``); when the stored size or root differs from
    the cache (another process appended, or our own transaction rolled back) the cache is rebuilt
    from the frontier nodes, at most 64 rows.

Errors
    ``NotCanonical`` for a payload the encoding refuses (floats above all: write them as decimal
    strings); ``LedgerInconsistent`` when the stored nodes do not give the head's root (the store
    was tampered with or damaged: appending stops there); ``NodeNotFound`` from ``get_node``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from envtrace.ledger import CompactRange, frontier_ids, leaf_hash
from envtrace.store.engine import bulk_insert, driver_execute, param_marks
from envtrace.store.errors import LedgerInconsistent, NodeNotFound, NotCanonical
from envtrace.store.ledger_tables import ledger_checkpoint, ledger_leaf, ledger_node

LEAF_VERSION = 1

JsonValue = str | int | bool | None | bytes | Sequence["JsonValue"] | Mapping[str, "JsonValue"]


def _check(value: object, path: str) -> object:
    """The value with bytes turned into lowercase hex; raises NotCanonical for anything else.

    Scalars are tested by exact type first (the leaf of every raw frame passes through here)."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is dict or isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise NotCanonical(f"{path} key", key)
            ti = type(item)
            out[key] = (
                item
                if ti is str or ti is int or ti is bool or item is None
                else _check(item, f"{path}.{key}")
            )
        return out
    if t is list or t is tuple:
        seq: list[object] = list(value)  # type: ignore[call-overload]
        return [
            item if type(item) in _SCALARS else _check(item, f"{path}[{i}]") for i, item in enumerate(seq)
        ]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    raise NotCanonical(path, value)


_SCALARS = frozenset({str, int, bool, type(None)})
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode


def canonical_json(value: object) -> bytes:
    """The canonical bytes of ``value``: JSON, keys sorted, separators ``,`` and ``:``, ASCII only
    (``\\uXXXX`` escapes), no floats, bytes as lowercase hex strings.

    >>> canonical_json({"b": [1, True, None], "a": "é", "c": b"\\x01\\xff"})
    b'{"a":"\\\\u00e9","b":[1,true,null],"c":"01ff"}'
    """
    return _dumps(_check(value, "$")).encode("ascii")


def encode_leaf(kind: str, payload: Mapping[str, object]) -> bytes:
    """The leaf bytes of one record: ``canonical_json({**payload, "kind": kind, "v": 1})``."""
    for key, want in (("kind", kind), ("v", LEAF_VERSION)):
        if key in payload and payload[key] != want:
            raise NotCanonical(f"$.{key}", payload[key])
    doc = dict(payload)
    doc["kind"] = kind
    doc["v"] = LEAF_VERSION
    return canonical_json(doc)


@dataclass(frozen=True, slots=True)
class LedgerHead:
    size: int
    root: bytes
    updated_us: int


@dataclass(frozen=True, slots=True)
class Leaf:
    idx: int
    kind: str
    payload: bytes
    leaf_hash: bytes
    created_us: int

    def record(self) -> dict[str, object]:
        """The leaf's JSON document."""
        doc: dict[str, object] = json.loads(self.payload)
        return doc


@dataclass(frozen=True, slots=True)
class Checkpoint:
    id: int
    size: int
    root: bytes
    ts: int
    note: str
    key_id: str


class _Cache:
    __slots__ = ("cr", "lock", "root")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cr: CompactRange | None = None
        self.root = b""


_caches: dict[str, _Cache] = {}
_caches_lock = threading.Lock()


def _cache_for(conn: Connection) -> _Cache:
    key = conn.engine.url.render_as_string(hide_password=False)
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = _Cache()
        return cache


def read_head(conn: Connection, *, for_update: bool = False) -> LedgerHead:
    """The head row; ``for_update`` locks it on PostgreSQL (SQLite ignores it)."""
    lock = " FOR UPDATE" if for_update and conn.dialect.name == "postgresql" else ""
    rows = driver_execute(conn, f"SELECT size, root, updated_us FROM ledger_head WHERE id = 1{lock}")
    if len(rows) != 1:
        raise LedgerInconsistent(0, b"", b"")  # pragma: no cover - the migration writes the row
    size, root, updated_us = rows[0]
    return LedgerHead(int(size), bytes(root), int(updated_us))


def get_node(conn: Connection, level: int, index: int) -> bytes:
    """The hash of perfect subtree (level, index); level 0 is the leaf hash of leaf ``index``."""
    if level == 0:
        value = conn.execute(select(ledger_leaf.c.leaf_hash).where(ledger_leaf.c.idx == index)).scalar()
    else:
        value = conn.execute(
            select(ledger_node.c.hash).where(ledger_node.c.level == level, ledger_node.c.idx == index)
        ).scalar()
    if value is None:
        raise NodeNotFound(level, index)
    return bytes(value)


def node_getter(conn: Connection) -> Callable[[int, int], bytes]:
    """``get_node`` bound to ``conn``, the shape ``envtrace.ledger``'s proof functions take."""

    def get(level: int, index: int) -> bytes:
        return get_node(conn, level, index)

    return get


def _load(conn: Connection, head: LedgerHead) -> CompactRange:
    hashes = [get_node(conn, level, index) for level, index in frontier_ids(head.size)]
    cr = CompactRange.from_frontier(head.size, hashes)
    if cr.root() != head.root:
        raise LedgerInconsistent(head.size, head.root, cr.root())
    return cr


def append(conn: Connection, kind: str, payload: Mapping[str, object]) -> int:
    """Append one record as a leaf in the caller's (write) transaction; returns its leaf index."""
    return append_encoded(conn, [(kind, encode_leaf(kind, payload))])[0]


def append_many(conn: Connection, records: Iterable[tuple[str, Mapping[str, object]]]) -> list[int]:
    """Append records in order in the caller's transaction; returns their leaf indexes."""
    return append_encoded(conn, [(kind, encode_leaf(kind, payload)) for kind, payload in records])


def append_encoded(
    conn: Connection,
    leaves: Sequence[tuple[str, bytes]],
    *,
    now_us: int | None = None,
    head: LedgerHead | None = None,
) -> list[int]:
    """Append leaves whose bytes are already canonical (``encode_leaf``): the gateway's hot path.

    ``head``: the head row as the caller read it with ``read_head(conn, for_update=True)`` in this
    same transaction (saves reading it again)."""
    if not leaves:
        return []
    now = time.time_ns() // 1000 if now_us is None else now_us
    if head is None:
        head = read_head(conn, for_update=True)
    cache = _cache_for(conn)
    with cache.lock:
        if cache.cr is None or cache.cr.size != head.size or cache.root != head.root:
            cache.cr = None
            cache.cr = _load(conn, head)
            cache.root = head.root
        cr = cache.cr
        start = cr.size
        try:
            hashes = [leaf_hash(data) for _, data in leaves]
            nodes = cr.extend(hashes)
            root = cr.root()
            leaf_rows = [(start + i, kind, data, hashes[i], now) for i, (kind, data) in enumerate(leaves)]
            node_rows = [(n.level, n.index, n.hash) for n in nodes if n.level]
            bulk_insert(conn, ledger_leaf, _LEAF_COLUMNS, leaf_rows)
            bulk_insert(conn, ledger_node, _NODE_COLUMNS, node_rows)
            driver_execute(
                conn,
                f"UPDATE ledger_head SET size = {_mark(conn)}, root = {_mark(conn)}, "
                f"updated_us = {_mark(conn)} WHERE id = 1",
                (cr.size, root, now),
            )
        except BaseException:
            cache.cr = None
            raise
        cache.root = root
    return list(range(start, start + len(leaves)))


_LEAF_COLUMNS = ("idx", "kind", "payload", "leaf_hash", "created_us")
_NODE_COLUMNS = ("level", "idx", "hash")


def _mark(conn: Connection) -> str:
    return param_marks(conn, 1)


def forget_cache() -> None:
    """Drop every cached compact range (tests that rewrite the log underneath use it)."""
    with _caches_lock:
        _caches.clear()


def leaf(conn: Connection, idx: int) -> Leaf:
    row = conn.execute(select(ledger_leaf).where(ledger_leaf.c.idx == idx)).one_or_none()
    if row is None:
        raise NodeNotFound(0, idx)
    return Leaf(int(row.idx), row.kind, bytes(row.payload), bytes(row.leaf_hash), int(row.created_us))


def leaves(conn: Connection, start: int, end: int) -> list[Leaf]:
    """Leaves ``start <= idx < end`` in index order."""
    rows = conn.execute(
        select(ledger_leaf)
        .where(ledger_leaf.c.idx >= start, ledger_leaf.c.idx < end)
        .order_by(ledger_leaf.c.idx)
    )
    return [Leaf(int(r.idx), r.kind, bytes(r.payload), bytes(r.leaf_hash), int(r.created_us)) for r in rows]


def add_checkpoint(conn: Connection, *, size: int, root: bytes, ts: int, note: str, key_id: str) -> int:
    result = conn.execute(
        ledger_checkpoint.insert().values(size=size, root=root, ts=ts, note=note, key_id=key_id)
    )
    pk = result.inserted_primary_key
    return int(pk[0]) if pk else 0


def latest_checkpoint(conn: Connection) -> Checkpoint | None:
    row = conn.execute(
        select(ledger_checkpoint).order_by(ledger_checkpoint.c.id.desc()).limit(1)
    ).one_or_none()
    if row is None:
        return None
    return Checkpoint(int(row.id), int(row.size), bytes(row.root), int(row.ts), row.note, row.key_id)
