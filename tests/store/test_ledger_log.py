"""Ledger persistence: appends inside the caller's transaction, nodes for proofs, cache reloads."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import Engine, text

from envtrace.ledger import (
    EMPTY_ROOT,
    CompactRange,
    inclusion_proof,
    leaf_hash,
    root_from_nodes,
    verify_inclusion,
)
from envtrace.store import (
    LedgerInconsistent,
    NodeNotFound,
    NotCanonical,
    append,
    append_many,
    canonical_json,
    encode_leaf,
    get_node,
    leaf,
    node_getter,
    read_head,
    write_transaction,
)
from envtrace.store.ledger_log import forget_cache


def test_canonical_json_sorts_escapes_and_hexes() -> None:
    assert canonical_json({"b": 1, "a": ["é", None, True, b"\x00\xab"]}) == (
        b'{"a":["\\u00e9",null,true,"00ab"],"b":1}'
    )


@pytest.mark.parametrize("bad", [1.5, float("nan"), {1: "x"}, {"a": {1, 2}}, object()])
def test_canonical_json_refuses_other_types(bad: object) -> None:
    with pytest.raises(NotCanonical):
        canonical_json({"x": bad})


def test_encode_leaf_adds_kind_and_version_and_refuses_conflicts() -> None:
    doc = json.loads(encode_leaf("raw_frame", {"mn": "A"}))
    assert doc == {"kind": "raw_frame", "mn": "A", "v": 1}
    with pytest.raises(NotCanonical):
        encode_leaf("raw_frame", {"kind": "other"})


def test_empty_log_head(engine: Engine) -> None:
    with engine.connect() as conn:
        head = read_head(conn)
    assert (head.size, head.root) == (0, EMPTY_ROOT)


def test_append_matches_a_reference_tree_and_serves_proofs(engine: Engine) -> None:
    payloads = [{"i": i, "blob": bytes([i])} for i in range(37)]
    with write_transaction(engine) as conn:
        first = append(conn, "test", payloads[0])
        rest = append_many(conn, [("test", p) for p in payloads[1:20]])
    with write_transaction(engine) as conn:
        rest += append_many(conn, [("test", p) for p in payloads[20:]])
    assert [first, *rest] == list(range(37))
    reference = CompactRange()
    reference.extend([leaf_hash(encode_leaf("test", p)) for p in payloads])
    with engine.connect() as conn:
        head = read_head(conn)
        assert (head.size, head.root) == (37, reference.root())
        get = node_getter(conn)
        assert root_from_nodes(37, get) == reference.root()
        for size in (1, 2, 5, 16, 37):
            assert root_from_nodes(size, get) == _reference_root(payloads[:size])
        for index in (0, 17, 36):
            proof = inclusion_proof(index, 37, get)
            verify_inclusion(leaf_hash(leaf(conn, index).payload), index, 37, proof, reference.root())
        assert leaf(conn, 5).record() == {"kind": "test", "v": 1, "i": 5, "blob": "05"}
        with pytest.raises(NodeNotFound):
            get_node(conn, 6, 0)


def _reference_root(payloads: list[dict[str, object]]) -> bytes:
    cr = CompactRange()
    cr.extend([leaf_hash(encode_leaf("test", p)) for p in payloads])
    return cr.root()


def _append_then_fail(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        append(conn, "test", {"i": "rolled back"})
        raise RuntimeError("abort")


def test_rolled_back_append_leaves_no_trace_and_the_cache_recovers(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        append(conn, "test", {"i": 0})
    with pytest.raises(RuntimeError):
        _append_then_fail(engine)
    with write_transaction(engine) as conn:
        assert append(conn, "test", {"i": 1}) == 1
    with engine.connect() as conn:
        assert read_head(conn).root == _reference_root([{"i": 0}, {"i": 1}])
        count = conn.execute(text("SELECT count(*) FROM ledger_leaf")).scalar()
    assert count == 2


def test_another_writer_is_noticed(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        append(conn, "test", {"i": 0})
    forget_cache()  # a second process: its own cache, same database
    with write_transaction(engine) as conn:
        append(conn, "test", {"i": 1})
    # the first "process" had cached size 1; the stored size 2 differs, so it reloads
    with write_transaction(engine) as conn:
        assert append(conn, "test", {"i": 2}) == 2
    with engine.connect() as conn:
        assert read_head(conn).root == _reference_root([{"i": 0}, {"i": 1}, {"i": 2}])


def test_concurrent_appenders_serialise(engine: Engine) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                with write_transaction(engine) as conn:
                    append(conn, "test", {"worker": n, "i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        head = read_head(conn)
        assert head.size == 40
        assert root_from_nodes(40, node_getter(conn)) == head.root


def test_tampered_node_stops_appends(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        append_many(conn, [("test", {"i": i}) for i in range(3)])
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_node SET hash = :h WHERE level = 1 AND idx = 0"), {"h": b"\x00" * 32}
        )
    forget_cache()
    with pytest.raises(LedgerInconsistent), write_transaction(engine) as conn:
        append(conn, "test", {"i": 3})
