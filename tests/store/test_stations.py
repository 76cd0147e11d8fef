"""Registry queries: stations with hashed passwords, approval sealed in the ledger, parameters."""

from __future__ import annotations

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
        assert head.size == 1
        record = leaf(conn, 0).record()
        assert record["kind"] == "station_approval"
        assert record["mn"] == "MN0002"


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
