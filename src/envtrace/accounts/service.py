"""Users, authentication with lockout, and server-side sessions.

Resources: every function takes the caller's ``Connection`` and runs inside the caller's
transaction. Errors: raises the ``envtrace.accounts.errors`` tree, never a database exception for a
taken name (translated to ``UserExists``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from envtrace.accounts.errors import InvalidUser, LoginRefused, UnknownUser, UserExists
from envtrace.accounts.passwords import (
    dummy_verify,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from envtrace.accounts.roles import USER_ROLES, Role
from envtrace.store import accounts as db
from envtrace.store.accounts import SessionRow, UserRow

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


@dataclass(frozen=True, slots=True)
class Policy:
    """Login and session policy (defaults: 5 failures in 15 min lock a name for the rest of the
    window; sessions end after 2 h idle or 12 h in all)."""

    lockout_failures: int = 5
    lockout_window_s: int = 900
    session_idle_s: int = 2 * 3600
    session_max_s: int = 12 * 3600
    touch_every_s: int = 60


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    csrf_token: str
    expires_ts: int


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_user(username: str, role: str, enterprise_id: int | None) -> Role:
    if not USERNAME_RE.match(username):
        raise InvalidUser("user name must be 2-64 letters, digits or _.@-", username)
    try:
        parsed = Role(role)
    except ValueError:
        raise InvalidUser("unknown role", role) from None
    if parsed not in USER_ROLES:
        raise InvalidUser("role cannot be held by a user", role)
    if (parsed is Role.ENTERPRISE) != (enterprise_id is not None):
        raise InvalidUser("an enterprise user needs --enterprise, and only it", (role, enterprise_id))
    return parsed


def create_user(
    conn: Connection,
    *,
    username: str,
    role: str,
    now_ts: int,
    password: str | None = None,
    display_name: str | None = None,
    enterprise_id: int | None = None,
) -> tuple[UserRow, str]:
    """Create a user; returns the row and the password (generated when none is given)."""
    _check_user(username, role, enterprise_id)
    secret = password if password is not None else generate_password()
    digest = hash_password(secret)
    if db.user_by_name(conn, username) is not None:
        raise UserExists(username)
    try:
        with conn.begin_nested():
            user_id = db.insert_user(
                conn,
                username=username,
                role=role,
                password_hash=digest,
                now_ts=now_ts,
                display_name=display_name,
                enterprise_id=enterprise_id,
            )
    except IntegrityError as exc:
        if db.user_by_name(conn, username) is not None:
            raise UserExists(username) from exc
        raise InvalidUser("the user cannot be stored (does the enterprise exist?)", enterprise_id) from exc
    user = db.user_by_id(conn, user_id)
    if user is None:
        raise UnknownUser(user_id)
    return user, secret


def set_password(conn: Connection, username: str, *, now_ts: int, password: str | None = None) -> str:
    """Set (or generate) a new password; ends the user's sessions. Returns the password."""
    user = db.user_by_name(conn, username)
    if user is None:
        raise UnknownUser(username)
    secret = password if password is not None else generate_password()
    db.set_password_hash(conn, user.id, hash_password(secret), now_ts)
    return secret


def set_locked(conn: Connection, username: str, *, locked: bool) -> UserRow:
    user = db.user_by_name(conn, username)
    if user is None:
        raise UnknownUser(username)
    db.set_locked(conn, user.id, locked=locked)
    updated = db.user_by_id(conn, user.id)
    if updated is None:
        raise UnknownUser(username)
    return updated


def authenticate(
    conn: Connection, username: str, password: str, *, now_ts: int, ip: str | None, policy: Policy
) -> UserRow:
    """The user whose name and password these are; records the attempt either way.

    Raises ``LoginRefused`` with reason ``lockout`` once ``policy.lockout_failures`` failures fell
    within ``policy.lockout_window_s`` (even for the right password), ``locked`` for an account an
    administrator locked, and ``bad_credentials`` otherwise.
    """
    name = username[:64]
    failures = db.failures_since(conn, name, now_ts - policy.lockout_window_s)
    if failures >= policy.lockout_failures:
        dummy_verify(password)
        db.record_attempt(conn, username=name, ts=now_ts, ok=False, ip=ip, reason="lockout")
        raise LoginRefused(name, "lockout")
    user = db.user_by_name(conn, name)
    if user is None:
        dummy_verify(password)
        db.record_attempt(conn, username=name, ts=now_ts, ok=False, ip=ip, reason="unknown_user")
        raise LoginRefused(name, "bad_credentials")
    if not verify_password(user.password_hash, password):
        db.record_attempt(conn, username=name, ts=now_ts, ok=False, ip=ip, reason="bad_password")
        raise LoginRefused(name, "bad_credentials")
    if user.locked:
        db.record_attempt(conn, username=name, ts=now_ts, ok=False, ip=ip, reason="locked")
        raise LoginRefused(name, "locked")
    if needs_rehash(user.password_hash):
        db.set_password_hash(conn, user.id, hash_password(password), user.password_ts)
    db.record_attempt(conn, username=name, ts=now_ts, ok=True, ip=ip, reason="ok")
    return user


def open_session(
    conn: Connection,
    user: UserRow,
    *,
    now_ts: int,
    policy: Policy,
    ip: str | None = None,
    user_agent: str | None = None,
) -> NewSession:
    """A new session for ``user``: the token goes in the cookie, only its digest in the database."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now_ts + policy.session_max_s
    db.insert_session(
        conn,
        token_sha256=token_digest(token),
        user_id=user.id,
        csrf_token=csrf,
        now_ts=now_ts,
        expires_ts=expires,
        ip=ip,
        user_agent=(user_agent or "")[:400] or None,
    )
    return NewSession(token=token, csrf_token=csrf, expires_ts=expires)


def session_verdict(found: SessionRow, *, now_ts: int, policy: Policy) -> str:
    """``dead`` (expired, idle too long, user locked), ``touch`` (live, last-seen due) or ``live``."""
    idle = now_ts - found.last_seen_ts
    if found.expires_ts <= now_ts or idle >= policy.session_idle_s or found.user.locked:
        return "dead"
    return "touch" if idle >= policy.touch_every_s else "live"


def find_session(conn: Connection, token: str) -> SessionRow | None:
    """The stored session for a cookie token (read only; judge it with ``session_verdict``)."""
    if not token or len(token) > 128:
        return None
    return db.session_by_token(conn, token_digest(token))


def touch_session(conn: Connection, token: str, *, now_ts: int) -> None:
    db.touch_session(conn, token_digest(token), now_ts)


def resolve_session(conn: Connection, token: str, *, now_ts: int, policy: Policy) -> SessionRow | None:
    """The live session for a cookie token, or None (unknown, expired, idle too long, user locked).

    Ends a dead session it finds; refreshes ``last_seen_ts`` at most every ``policy.touch_every_s``.
    """
    found = find_session(conn, token)
    if found is None:
        return None
    verdict = session_verdict(found, now_ts=now_ts, policy=policy)
    if verdict == "dead":
        db.delete_session(conn, found.token_sha256)
        return None
    if verdict == "touch":
        db.touch_session(conn, found.token_sha256, now_ts)
    return found


def close_session(conn: Connection, token: str) -> None:
    db.delete_session(conn, token_digest(token))
