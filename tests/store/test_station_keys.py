"""The SM4 key store (``store.station_keys``) on SQLite and PostgreSQL: the key policy (§6.4.3 f/g),
sealing at rest under a master key kept outside the database, the lifecycle, every change sealed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from envtrace.store import KeyNotFound, KeyRefused, register_station, write_transaction
from envtrace.store.errors import KeyStoreUnavailable
from envtrace.store.station_keys import (
    KeyVault,
    activate_key,
    adopt_legacy_keys,
    generate_key,
    issue_key,
    key_history,
    key_problems,
    list_keys,
    register_key,
    retire_expired,
    revoke_key,
    usable_keys,
)

MN = "0A0000A8900016F000169D10"
GOOD = "Qm7xT2vR9pLk4WzA"
US = 1_000_000


@pytest.fixture
def vault(tmp_path: Path) -> KeyVault:
    return KeyVault.open(tmp_path / "state", create=True)


@pytest.fixture
def sid(engine: Engine) -> int:
    with write_transaction(engine) as conn:
        return register_station(conn, mn=MN, pw="653412", kind="flue_gas", st="31", edition="2025")


def _register(engine: Engine, vault: KeyVault, key: str = GOOD, now_us: int = 10 * US) -> str:
    with write_transaction(engine) as conn:
        return register_key(
            conn,
            vault,
            mn=MN,
            key_text=key,
            actor="staff",
            now_us=now_us,
            overlap_s=60,
            context=(MN, "653412"),
        ).key_id


@pytest.mark.parametrize(
    "key",
    [
        "0000000000000000",  # the appendix A.2 test key
        "aaaaaaaaaaaaaaaa",
        "abcdabcdabcdabcd",
        "0123456789abcdef",
        "qwertyuiop7Xk2Lm",
        "fedcba9876543210",
        "AAAABBBBCCCCDDDD",
        "x653412y9Kq2Lm7Z",  # the station's password inside
        "A8900016F0Zq2Lm7",  # a piece of its MN inside
        "short",
        "ÄÖÜäöüßÄÖÜäöüßxy",
    ],
)
def test_fixed_and_patterned_keys_are_refused(engine: Engine, vault: KeyVault, sid: int, key: str) -> None:
    with pytest.raises(KeyRefused) as refused:
        _register(engine, vault, key)
    assert refused.value.problems
    assert key not in str(refused.value)  # the message names the rule, never the key
    with engine.connect() as conn:
        assert list_keys(conn) == []


def test_a_key_is_never_reused(engine: Engine, vault: KeyVault, sid: int) -> None:
    _register(engine, vault, GOOD)
    _register(engine, vault, GOOD)  # the same key again (an import run twice) changes nothing
    _register(engine, vault, "Hn3bV8cXz6Ry2TqW", now_us=20 * US)
    with pytest.raises(KeyRefused, match="already used"):
        _register(engine, vault, GOOD, now_us=30 * US)
    with engine.connect() as conn:
        assert [k.state for k in list_keys(conn)] == ["previous", "current"]


@settings(max_examples=60, deadline=None)
@given(context=st.lists(st.text(min_size=0, max_size=30), max_size=3))
def test_generated_keys_always_pass_the_policy(context: list[str]) -> None:
    key = generate_key(context=context)
    assert len(key) == 16
    assert key.isascii()
    assert key_problems(key.encode(), context=context) == []


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), sid=st.integers(1, 2**40), key_id=st.text(max_size=20))
def test_sealing_round_trips_and_binds_to_its_row(key: bytes, sid: int, key_id: str) -> None:
    vault = KeyVault(bytes(range(32)))
    sealed = vault.seal(sid, key_id, key)
    assert key not in sealed
    assert vault.unseal(sid, key_id, sealed) == key
    with pytest.raises(KeyStoreUnavailable):
        vault.unseal(sid + 1, key_id, sealed)  # copied onto another station's row: does not open
    with pytest.raises(KeyStoreUnavailable):
        KeyVault(bytes(32)).unseal(sid, key_id, sealed)  # another master key


def test_keys_are_sealed_at_rest_and_the_master_key_is_private(
    engine: Engine, vault: KeyVault, sid: int, tmp_path: Path
) -> None:
    _register(engine, vault)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT sealed, fingerprint FROM station_key")).one()
    assert GOOD.encode() not in bytes(row[0])
    assert GOOD not in str(row[1])
    master = tmp_path / "state" / "station-keys" / "master.key"
    assert stat.S_IMODE(master.stat().st_mode) == 0o600
    assert stat.S_IMODE(master.parent.stat().st_mode) == 0o700
    assert repr(vault) == f"KeyVault({str(master)!r})"
    # the same master key reopened reads the key; another state folder does not
    again = KeyVault.open(tmp_path / "state", create=False)
    with engine.connect() as conn:
        assert [k.key for k in usable_keys(conn, again, now_us=11 * US)[sid]] == [GOOD.encode()]
        other = KeyVault.open(tmp_path / "elsewhere", create=True)
        assert usable_keys(conn, other, now_us=11 * US) == {}  # logged, never raised at the gateway
    with pytest.raises(KeyStoreUnavailable):
        KeyVault.open(tmp_path / "missing", create=False)


def test_lifecycle_is_sealed_event_by_event(engine: Engine, vault: KeyVault, sid: int) -> None:
    first = _register(engine, vault)
    with write_transaction(engine) as conn:
        issued = issue_key(
            conn, vault, station_id=sid, actor="station", now_us=20 * US, sk_create_time="20260801000000000",
            reason="station request (CN 1014)",
        )  # fmt: skip
        again = issue_key(
            conn, vault, station_id=sid, actor="station", now_us=21 * US, sk_create_time="20260801000001000",
            reason="asked again",
        )  # fmt: skip
    assert again.key_id == issued.key_id
    assert again.key == issued.key
    with engine.connect() as conn:  # both keys read while the new one is pending
        assert {k.key_id for k in usable_keys(conn, vault, now_us=22 * US)[sid]} == {first, issued.key_id}
    with write_transaction(engine) as conn:
        assert activate_key(
            conn, station_id=sid, key_id=issued.key_id, now_us=30 * US, overlap_s=60, actor="gw"
        )
        assert not activate_key(
            conn, station_id=sid, key_id=issued.key_id, now_us=31 * US, overlap_s=60, actor="gw"
        )
        assert retire_expired(conn, now_us=60 * US) == []  # the overlap runs to 90 s
    with engine.connect() as conn:  # both keys still read within the overlap window
        assert {k.key_id for k in usable_keys(conn, vault, now_us=80 * US)[sid]} == {first, issued.key_id}
        assert [k.key_id for k in usable_keys(conn, vault, now_us=95 * US)[sid]] == [issued.key_id]
    with write_transaction(engine) as conn:
        assert retire_expired(conn, now_us=95 * US) == [first]
        assert revoke_key(
            conn, mn=MN, key_id=None, actor="staff", reason="logger stolen", now_us=99 * US
        ) == [issued.key_id]
        with pytest.raises(KeyNotFound):
            revoke_key(conn, mn=MN, key_id=None, actor="staff", reason="again", now_us=99 * US)
    with engine.connect() as conn:
        events = [
            tuple(r)
            for r in conn.execute(text("SELECT event, key_id, leaf_index FROM station_key_event ORDER BY id"))
        ]
        leaves = {
            int(r[0]): json.loads(bytes(r[1]))
            for r in conn.execute(text("SELECT idx, payload FROM ledger_leaf WHERE kind = 'station_key'"))
        }
        history = key_history(conn, vault)[sid]
        assert usable_keys(conn, vault, now_us=100 * US) == {}
    assert [(e, k) for e, k, _ in events] == [
        ("registered", first), ("delivered", issued.key_id), ("delivered", issued.key_id),
        ("activated", issued.key_id), ("retired", first), ("revoked", issued.key_id),
    ]  # fmt: skip
    assert [leaves[int(str(i))]["event"] for _, _, i in events] == [e for e, _, _ in events]
    assert all(GOOD not in json.dumps(doc) for doc in leaves.values())
    assert [k.key_id for k in history] == [first, issued.key_id]  # verify can still read old frames


def test_registering_switches_the_station_to_encrypted_and_seals_it(
    engine: Engine, vault: KeyVault, sid: int
) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT encrypted FROM station")).scalar() in (False, 0)
    _register(engine, vault)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT encrypted FROM station")).scalar() in (True, 1)
        sealed = [
            json.loads(bytes(r[0]))
            for r in conn.execute(
                text("SELECT payload FROM ledger_leaf WHERE kind = 'station_registry' ORDER BY idx")
            )
        ]
    assert sealed[-1]["encrypted"] is True
    assert sealed[-1]["by"] == "staff"


def test_keys_in_clear_in_the_old_column_are_adopted(engine: Engine, vault: KeyVault, sid: int) -> None:
    with write_transaction(engine) as conn:
        conn.execute(
            text(f"UPDATE station SET sm4_key = '0000000000000000', encrypted = true WHERE id = {sid}")
        )
        adopted = adopt_legacy_keys(conn, vault, actor="migration", now_us=5 * US, overlap_s=60)
    assert adopted == [
        (MN, ["it is the HJ 212-2025 appendix A.2 test key", "all 16 characters are the same"])
    ]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT sm4_key FROM station")).scalar() is None
        (key,) = usable_keys(conn, vault, now_us=6 * US)[sid]
    assert key.key == b"0000000000000000"
    assert key.state == "current"
