"""Leaves other than raw frames: station enrolments and approvals, corrections, key changes, and
every table whose rows point at leaves (``leaf_index``) with a documented payload builder.

``SEALED_TABLES`` is the registry of such tables. A row of one is checked three ways: its leaf is of
the table's kind, ``encode_leaf(kind, payload(row))`` is byte for byte the leaf, and the listed
columns equal the payload's fields; a leaf of that kind with no row is a deleted record. A table
that has a ``leaf_index`` column but no entry here is reported (a note) and only its pointers are
checked. To add a table: its owner documents the payload builder, and one entry is added here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from envtrace.evidence.corrections import CORRECTION_KIND
from envtrace.evidence.findings import Finding, Report
from envtrace.evidence.readonly import Row
from envtrace.evidence.tree_audit import Recomputed
from envtrace.ledger import LedgerError, VerifyingKey
from envtrace.store import encode_leaf
from envtrace.store.errors import StoreError
from envtrace.store.stations import REGISTRY_KIND, registry_state

KNOWN_KINDS = (
    "raw_frame", "station_enrolment", "station_approval", REGISTRY_KIND, CORRECTION_KIND, "ledger_key",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SealedTable:
    """A table whose rows are sealed records: ``payload(row)`` is the leaf payload the row stands for
    and ``columns`` maps row columns to the payload fields they repeat."""

    table: str
    kind: str
    payload: Callable[[Mapping[str, Any]], Mapping[str, object]]
    columns: Mapping[str, str] = field(default_factory=dict)


def _alarm_event_payload(row: Row) -> Mapping[str, object]:
    doc: dict[str, object] = json.loads(str(row["payload"]))
    return doc


def _hj212_2025_tables() -> tuple[SealedTable, ...]:
    """HJ 212-2025 records (docs/keys.md): key changes, logger bindings, commands, MN changes."""
    from envtrace.store.station_commands import command_payload, mn_change_payload
    from envtrace.store.station_identity import binding_payload
    from envtrace.store.station_keys import event_payload

    return (
        SealedTable(
            "station_key_event",
            "station_key",
            event_payload,
            {"station_id": "station_id", "key_id": "key_id", "event": "event", "fingerprint": "fingerprint"},
        ),
        SealedTable(
            "station_binding",
            "station_binding",
            binding_payload,
            {"station_id": "station_id", "identity": "identity", "first_seen_us": "first_seen_us"},
        ),
        SealedTable(
            "station_command",
            "station_command",
            command_payload,
            {"id": "command_id", "station_id": "station_id", "kind": "kind", "actor": "actor"},
        ),
        SealedTable(
            "station_mn_change",
            "station_mn",
            mn_change_payload,
            {"station_id": "station_id", "old_mn": "old_mn", "new_mn": "new_mn"},
        ),
    )


SEALED_TABLES: tuple[SealedTable, ...] = (
    # envtrace.alarms.records: alarm_event.payload is the canonical JSON of the leaf, less kind and v.
    SealedTable(
        "alarm_event",
        "alarm_event",
        _alarm_event_payload,
        {
            "alarm_id": "alarm",
            "seq": "seq",
            "ts": "ts",
            "action": "action",
            "actor": "actor",
            "role": "role",
            "prev_state": "prev_state",
            "state": "state",
        },
    ),
    *_hj212_2025_tables(),
)


def pointer_tables(conn: Connection) -> list[str]:
    """Tables (other than raw_frame) that have a ``leaf_index`` column."""
    if conn.dialect.name == "sqlite":
        query = (
            "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c "
            "WHERE m.type = 'table' AND c.name = 'leaf_index'"
        )
    else:
        query = (
            "SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = current_schema() AND c.column_name = 'leaf_index' "
            "AND t.table_type = 'BASE TABLE'"
        )
    return sorted(str(name) for (name,) in conn.execute(text(query)) if name != "raw_frame")


def _former_mns(conn: Connection) -> dict[int, set[str]]:
    """MNs stations had before an HJ 212-2025 CN 1002 assignment (``station_mn_change``)."""
    out: dict[int, set[str]] = {}
    for sid, old in conn.execute(text("SELECT station_id, old_mn FROM station_mn_change")):
        out.setdefault(int(sid), set()).add(str(old))
    return out


@dataclass
class RecordAudit:
    conn: Connection
    report: Report
    tree: Recomputed
    stations: Mapping[int, Row]
    verifiers: Sequence[VerifyingKey]
    tables: Sequence[str] = ()
    unchecked: Counter[str] = field(default_factory=Counter)
    rows: int = 0
    registry: dict[int, tuple[int, Mapping[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.former_mns = _former_mns(self.conn) if "station_mn_change" in self.tables else {}
        self.specs = {s.table: s for s in SEALED_TABLES if s.table in self.tables}
        self.kind_tables = {s.kind: s for s in self.specs.values()}
        self.published = {k.to_vkey() for k in self.verifiers}

    def _add(self, code: str, message: str, idx: int | None, record: str) -> None:
        self.report.add(Finding(code, message, leaf=idx, record=record))

    def chunk(
        self, lo: int, hi: int, docs: Sequence[tuple[int, dict[str, Any]]], kinds: Mapping[int, str]
    ) -> None:
        rows_by_table: dict[str, dict[int, Row]] = {}
        for table in self.tables:
            query = text(f'SELECT * FROM "{table}" WHERE leaf_index >= :lo AND leaf_index < :hi')
            rows: dict[int, Row] = {
                int(r["leaf_index"]): r for r in self.conn.execute(query, {"lo": lo, "hi": hi}).mappings()
            }
            rows_by_table[table] = rows
            self.rows += len(rows)
            spec = self.specs.get(table)
            for idx in rows:
                if idx not in kinds:
                    self._add(
                        "record-unsealed",
                        f"{table} row points at leaf {idx}, which is missing",
                        idx,
                        f"{table} row",
                    )
                elif spec is not None and kinds[idx] != spec.kind:
                    self._add(
                        "record-unsealed",
                        f"{table} row points at leaf {idx}, a {kinds[idx]} leaf",
                        idx,
                        f"{table} row",
                    )
        for idx, doc in docs:
            kind = str(doc.get("kind"))
            if kind == "station_enrolment":
                self._enrolment(idx, doc)
            elif kind == "station_approval":
                self._approval(idx, doc)
            elif kind == REGISTRY_KIND:
                if self._station(idx, doc, "station-registry") is not None:
                    self.registry[int(doc["station_id"])] = (idx, doc)  # leaves come in order
            elif kind == CORRECTION_KIND:
                self._correction(idx, doc)
            elif kind == "ledger_key":
                self._key(idx, doc)
            elif kind in self.kind_tables:
                spec = self.kind_tables[kind]
                self._sealed_row(idx, doc, spec, rows_by_table[spec.table].get(idx))
            elif kind != "raw_frame":
                self.unchecked[kind] += 1

    def _station(self, idx: int, doc: Mapping[str, Any], code: str) -> Row | None:
        sid = doc.get("station_id")
        station = self.stations.get(sid) if isinstance(sid, int) else None
        if station is None:
            self._add(
                code,
                f"station {sid} (MN {doc.get('mn')}) sealed here no longer exists",
                idx,
                f"station {sid}",
            )
        elif station["mn"] != doc.get("mn") and doc.get("mn") not in self.former_mns.get(
            sid if isinstance(sid, int) else -1, ()
        ):
            self._add(
                code,
                f"station {sid} has MN {station['mn']!r} but the leaf sealed {doc.get('mn')!r}",
                idx,
                f"station {sid}",
            )
        return station

    def _enrolment(self, idx: int, doc: Mapping[str, Any]) -> None:
        station = self._station(idx, doc, "station-enrolment")
        if station is not None and station["enrolled_us"] != doc.get("received_us"):
            self._add(
                "station-enrolment",
                f"station {doc.get('mn')} has enrolled_us {station['enrolled_us']!r} but was sealed as "
                f"enrolled at {doc.get('received_us')!r}",
                idx,
                f"station {doc.get('station_id')}",
            )

    def _approval(self, idx: int, doc: Mapping[str, Any]) -> None:
        station = self._station(idx, doc, "station-approval")
        if station is None:
            return
        for column, key in (("approved_by", "by"), ("approved_ts", "ts")):
            if station[column] != doc.get(key):
                self._add(
                    "station-approval",
                    f"station {doc.get('mn')} has {column} {station[column]!r} but the sealed approval says "
                    f"{doc.get(key)!r}",
                    idx,
                    f"station {doc.get('station_id')}",
                )
        if not station["approved"]:
            self._add(
                "station-approval",
                f"station {doc.get('mn')} is sealed as approved but is not",
                idx,
                f"station {doc.get('station_id')}",
            )

    def _correction(self, idx: int, doc: Mapping[str, Any]) -> None:
        target = doc.get("supersedes")
        problems = []
        if not isinstance(target, Mapping) or not isinstance(target.get("leaf"), int):
            problems.append("it names no leaf")
        else:
            at = int(target["leaf"])
            if not 0 <= at < idx:
                problems.append(f"it names leaf {at}, which is not before it")
            else:
                mine = self.tree.node(0, at)
                if mine is None or mine.hex() != target.get("leaf_hash"):
                    problems.append(
                        f"leaf {at} does not have the leaf hash {target.get('leaf_hash')} it names"
                    )
                kind = self.conn.execute(
                    text("SELECT kind FROM ledger_leaf WHERE idx = :i"), {"i": at}
                ).scalar()
                if kind != target.get("kind"):
                    problems.append(f"leaf {at} is a {kind} record, not a {target.get('kind')} one")
        for key in ("reason", "actor"):
            if not isinstance(doc.get(key), str) or not str(doc.get(key)).strip():
                problems.append(f"it has no {key}")
        for problem in problems:
            self._add("correction-target", problem, idx, "correction")

    def _key(self, idx: int, doc: Mapping[str, Any]) -> None:
        vkey = doc.get("key")
        try:
            key = VerifyingKey.from_vkey(str(vkey))
        except LedgerError:
            self._add("key-unpublished", f"the sealed key {vkey!r} is not a verifier key", idx, "ledger_key")
            return
        if self.published and key.to_vkey() not in self.published:
            self._add(
                "key-unpublished",
                f"signing key {key.name} (id {key.key_id.hex()}) is not published",
                idx,
                "ledger_key",
            )

    def _sealed_row(self, idx: int, doc: Mapping[str, Any], spec: SealedTable, row: Row | None) -> None:
        where = f"{spec.table} row"
        if row is None:
            self._add("record-missing", f"the sealed {spec.kind} record has no {spec.table} row", idx, where)
            return
        payload = dict(doc)
        payload.pop("kind", None)
        payload.pop("v", None)
        try:
            built = spec.payload(row)
            same = encode_leaf(spec.kind, built) == encode_leaf(spec.kind, payload)
        except (ValueError, TypeError, StoreError) as exc:
            self._add("record-mismatch", f"the row's payload cannot be read: {exc}", idx, where)
            return
        if not same:
            self._add("record-mismatch", "the row's payload is not the sealed leaf", idx, where)
        for column, key in spec.columns.items():
            if row[column] != doc.get(key):
                self._add(
                    "record-mismatch",
                    f"column {column} is {row[column]!r} but the leaf sealed {key} = {doc.get(key)!r}",
                    idx,
                    where,
                )

    def _registry_rows(self) -> None:
        """Each station's row against its newest sealed registry state (``store.stations``)."""
        for sid, (idx, doc) in sorted(self.registry.items()):
            row = self.stations.get(sid)
            if row is None:
                continue  # reported by _station already
            for name, value in registry_state(row).items():
                if doc.get(name) != value:
                    shown = "(changed)" if name == "pw_fingerprint" else repr(value)
                    sealed = (
                        ""
                        if name == "pw_fingerprint"
                        else f" but the newest sealed registry record says {doc.get(name)!r}"
                    )
                    self._add(
                        "station-registry",
                        f"station {row['mn']} has {name} {shown}{sealed}",
                        idx,
                        f"station {sid}",
                    )

    def finish(self, leaves: int) -> None:
        self._registry_rows()
        for kind, n in sorted(self.unchecked.items()):
            self.report.add(
                Finding(
                    "kind-unchecked",
                    f"{n} leaves of kind {kind!r}: no row check is documented for it",
                    record=kind,
                )
            )
        for table in self.tables:
            if table not in self.specs:
                self.report.add(
                    Finding(
                        "kind-unchecked",
                        f"table {table} points at leaves but documents no payload builder: only its "
                        "pointers are checked",
                        record=table,
                    )
                )
            query = text(
                f'SELECT leaf_index FROM "{table}" '
                "WHERE leaf_index IS NULL OR leaf_index < 0 OR leaf_index >= :n"
            )
            for (idx,) in self.conn.execute(query, {"n": leaves}):
                self._add(
                    "record-unsealed",
                    f"{table} row points at leaf {idx}, which is not in the ledger",
                    None,
                    f"{table} row",
                )
