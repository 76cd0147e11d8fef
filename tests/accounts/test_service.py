"""Accounts on real SQLite and PostgreSQL: users, argon2, lockout, sessions, the users CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from envtrace.accounts import (
    InvalidUser,
    LoginRefused,
    Policy,
    UserExists,
    WeakPassword,
    authenticate,
    close_session,
    create_user,
    open_session,
    resolve_session,
    set_locked,
    set_password,
    token_digest,
)
from envtrace.store import accounts as db
from envtrace.store import migrate
from envtrace.store.engine import connect, write_transaction

T0 = 1_800_000_000
POLICY = Policy(lockout_failures=3, lockout_window_s=900, session_idle_s=600, session_max_s=3600)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = connect(db_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def test_create_user_stores_only_an_argon2_hash(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        user, password = create_user(conn, username="alice", role="admin", now_ts=T0)
    assert len(password) == 20
    assert user.password_hash.startswith("$argon2id$")
    assert password not in user.password_hash


def test_duplicate_and_invalid_users_are_refused(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        create_user(conn, username="bob", role="reviewer", now_ts=T0)
        with pytest.raises(UserExists):
            create_user(conn, username="bob", role="reviewer", now_ts=T0)
        with pytest.raises(InvalidUser):
            create_user(conn, username="x y", role="reviewer", now_ts=T0)
        with pytest.raises(InvalidUser):
            create_user(conn, username="carol", role="public", now_ts=T0)
        with pytest.raises(InvalidUser):
            create_user(conn, username="dave", role="enterprise", now_ts=T0)
        with pytest.raises(InvalidUser):
            create_user(conn, username="erin", role="enterprise", now_ts=T0, enterprise_id=999)
        with pytest.raises(WeakPassword):
            create_user(conn, username="fred", role="admin", now_ts=T0, password="short")


def test_lockout_after_repeated_failures_even_with_the_right_password(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        _, password = create_user(conn, username="gina", role="monitoring_staff", now_ts=T0)
    for i in range(3):
        with write_transaction(engine) as conn, pytest.raises(LoginRefused) as info:
            authenticate(conn, "gina", "wrong-password!", now_ts=T0 + i, ip="1.2.3.4", policy=POLICY)
        assert info.value.reason == "bad_credentials"
    with write_transaction(engine) as conn, pytest.raises(LoginRefused) as info:
        authenticate(conn, "gina", password, now_ts=T0 + 10, ip=None, policy=POLICY)
    assert info.value.reason == "lockout"
    # after the window the right password works again and resets the count
    with write_transaction(engine) as conn:
        assert (
            authenticate(conn, "gina", password, now_ts=T0 + 2000, ip=None, policy=POLICY).username == "gina"
        )
        reasons = [a.reason for a in db.recent_attempts(conn, limit=10)]
    assert reasons[:2] == ["ok", "lockout"]


def test_unknown_user_and_locked_account(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        _, password = create_user(conn, username="hank", role="lab_analyst", now_ts=T0)
        set_locked(conn, "hank", locked=True)
    with write_transaction(engine) as conn, pytest.raises(LoginRefused) as info:
        authenticate(conn, "hank", password, now_ts=T0, ip=None, policy=POLICY)
    assert info.value.reason == "locked"
    with write_transaction(engine) as conn, pytest.raises(LoginRefused) as info:
        authenticate(conn, "nobody", password, now_ts=T0, ip=None, policy=POLICY)
    assert info.value.reason == "bad_credentials"


def test_sessions_expire_idle_and_absolute_and_end_on_logout(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        user, _ = create_user(conn, username="ivy", role="signatory", now_ts=T0)
        s = open_session(conn, user, now_ts=T0, policy=POLICY)
        stored = db.session_by_token(conn, token_digest(s.token))
        assert stored is not None
        assert stored.token_sha256 != s.token
        assert resolve_session(conn, s.token, now_ts=T0 + 500, policy=POLICY) is not None
        assert resolve_session(conn, s.token, now_ts=T0 + 1000, policy=POLICY) is not None  # touched at 500
        assert resolve_session(conn, s.token, now_ts=T0 + 1700, policy=POLICY) is None  # idle > 600
        s2 = open_session(conn, user, now_ts=T0, policy=POLICY)
        for t in range(300, 3600, 300):
            assert resolve_session(conn, s2.token, now_ts=T0 + t, policy=POLICY) is not None
        assert resolve_session(conn, s2.token, now_ts=T0 + 3600, policy=POLICY) is None  # absolute
        s3 = open_session(conn, user, now_ts=T0, policy=POLICY)
        close_session(conn, s3.token)
        assert resolve_session(conn, s3.token, now_ts=T0 + 1, policy=POLICY) is None
        s4 = open_session(conn, user, now_ts=T0, policy=POLICY)
        set_password(conn, "ivy", now_ts=T0 + 1)
        assert resolve_session(conn, s4.token, now_ts=T0 + 2, policy=POLICY) is None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envtrace", "users", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_users_cli_create_list_set_password_lock_unlock(sqlite_url: str) -> None:
    r = _cli("create", "--db", sqlite_url, "--role", "admin", "root")
    assert r.returncode == 0, r.stderr
    password = r.stdout.strip().splitlines()[-1].removeprefix("password: ")
    assert len(password) == 20
    assert _cli("create", "--db", sqlite_url, "--role", "admin", "root").returncode == 1
    r = _cli("set-password", "--db", sqlite_url, "--json", "root")
    new = json.loads(r.stdout)["password"]
    assert new != password
    assert _cli("lock", "--db", sqlite_url, "root").returncode == 0
    listed = [json.loads(line) for line in _cli("list", "--db", sqlite_url, "--json").stdout.splitlines()]
    assert listed == [{"username": "root", "role": "admin", "enterprise_id": None, "locked": True}]
    assert _cli("unlock", "--db", sqlite_url, "root").returncode == 0
    assert _cli("lock", "--db", sqlite_url, "ghost").returncode == 1
    eng = connect(sqlite_url)
    with write_transaction(eng) as conn:
        assert authenticate(conn, "root", new, now_ts=T0, ip=None, policy=POLICY).role == "admin"
    eng.dispose()
