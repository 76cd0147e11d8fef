"""Registry queries: stations with hashed passwords, approval sealed in the ledger, parameters."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from envtrace.store import (
    Parameter,
    PasswordCache,
    StationExists,
    StationNotFound,
    approve_station,
    get_station,
    hash_password,
    leaf,
    list_parameters,
    list_stations,
    read_head,
    register_station,
    update_station,
    upsert_enterprise,
    upsert_parameters,
    upsert_point,
    verify_password,
    write_transaction,
)


def test_password_hash_round_trip_and_salt() -> None:
    h1, h2 = hash_password("123456"), hash_password("123456")
    assert h1 != h2
    assert h1.startswith("scrypt$")
    assert verify_password("123456", h1)
    assert not verify_password("123457", h1)
    assert not verify_password("123456", "not-a-hash")


def test_password_cache_remembers_and_follows_hash_changes() -> None:
    cache = PasswordCache()
    h = hash_password("abcdef")
    assert cache.lookup("abcdef", h) is None
    assert cache.check("abcdef", h) is True
    assert cache.lookup("abcdef", h) is True
    assert cache.check("wrong!", h) is False
    assert cache.lookup("abcdef", hash_password("abcdef")) is None


def test_register_update_approve(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        ent = upsert_enterprise(conn, code="91320100X", name="Plant", city="Nanjing")
        assert upsert_enterprise(conn, code="91320100X", name="Plant again") == ent
        point = upsert_point(conn, code="P1", name="Stack 1", kind="flue_gas", enterprise_id=ent)
        sid = register_station(conn, mn="MN0001", pw="123456", kind="flue_gas", point_id=point, st="31")
        register_station(conn, mn="MN0002", pw="654321", approved=False, enrolled_us=123)
        with pytest.raises(StationExists):
            register_station(conn, mn="MN0001", pw="x")
    with engine.connect() as conn:
        s = get_station(conn, "MN0001")
        assert s is not None
        assert s.id == sid
        assert s.approved
        assert s.point_id == point
        assert verify_password("123456", s.pw_hash)
        assert [p.mn for p in list_stations(conn, pending=True)] == ["MN0002"]
    with write_transaction(engine) as conn:
        updated = update_station(conn, "MN0001", pw="111111", tolerant=True)
        assert updated.tolerant
        assert verify_password("111111", updated.pw_hash)
        with pytest.raises(StationNotFound):
            update_station(conn, "NOPE", name="x")
        approved = approve_station(conn, "MN0002", by="inspector")
        assert approved.approved
    with engine.connect() as conn:
        assert list_stations(conn, pending=True) == []
        head = read_head(conn)
        # registered MN0001, registered MN0002 (pending), MN0001's password and tolerance, approval
        kinds = [leaf(conn, i).record()["kind"] for i in range(head.size)]
        assert kinds == ["station_registry", "station_registry", "station_registry", "station_approval"]
        record = leaf(conn, 3).record()
        assert record["mn"] == "MN0002"
        update = leaf(conn, 2).record()
        assert update["event"] == "updated"
        assert update["tolerant"] is True
        assert update["mn"] == "MN0001"
        assert update["pw_fingerprint"] != leaf(conn, 0).record()["pw_fingerprint"]
        assert "pw_hash" not in update
        assert "111111" not in json.dumps(update)


def test_registry_changes_are_sealed_only_when_something_changes(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        register_station(conn, mn="MN0009", pw="123456", kind="water", by="alice")
        register_station(conn, mn="MN0010", pw="123456", enrolled_us=1, approved=False, seal=False)
        update_station(conn, "MN0009", pw="123456", kind="water", by="bob")  # the same values: no record
    with engine.connect() as conn:
        assert read_head(conn).size == 1
        first = leaf(conn, 0).record()
        assert (first["event"], first["by"], first["station_kind"], first["enabled"]) == (
            "registered",
            "alice",
            "water",
            True,
        )
    with write_transaction(engine) as conn:
        update_station(conn, "MN0009", enabled=False, by="bob")
    with engine.connect() as conn:
        second = leaf(conn, 1).record()
        assert (second["event"], second["by"], second["enabled"]) == ("updated", "bob", False)
        assert second["pw_fingerprint"] == first["pw_fingerprint"]


def test_parameters_seeded_once(engine: Engine) -> None:
    rows = [
        Parameter("a21026", "二氧化硫", "SO2", "mg/m3", "flue_gas"),
        Parameter("w01018", "COD", "COD", "mg/L", "water"),
    ]
    with write_transaction(engine) as conn:
        assert upsert_parameters(conn, rows) == 2
        assert upsert_parameters(conn, rows) == 0
    with engine.connect() as conn:
        assert [p.code for p in list_parameters(conn)] == ["a21026", "w01018"]
