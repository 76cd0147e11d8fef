"""What an operator with write access to the database (and the state folder) could do to the records.

Each tampering is a function of a ``Scene`` (an open transaction on a built database, a seeded random
generator, a scratch folder) that changes something and returns what it did and which finding codes
``envtrace verify`` must report for it (any one of them). Every tampering is sure to change data:
values are moved away from what they were, never set to the same. The caller rolls the transaction
back afterwards, so one built database serves thousands of tamperings.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from envtrace.evidence.frame_audit import READING_COLUMNS, stored_record
from envtrace.evidence.published import format_notes, read_notes
from envtrace.ledger import Checkpoint, CompactRange, SigningKey, leaf_hash, sign_checkpoint
from envtrace.store import append, encode_leaf
from envtrace.store.series import readings_digest

from .builder import Built

VALUE_COLUMNS = ("value", "min", "max", "cou", "zs_value")


@dataclass
class Scene:
    conn: Connection
    rng: random.Random
    built: Built
    scratch: Path

    def all(self, sql: str, **params: object) -> list[Any]:
        return list(self.conn.execute(text(sql), params))

    def one(self, sql: str, **params: object) -> Any:
        rows = self.all(sql, **params)
        if not rows:
            raise LookupError(f"nothing to tamper with: {sql}")
        return self.rng.choice(rows)

    def run(self, sql: str, **params: object) -> None:
        self.conn.execute(text(sql), params)

    @property
    def postgres(self) -> bool:
        return self.conn.dialect.name == "postgresql"


@dataclass
class Applied:
    what: str
    expect: set[str]
    context: dict[str, object] = field(default_factory=dict)


Tamper = Callable[[Scene], Applied]
TAMPERS: dict[str, Tamper] = {}


def tamper(fn: Tamper) -> Tamper:
    TAMPERS[fn.__name__] = fn
    return fn


def _other_number(rng: random.Random, old: float) -> float:
    while True:
        new = round(old * rng.choice([0.5, 0.9, 1.1, 2.0]) + rng.choice([1.0, 0.25, -3.0, 0.01]), 6)
        if new != old:
            return new


_KEY = "station_id = :s AND granularity = :g AND parameter = :p AND data_ts = :t"


def _key(row: Any) -> dict[str, object]:
    return {"s": row.station_id, "g": row.granularity, "p": row.parameter, "t": row.data_ts}


# -------------------------------------------------------------------------------------- readings


@tamper
def reading_value(s: Scene) -> Applied:
    row = s.one(
        'SELECT station_id, granularity, parameter, data_ts, value, "min", "max", cou, zs_value FROM reading'
    )
    columns = [c for c in VALUE_COLUMNS if getattr(row, c) is not None]
    column = s.rng.choice(columns)
    new = _other_number(s.rng, getattr(row, column))
    s.run(f'UPDATE reading SET "{column}" = :v WHERE {_KEY}', v=new, **_key(row))
    return Applied(f"reading {row.parameter} {column}: {getattr(row, column)} -> {new}", {"reading-value"})


@tamper
def reading_null(s: Scene) -> Applied:
    row = s.one(
        "SELECT station_id, granularity, parameter, data_ts, value FROM reading WHERE value IS NOT NULL"
    )
    s.run(f"UPDATE reading SET value = NULL WHERE {_KEY}", **_key(row))
    return Applied(f"reading {row.parameter} value {row.value} -> NULL", {"reading-value"})


@tamper
def reading_flag(s: Scene) -> Applied:
    row = s.one("SELECT station_id, granularity, parameter, data_ts, flag FROM reading")
    new = s.rng.choice([f for f in ("N", "T", "D", "C", "M") if f != row.flag])
    s.run(f"UPDATE reading SET flag = :f WHERE {_KEY}", f=new, **_key(row))
    return Applied(f"reading {row.parameter} flag {row.flag} -> {new}", {"reading-value"})


@tamper
def reading_delete(s: Scene) -> Applied:
    row = s.one("SELECT station_id, granularity, parameter, data_ts FROM reading")
    s.run(f"DELETE FROM reading WHERE {_KEY}", **_key(row))
    return Applied(f"reading {row.parameter} at {row.data_ts} deleted", {"reading-missing"})


def _accepted_frame(s: Scene) -> Any:
    return s.one(
        "SELECT f.id, f.station_id, f.data_ts, f.cn, f.leaf_index FROM raw_frame f "
        "WHERE f.status = 'accepted' AND EXISTS (SELECT 1 FROM reading r WHERE r.frame_id = f.id)"
    )


_GRAN = {"2011": "rtd", "2051": "min", "2061": "hour", "2031": "day"}


@tamper
def reading_insert(s: Scene) -> Applied:
    frame = _accepted_frame(s)
    s.run(
        "INSERT INTO reading (station_id, granularity, parameter, data_ts, value, frame_id) "
        "VALUES (:s, :g, :p, :t, :v, :f)",
        s=frame.station_id,
        g=_GRAN[frame.cn],
        p=f"x{s.rng.randrange(10_000):05d}",
        t=frame.data_ts,
        v=s.rng.uniform(0, 100),
        f=frame.id,
    )
    return Applied(f"reading inserted into frame {frame.id}", {"reading-extra"})


@tamper
def reading_orphan(s: Scene) -> Applied:
    frame = _accepted_frame(s)
    fid = 10**9 + s.rng.randrange(1000)
    s.run(
        "INSERT INTO reading (station_id, granularity, parameter, data_ts, value, frame_id) "
        "VALUES (:s, :g, 'a21026', :t, 1.5, :f)",
        s=frame.station_id,
        g=_GRAN[frame.cn],
        t=frame.data_ts + 1,
        f=fid,
    )
    return Applied(f"reading of no frame ({fid}) inserted", {"reading-orphan"})


@tamper
def reading_swap(s: Scene) -> Applied:
    rows = s.all(
        "SELECT station_id, granularity, parameter, data_ts, value FROM reading WHERE value IS NOT NULL"
    )
    a = s.rng.choice(rows)
    b = s.rng.choice([r for r in rows if r.value != a.value])
    s.run(f"UPDATE reading SET value = :v WHERE {_KEY}", v=b.value, **_key(a))
    s.run(f"UPDATE reading SET value = :v WHERE {_KEY}", v=a.value, **_key(b))
    return Applied(f"values of two readings swapped ({a.value}, {b.value})", {"reading-value"})


@tamper
def reading_move(s: Scene) -> Applied:
    row = s.one("SELECT station_id, granularity, parameter, data_ts, frame_id FROM reading")
    other = s.one("SELECT id FROM raw_frame WHERE status = 'accepted' AND id <> :f", f=row.frame_id)
    s.run(f"UPDATE reading SET frame_id = :o WHERE {_KEY}", o=other.id, **_key(row))
    expect = {"reading-missing", "reading-extra", "reading-value", "reading-station"}
    return Applied(f"reading moved from frame {row.frame_id} to {other.id}", expect)


@tamper
def reading_station(s: Scene) -> Applied:
    rows = s.all("SELECT station_id, granularity, parameter, data_ts FROM reading")
    stations = [r.id for r in s.all("SELECT id FROM station")]
    for row in s.rng.sample(rows, min(len(rows), 50)):
        for station in s.rng.sample(stations, len(stations)):
            taken = s.all(f"SELECT 1 FROM reading WHERE {_KEY}", **{**_key(row), "s": station})
            if station != row.station_id and not taken:
                s.run(f"UPDATE reading SET station_id = :n WHERE {_KEY}", n=station, **_key(row))
                return Applied(f"reading moved to station {station}", {"reading-station"})
    raise LookupError("no free station key")


@tamper
def reading_data_ts(s: Scene) -> Applied:
    row = s.one("SELECT station_id, granularity, parameter, data_ts FROM reading")
    for shift in s.rng.sample([-3600, -1, 1, 7, 60, 3601], 6):
        if not s.all(f"SELECT 1 FROM reading WHERE {_KEY}", **{**_key(row), "t": row.data_ts + shift}):
            break
    s.run(f"UPDATE reading SET data_ts = data_ts + :d WHERE {_KEY}", d=shift, **_key(row))
    return Applied(f"reading data time shifted by {shift} s", {"reading-value"})


# -------------------------------------------------------------------------------------- raw frames

_FRAME_CHANGES: dict[str, Callable[[random.Random, Any], object]] = {
    "received_us": lambda r, v: v + r.choice([-1_000_000, -1, 1, 3_600_000_000]),
    "peer": lambda r, v: f"10.{r.randrange(256)}.0.{r.randrange(256)}:{r.randrange(1024, 65535)}",
    "mn": lambda r, v: f"{v or ''}X"[-24:] if v else "FAKEMN0000000001",
    "cn": lambda r, v: "2061" if v != "2061" else "2051",
    "qn": lambda r, v: f"{v or ''}1"[-20:] if v else "20260101000000001",
    "pnum": lambda r, v: (v or 0) + 1,
    "pno": lambda r, v: (v or 0) + 1,
    "data_ts": lambda r, v: (v or 0) + r.choice([-60, 3600]),
    "status": lambda r, v: "duplicate" if v != "duplicate" else "accepted",
    "edition": lambda r, v: "2005" if v != "2005" else "2017",
    "wire": lambda r, v: "sm4-text" if v != "sm4-text" else "plain",
    "deviations": lambda r, v: "crc:modbus" if v is None else None,
}


@tamper
def frame_field(s: Scene) -> Applied:
    column = s.rng.choice(sorted(_FRAME_CHANGES))
    row = s.one(f"SELECT id, {column} AS old FROM raw_frame")
    new = _FRAME_CHANGES[column](s.rng, row.old)
    s.run(f"UPDATE raw_frame SET {column} = :v WHERE id = :i", v=new, i=row.id)
    return Applied(f"raw_frame {row.id} {column}: {row.old!r} -> {new!r}", {"frame-field"})


@tamper
def frame_rf(s: Scene) -> Applied:
    row = s.one("SELECT id, rf FROM raw_frame")
    s.run("UPDATE raw_frame SET rf = :v WHERE id = :i", v=not bool(row.rf), i=row.id)
    return Applied(f"raw_frame {row.id} rf toggled", {"frame-field"})


@tamper
def frame_header(s: Scene) -> Applied:
    row = s.one("SELECT id, st, flag FROM raw_frame WHERE status IN ('accepted', 'duplicate', 'partial')")
    if s.rng.random() < 0.5:
        s.run("UPDATE raw_frame SET st = :v WHERE id = :i", v="39" if row.st != "39" else "31", i=row.id)
        return Applied(f"raw_frame {row.id} st changed", {"frame-field"})
    s.run("UPDATE raw_frame SET flag = :v WHERE id = :i", v=(row.flag or 0) + 8, i=row.id)
    return Applied(f"raw_frame {row.id} flag changed", {"frame-field"})


def _raw(value: object) -> bytes:
    return value if isinstance(value, bytes) else bytes(value)  # type: ignore[arg-type]


@tamper
def frame_bit(s: Scene) -> Applied:
    row = s.one("SELECT id, raw FROM raw_frame")
    raw = bytearray(_raw(row.raw))
    pos = s.rng.randrange(len(raw) * 8)
    raw[pos // 8] ^= 1 << (pos % 8)
    s.run("UPDATE raw_frame SET raw = :v WHERE id = :i", v=bytes(raw), i=row.id)
    return Applied(f"raw_frame {row.id} bit {pos} flipped", {"frame-bytes"})


@tamper
def frame_bytes_cut(s: Scene) -> Applied:
    row = s.one("SELECT id, raw FROM raw_frame")
    raw = _raw(row.raw)
    s.run("UPDATE raw_frame SET raw = :v WHERE id = :i", v=raw[: -s.rng.randrange(1, 5)], i=row.id)
    return Applied(f"raw_frame {row.id} bytes cut", {"frame-bytes"})


@tamper
def frame_delete(s: Scene) -> Applied:
    row = s.one("SELECT id FROM raw_frame")
    s.run("DELETE FROM quarantine WHERE frame_id = :i", i=row.id)
    if s.rng.random() < 0.5:
        s.run("DELETE FROM reading WHERE frame_id = :i", i=row.id)
    s.run("DELETE FROM raw_frame WHERE id = :i", i=row.id)
    return Applied(f"raw_frame {row.id} deleted", {"frame-missing"})


@tamper
def frame_insert(s: Scene) -> Applied:
    row = s.one("SELECT * FROM raw_frame")
    top = s.all("SELECT max(id) AS m FROM raw_frame")[0].m
    values = dict(row._mapping)
    values["id"] = int(top) + 1 + s.rng.randrange(100)
    if s.rng.random() < 0.5:
        values["leaf_index"] = None
    else:
        used = {r.leaf_index for r in s.all("SELECT leaf_index FROM raw_frame WHERE leaf_index IS NOT NULL")}
        free = [r.idx for r in s.all("SELECT idx FROM ledger_leaf") if r.idx not in used]
        values["leaf_index"] = s.rng.choice(free)
    names = ", ".join(values)
    s.run(f"INSERT INTO raw_frame ({names}) VALUES ({', '.join(':' + n for n in values)})", **values)
    return Applied(f"raw_frame {values['id']} inserted (leaf {values['leaf_index']})", {"frame-unsealed"})


@tamper
def frame_swap_raw(s: Scene) -> Applied:
    rows = s.all("SELECT id, raw FROM raw_frame")
    a = s.rng.choice(rows)
    b = s.rng.choice([r for r in rows if _raw(r.raw) != _raw(a.raw)])
    s.run("UPDATE raw_frame SET raw = :v WHERE id = :i", v=_raw(b.raw), i=a.id)
    s.run("UPDATE raw_frame SET raw = :v WHERE id = :i", v=_raw(a.raw), i=b.id)
    return Applied(f"raw bytes of frames {a.id} and {b.id} swapped", {"frame-bytes"})


@tamper
def frame_swap_rows(s: Scene) -> Applied:
    rows = s.all("SELECT id, leaf_index FROM raw_frame")
    a, b = s.rng.sample(rows, 2)
    s.run("UPDATE raw_frame SET leaf_index = NULL WHERE id = :i", i=a.id)
    s.run("UPDATE raw_frame SET leaf_index = :l WHERE id = :i", l=a.leaf_index, i=b.id)
    s.run("UPDATE raw_frame SET leaf_index = :l WHERE id = :i", l=b.leaf_index, i=a.id)
    return Applied(f"frames {a.id} and {b.id} swapped places in the ledger", {"frame-field"})


@tamper
def quarantine_edit(s: Scene) -> Applied:
    row = s.one("SELECT id, reason FROM quarantine")
    s.run("UPDATE quarantine SET reason = :r WHERE id = :i", r=row.reason + " (reviewed)", i=row.id)
    return Applied(f"quarantine {row.id} reason edited", {"quarantine-field"})


@tamper
def quarantine_delete(s: Scene) -> Applied:
    row = s.one("SELECT id FROM quarantine")
    s.run("DELETE FROM quarantine WHERE id = :i", i=row.id)
    return Applied(f"quarantine {row.id} deleted", {"quarantine-missing"})


@tamper
def quarantine_insert(s: Scene) -> Applied:
    frame = _accepted_frame(s)
    s.run(
        "INSERT INTO quarantine (frame_id, received_us, peer, mn, kind, reason, raw) "
        "SELECT id, received_us, peer, mn, 'crc', 'CRC mismatch', raw FROM raw_frame WHERE id = :i",
        i=frame.id,
    )
    return Applied(f"accepted frame {frame.id} quarantined after the fact", {"quarantine-extra"})


# -------------------------------------------------------------------------------------- the tree


@tamper
def leaf_bit(s: Scene) -> Applied:
    row = s.one("SELECT idx, payload FROM ledger_leaf")
    data = bytearray(_raw(row.payload))
    pos = s.rng.randrange(len(data) * 8)
    data[pos // 8] ^= 1 << (pos % 8)
    s.run("UPDATE ledger_leaf SET payload = :p WHERE idx = :i", p=bytes(data), i=row.idx)
    return Applied(f"leaf {row.idx} bit {pos} flipped", {"leaf-hash"})


@tamper
def leaf_hash_edit(s: Scene) -> Applied:
    row = s.one("SELECT idx FROM ledger_leaf")
    s.run("UPDATE ledger_leaf SET leaf_hash = :h WHERE idx = :i", h=s.rng.randbytes(32), i=row.idx)
    return Applied(f"leaf {row.idx} hash replaced", {"leaf-hash"})


@tamper
def leaf_kind(s: Scene) -> Applied:
    row = s.one("SELECT idx, kind FROM ledger_leaf")
    new = "correction" if row.kind != "correction" else "raw_frame"
    s.run("UPDATE ledger_leaf SET kind = :k WHERE idx = :i", k=new, i=row.idx)
    return Applied(f"leaf {row.idx} kind {row.kind} -> {new}", {"leaf-kind"})


@tamper
def leaf_delete(s: Scene) -> Applied:
    row = s.one("SELECT idx FROM ledger_leaf WHERE idx < (SELECT max(idx) FROM ledger_leaf)")
    s.run("DELETE FROM ledger_leaf WHERE idx = :i", i=row.idx)
    return Applied(f"leaf {row.idx} deleted", {"leaf-missing"})


@tamper
def leaf_swap(s: Scene) -> Applied:
    rows = s.all("SELECT idx, kind, payload, leaf_hash FROM ledger_leaf")
    a, b = s.rng.sample(rows, 2)
    for x, y in ((a, b), (b, a)):
        s.run(
            "UPDATE ledger_leaf SET kind = :k, payload = :p, leaf_hash = :h WHERE idx = :i",
            k=y.kind,
            p=_raw(y.payload),
            h=_raw(y.leaf_hash),
            i=x.idx,
        )
    return Applied(f"leaves {a.idx} and {b.idx} swapped", {"node-mismatch"})


@tamper
def leaf_insert(s: Scene) -> Applied:
    top = s.all("SELECT max(idx) AS m FROM ledger_leaf")[0].m
    payload = encode_leaf("correction", {"supersedes": {}, "reason": "x", "actor": "y", "ts": 0})
    s.run(
        "INSERT INTO ledger_leaf (idx, kind, payload, leaf_hash, created_us) "
        "VALUES (:i, 'correction', :p, :h, 0)",
        i=int(top) + 1,
        p=payload,
        h=leaf_hash(payload),
    )
    return Applied(f"leaf {int(top) + 1} inserted beyond the head", {"leaf-extra"})


@tamper
def leaf_append_sealed(s: Scene) -> Applied:
    frame = s.one("SELECT leaf_index FROM raw_frame")
    doc = json.loads(
        _raw(s.all("SELECT payload FROM ledger_leaf WHERE idx = :i", i=frame.leaf_index)[0].payload)
    )
    doc.pop("kind")
    doc.pop("v")
    doc["frame_id"] = 10**8 + s.rng.randrange(1000)
    idx = append(s.conn, "raw_frame", doc)
    return Applied(f"a raw_frame leaf {idx} appended through the ledger API with no frame", {"frame-missing"})


@tamper
def node_edit(s: Scene) -> Applied:
    row = s.one("SELECT level, idx FROM ledger_node")
    s.run(
        "UPDATE ledger_node SET hash = :h WHERE level = :l AND idx = :i",
        h=s.rng.randbytes(32),
        l=row.level,
        i=row.idx,
    )
    return Applied(f"node ({row.level}, {row.idx}) replaced", {"node-mismatch"})


@tamper
def node_delete(s: Scene) -> Applied:
    row = s.one("SELECT level, idx FROM ledger_node")
    s.run("DELETE FROM ledger_node WHERE level = :l AND idx = :i", l=row.level, i=row.idx)
    return Applied(f"node ({row.level}, {row.idx}) deleted", {"node-missing"})


@tamper
def node_insert(s: Scene) -> Applied:
    level = s.rng.randrange(1, 5)
    idx = 10_000 + s.rng.randrange(1000)
    s.run(
        "INSERT INTO ledger_node (level, idx, hash) VALUES (:l, :i, :h)",
        l=level,
        i=idx,
        h=s.rng.randbytes(32),
    )
    return Applied(f"node ({level}, {idx}) inserted", {"node-extra"})


@tamper
def head_size(s: Scene) -> Applied:
    delta = s.rng.choice([-5, -1, 1, 7])
    s.run("UPDATE ledger_head SET size = size + :d WHERE id = 1", d=delta)
    return Applied(f"head size moved by {delta}", {"head-size"})


@tamper
def head_root(s: Scene) -> Applied:
    s.run("UPDATE ledger_head SET root = :r WHERE id = 1", r=s.rng.randbytes(32))
    return Applied("head root replaced", {"head-root"})


def rebuild_tree(s: Scene, *, rehash: bool = True) -> None:
    """What a careful forger does after changing leaves: recompute every hash, node and the head."""
    cr = CompactRange()
    s.run("DELETE FROM ledger_node")
    for row in s.all("SELECT idx, payload FROM ledger_leaf ORDER BY idx"):
        digest = leaf_hash(_raw(row.payload))
        if rehash:
            s.run("UPDATE ledger_leaf SET leaf_hash = :h WHERE idx = :i", h=digest, i=row.idx)
        for n in cr.append(digest):
            if n.level:
                s.run(
                    "INSERT INTO ledger_node (level, idx, hash) VALUES (:l, :i, :h)",
                    l=n.level,
                    i=n.index,
                    h=n.hash,
                )
    s.run("UPDATE ledger_head SET size = :n, root = :r WHERE id = 1", n=cr.size, r=cr.root())


def _drop_alarm_guards(s: Scene) -> None:
    if s.postgres:
        s.run("ALTER TABLE alarm_event DISABLE TRIGGER USER")
    else:
        for name in ("alarm_event_no_update", "alarm_event_no_delete"):
            s.run(f"DROP TRIGGER IF EXISTS {name}")


def _delete_alarm_events(s: Scene, where: str, **params: object) -> None:
    """Delete alarm events (and the notices and deliveries that name them), guards dropped first."""
    _drop_alarm_guards(s)
    events = f"SELECT id FROM alarm_event WHERE {where}"
    s.run(
        "DELETE FROM alarm_delivery_attempt WHERE delivery_id IN "
        f"(SELECT id FROM alarm_delivery WHERE event_id IN ({events}))",
        **params,
    )
    s.run(f"DELETE FROM alarm_delivery WHERE event_id IN ({events})", **params)
    s.run(f"DELETE FROM alarm_notice WHERE event_id IN ({events})", **params)
    s.run(f"DELETE FROM alarm_event WHERE {where}", **params)


@tamper
def truncate_tail(s: Scene) -> Applied:
    top = int(s.all("SELECT max(idx) AS m FROM ledger_leaf")[0].m)
    keep = top + 1 - s.rng.randrange(1, 40)
    _delete_alarm_events(s, "leaf_index >= :k", k=keep)
    for (fid,) in s.all("SELECT id FROM raw_frame WHERE leaf_index >= :k", k=keep):
        s.run("DELETE FROM reading WHERE frame_id = :i", i=fid)
        s.run("DELETE FROM quarantine WHERE frame_id = :i", i=fid)
        s.run("DELETE FROM raw_frame WHERE id = :i", i=fid)
    s.run("DELETE FROM ledger_leaf WHERE idx >= :k", k=keep)
    if s.rng.random() < 0.5:
        s.run("DELETE FROM ledger_checkpoint WHERE size > :k", k=keep)
    rebuild_tree(s)
    return Applied(f"the last {top + 1 - keep} records removed, tree rebuilt", {"checkpoint-truncated"})


def _frame_leaf(s: Scene, where: str = "") -> tuple[Any, dict[str, Any]]:
    frame = s.one(
        "SELECT f.id, f.leaf_index, f.raw FROM raw_frame f WHERE f.status = 'accepted' AND f.wire = 'plain' "
        f"AND EXISTS (SELECT 1 FROM reading r WHERE r.frame_id = f.id) {where}"
    )
    doc = json.loads(
        _raw(s.all("SELECT payload FROM ledger_leaf WHERE idx = :i", i=frame.leaf_index)[0].payload)
    )
    return frame, doc


def _reseal(s: Scene, idx: int, doc: dict[str, Any]) -> None:
    payload = {k: v for k, v in doc.items() if k not in ("kind", "v")}
    s.run("UPDATE ledger_leaf SET payload = :p WHERE idx = :i", p=encode_leaf(doc["kind"], payload), i=idx)
    rebuild_tree(s)


@tamper
def fork_reading(s: Scene) -> Applied:
    frame, doc = _frame_leaf(s)
    row = s.one(
        "SELECT station_id, granularity, parameter, data_ts, value FROM reading "
        "WHERE frame_id = :f AND value IS NOT NULL",
        f=frame.id,
    )
    s.run(f"UPDATE reading SET value = :v WHERE {_KEY}", v=_other_number(s.rng, row.value), **_key(row))
    rows = s.all(f"SELECT {READING_COLUMNS} FROM reading WHERE frame_id = :f", f=frame.id)
    doc["readings_sha256"] = readings_digest([stored_record(r) for r in rows])
    _reseal(s, frame.leaf_index, doc)
    return Applied(f"reading of frame {frame.id} changed and resealed, tree rebuilt", {"checkpoint-root"})


@tamper
def fork_raw(s: Scene) -> Applied:
    frame, doc = _frame_leaf(s)
    raw = re.sub(rb"(-(?:Rtd|Avg)=)", rb"\g<1>1", _raw(frame.raw), count=1)
    if raw == _raw(frame.raw):
        raise LookupError(f"frame {frame.id} has no value to change")
    s.run("UPDATE raw_frame SET raw = :r WHERE id = :i", r=raw, i=frame.id)
    doc["raw_sha256"] = hashlib.sha256(raw).hexdigest()
    doc["raw_len"] = len(raw)
    _reseal(s, frame.leaf_index, doc)
    return Applied(f"raw frame {frame.id} rewritten and resealed, tree rebuilt", {"checkpoint-root"})


@tamper
def fork_forget(s: Scene) -> Applied:
    """Delete a record from the middle and renumber everything after it."""
    frame = s.one(
        "SELECT id, leaf_index FROM raw_frame WHERE leaf_index < (SELECT max(idx) - 5 FROM ledger_leaf)"
    )
    gone = int(frame.leaf_index)
    s.run("DELETE FROM reading WHERE frame_id = :i", i=frame.id)
    s.run("DELETE FROM quarantine WHERE frame_id = :i", i=frame.id)
    s.run("DELETE FROM raw_frame WHERE id = :i", i=frame.id)
    s.run("DELETE FROM ledger_leaf WHERE idx = :i", i=gone)
    _drop_alarm_guards(s)
    for table in ("raw_frame", "alarm_event"):
        for (old,) in s.all(
            f"SELECT leaf_index FROM {table} WHERE leaf_index > :g ORDER BY leaf_index", g=gone
        ):
            s.run(f"UPDATE {table} SET leaf_index = :n WHERE leaf_index = :o", n=old - 1, o=old)
    for (old,) in s.all("SELECT idx FROM ledger_leaf WHERE idx > :g ORDER BY idx", g=gone):
        s.run("UPDATE ledger_leaf SET idx = :n WHERE idx = :o", n=old - 1, o=old)
    rebuild_tree(s)
    # the newest checkpoint then looks truncated; the older ones forked, unless they came before it
    expect = {"checkpoint-root", "checkpoint-truncated"}
    return Applied(f"record at leaf {gone} removed, later leaves renumbered, tree rebuilt", expect)


# -------------------------------------------------------------------------------------- publication


def _attacker_notes(s: Scene, notes: Sequence[str]) -> list[str]:
    key = SigningKey.generate()
    out = []
    for note in notes:
        body = note.split("\n\n", 1)[0] + "\n"
        cp = Checkpoint.from_body(body)
        name = note.split("\n\n", 1)[1].split(" ")[1]  # the genuine key's name, on a forged key
        out.append(
            sign_checkpoint(Checkpoint(cp.origin, cp.size, s.rng.randbytes(32), cp.timestamp), key, name)
        )
    return out


def _file_copy(s: Scene, notes: Sequence[str], extra: str = "") -> dict[str, object]:
    path = s.scratch / f"checkpoints-{s.rng.randrange(10**9)}.txt"
    path.write_text(format_notes(notes) + extra, encoding="utf-8")
    return {"checkpoint_file": path}


def _published(s: Scene) -> list[str]:
    return read_notes(s.built.checkpoint_file) or []


@tamper
def file_missing(s: Scene) -> Applied:
    return Applied(
        "checkpoint file removed", {"checkpoint-file"}, {"checkpoint_file": s.scratch / "gone.txt"}
    )


@tamper
def file_rolled_back(s: Scene) -> Applied:
    notes = _published(s)
    return Applied(
        "checkpoint file replaced by an older copy", {"checkpoint-unpublished"}, _file_copy(s, notes[:-1])
    )


@tamper
def file_forged(s: Scene) -> Applied:
    notes = _published(s)
    n = s.rng.randrange(len(notes))
    forged = [*notes[:n], *_attacker_notes(s, notes[n : n + 1]), *notes[n + 1 :]]
    return Applied(
        f"checkpoint file entry {n + 1} re-signed by another key",
        {"checkpoint-signature"},
        _file_copy(s, forged),
    )


@tamper
def file_garbage(s: Scene) -> Applied:
    return Applied(
        "junk appended to the checkpoint file", {"checkpoint-file"}, _file_copy(s, _published(s), "oops\n")
    )


@tamper
def file_emptied(s: Scene) -> Applied:
    return Applied("checkpoint file emptied", {"checkpoint-unpublished"}, _file_copy(s, []))


@tamper
def checkpoint_row_delete(s: Scene) -> Applied:
    row = s.one("SELECT id FROM ledger_checkpoint")
    s.run("DELETE FROM ledger_checkpoint WHERE id = :i", i=row.id)
    return Applied(f"checkpoint row {row.id} deleted", {"checkpoint-unrecorded"})


@tamper
def checkpoint_row_edit(s: Scene) -> Applied:
    row = s.one("SELECT id, size, ts FROM ledger_checkpoint")
    column, value = s.rng.choice([("size", row.size - 1), ("ts", row.ts + 60), ("root", s.rng.randbytes(32))])
    s.run(f"UPDATE ledger_checkpoint SET {column} = :v WHERE id = :i", v=value, i=row.id)
    return Applied(f"checkpoint row {row.id} {column} edited", {"checkpoint-row"})


@tamper
def checkpoint_row_forged(s: Scene) -> Applied:
    row = s.one("SELECT id, note FROM ledger_checkpoint")
    s.run(
        "UPDATE ledger_checkpoint SET note = :n WHERE id = :i", n=_attacker_notes(s, [row.note])[0], i=row.id
    )
    return Applied(f"checkpoint row {row.id} note re-signed by another key", {"checkpoint-signature"})


# -------------------------------------------------------------------------------------- other records


def _sealed_station(s: Scene, kind: str) -> int:
    rows = s.all("SELECT payload FROM ledger_leaf WHERE kind = :k", k=kind)
    return int(json.loads(_raw(s.rng.choice(rows).payload))["station_id"])


@tamper
def station_enrolment(s: Scene) -> Applied:
    sid = _sealed_station(s, "station_enrolment")
    if s.rng.random() < 0.5:
        s.run("UPDATE station SET mn = :m WHERE id = :i", m=f"FORGED{s.rng.randrange(10**12):012d}", i=sid)
        return Applied(f"station {sid} MN changed", {"station-enrolment"})
    s.run(
        "UPDATE station SET enrolled_us = enrolled_us + :d WHERE id = :i",
        d=s.rng.choice([-1, 86_400_000_000]),
        i=sid,
    )
    return Applied(f"station {sid} enrolment time changed", {"station-enrolment"})


@tamper
def station_approval(s: Scene) -> Applied:
    sid = _sealed_station(s, "station_approval")
    column, value = s.rng.choice([("approved_by", "someone-else"), ("approved_ts", 0), ("approved", False)])
    s.run(f"UPDATE station SET {column} = :v WHERE id = :i", v=value, i=sid)
    return Applied(f"station {sid} {column} changed", {"station-approval"})


@tamper
def station_registry(s: Scene) -> Applied:
    rows = s.all("SELECT payload FROM ledger_leaf WHERE kind = 'station_registry'")
    if not rows:
        return station_approval(s)
    sid = int(json.loads(_raw(s.rng.choice(rows).payload))["station_id"])
    column, value = s.rng.choice(
        [("enabled", False), ("encrypted", False), ("tolerant", True), ("pw_hash", "scrypt$1$1$1$00$00")]
    )
    changed = s.conn.execute(
        text(f"UPDATE station SET {column} = :v WHERE id = :i AND {column} <> :v"), {"v": value, "i": sid}
    )
    if not changed.rowcount:  # the station already had that value: change something else
        return station_approval(s)
    return Applied(f"station {sid} {column} changed in place", {"station-registry"})


@tamper
def alarm_event_edit(s: Scene) -> Applied:
    row = s.one("SELECT id FROM alarm_event")
    _drop_alarm_guards(s)
    if s.rng.random() < 0.5:
        s.run("UPDATE alarm_event SET actor = :a WHERE id = :i", a="someone-else", i=row.id)
        return Applied(f"alarm_event {row.id} actor changed", {"record-mismatch"})
    _delete_alarm_events(s, "id = :i", i=row.id)
    return Applied(f"alarm_event {row.id} deleted", {"record-missing"})
