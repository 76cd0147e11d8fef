"""Accounts: users, server-side sessions and login attempts (tables and queries).

Passwords are stored only as argon2 hashes (computed by ``envtrace.accounts``); session tokens only
as their SHA-256, so a copy of the database does not give anyone a live session. Each user has
exactly one role (separation of duties: the reviewer and the signatory are different people); an
``enterprise`` user is bound to one enterprise and sees only its outlets.

Every query takes the caller's ``Connection``: the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)

from envtrace.store.metadata import metadata
from envtrace.store.types import Id

ROLE_NAMES = (
    "admin",
    "monitoring_staff",
    "enforcement_officer",
    "lab_analyst",
    "reviewer",
    "signatory",
    "enterprise",
    "discipline_inspector",
)

app_user = Table(
    "app_user",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", Text),
    Column("role", String(24), nullable=False),
    Column("enterprise_id", ForeignKey("enterprise.id"), comment="set for role enterprise only"),
    Column("password_hash", Text, nullable=False, comment="argon2id PHC string"),
    Column("locked", Boolean, nullable=False, server_default="0", comment="locked by an administrator"),
    Column("created_ts", Integer, nullable=False),
    Column("password_ts", Integer, nullable=False, comment="when the password was last set"),
    CheckConstraint(f"role IN {ROLE_NAMES!r}", name="role"),
    CheckConstraint("(role = 'enterprise') = (enterprise_id IS NOT NULL)", name="enterprise_bound"),
)

user_session = Table(
    "user_session",
    metadata,
    Column("token_sha256", String(64), primary_key=True, comment="SHA-256 of the cookie token, hex"),
    Column("user_id", ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_ts", Integer, nullable=False),
    Column("last_seen_ts", Integer, nullable=False),
    Column("expires_ts", Integer, nullable=False, comment="absolute expiry"),
    Column("ip", String(64)),
    Column("user_agent", Text),
)

login_attempt = Table(
    "login_attempt",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("ts", Integer, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("ip", String(64)),
    Column("reason", String(32), nullable=False, comment="ok|bad_password|unknown_user|locked|lockout"),
)
Index("ix_login_attempt_username_ts", login_attempt.c.username, login_attempt.c.ts)


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    display_name: str | None
    role: str
    enterprise_id: int | None
    password_hash: str
    locked: bool
    created_ts: int
    password_ts: int


@dataclass(frozen=True, slots=True)
class SessionRow:
    token_sha256: str
    csrf_token: str
    created_ts: int
    last_seen_ts: int
    expires_ts: int
    user: UserRow


@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: int
    username: str
    ts: int
    ok: bool
    ip: str | None
    reason: str


_USER_COLS = (
    app_user.c.id,
    app_user.c.username,
    app_user.c.display_name,
    app_user.c.role,
    app_user.c.enterprise_id,
    app_user.c.password_hash,
    app_user.c.locked,
    app_user.c.created_ts,
    app_user.c.password_ts,
)


def _user(row: object) -> UserRow:
    m = row._mapping  # type: ignore[attr-defined]
    return UserRow(
        id=int(m["id"]),
        username=str(m["username"]),
        display_name=m["display_name"],
        role=str(m["role"]),
        enterprise_id=None if m["enterprise_id"] is None else int(m["enterprise_id"]),
        password_hash=str(m["password_hash"]),
        locked=bool(m["locked"]),
        created_ts=int(m["created_ts"]),
        password_ts=int(m["password_ts"]),
    )


def insert_user(
    conn: Connection,
    *,
    username: str,
    role: str,
    password_hash: str,
    now_ts: int,
    display_name: str | None = None,
    enterprise_id: int | None = None,
) -> int:
    """Insert a user and return its id (IntegrityError if the name is taken)."""
    result = conn.execute(
        insert(app_user).values(
            username=username,
            display_name=display_name,
            role=role,
            enterprise_id=enterprise_id,
            password_hash=password_hash,
            locked=False,
            created_ts=now_ts,
            password_ts=now_ts,
        )
    )
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError(f"no primary key returned for user {username!r}")
    return int(key[0])


def user_by_name(conn: Connection, username: str) -> UserRow | None:
    row = conn.execute(select(*_USER_COLS).where(app_user.c.username == username)).first()
    return None if row is None else _user(row)


def user_by_id(conn: Connection, user_id: int) -> UserRow | None:
    row = conn.execute(select(*_USER_COLS).where(app_user.c.id == user_id)).first()
    return None if row is None else _user(row)


def list_users(conn: Connection) -> list[UserRow]:
    return [_user(r) for r in conn.execute(select(*_USER_COLS).order_by(app_user.c.username))]


def set_password_hash(conn: Connection, user_id: int, password_hash: str, now_ts: int) -> bool:
    """Set a new hash and end the user's sessions; False if there is no such user."""
    done = conn.execute(
        update(app_user)
        .where(app_user.c.id == user_id)
        .values(password_hash=password_hash, password_ts=now_ts)
    ).rowcount
    conn.execute(delete(user_session).where(user_session.c.user_id == user_id))
    return bool(done)


def set_locked(conn: Connection, user_id: int, *, locked: bool) -> bool:
    """Lock or unlock; locking also ends the user's sessions. False if there is no such user."""
    done = conn.execute(update(app_user).where(app_user.c.id == user_id).values(locked=locked)).rowcount
    if locked:
        conn.execute(delete(user_session).where(user_session.c.user_id == user_id))
    return bool(done)


def insert_session(
    conn: Connection,
    *,
    token_sha256: str,
    user_id: int,
    csrf_token: str,
    now_ts: int,
    expires_ts: int,
    ip: str | None,
    user_agent: str | None,
) -> None:
    conn.execute(
        insert(user_session).values(
            token_sha256=token_sha256,
            user_id=user_id,
            csrf_token=csrf_token,
            created_ts=now_ts,
            last_seen_ts=now_ts,
            expires_ts=expires_ts,
            ip=ip,
            user_agent=user_agent,
        )
    )


def session_by_token(conn: Connection, token_sha256: str) -> SessionRow | None:
    """The session and its user, whatever its age (the caller judges expiry)."""
    row = conn.execute(
        select(
            user_session.c.token_sha256,
            user_session.c.csrf_token,
            user_session.c.created_ts,
            user_session.c.last_seen_ts,
            user_session.c.expires_ts,
            *_USER_COLS,
        )
        .join(app_user, app_user.c.id == user_session.c.user_id)
        .where(user_session.c.token_sha256 == token_sha256)
    ).first()
    if row is None:
        return None
    m = row._mapping
    return SessionRow(
        token_sha256=str(m["token_sha256"]),
        csrf_token=str(m["csrf_token"]),
        created_ts=int(m["created_ts"]),
        last_seen_ts=int(m["last_seen_ts"]),
        expires_ts=int(m["expires_ts"]),
        user=_user(row),
    )


def touch_session(conn: Connection, token_sha256: str, now_ts: int) -> None:
    conn.execute(
        update(user_session).where(user_session.c.token_sha256 == token_sha256).values(last_seen_ts=now_ts)
    )


def delete_session(conn: Connection, token_sha256: str) -> None:
    conn.execute(delete(user_session).where(user_session.c.token_sha256 == token_sha256))


def delete_expired_sessions(conn: Connection, now_ts: int, idle_s: int) -> int:
    """Remove sessions past their absolute expiry or idle for longer than ``idle_s``."""
    return int(
        conn.execute(
            delete(user_session).where(
                (user_session.c.expires_ts <= now_ts) | (user_session.c.last_seen_ts <= now_ts - idle_s)
            )
        ).rowcount
    )


def record_attempt(
    conn: Connection, *, username: str, ts: int, ok: bool, ip: str | None, reason: str
) -> None:
    conn.execute(insert(login_attempt).values(username=username, ts=ts, ok=ok, ip=ip, reason=reason))


def failures_since(conn: Connection, username: str, since_ts: int) -> int:
    """Failed attempts for ``username`` at or after ``since_ts`` and after its last success."""
    last_ok = (
        select(func.max(login_attempt.c.ts))
        .where(login_attempt.c.username == username, login_attempt.c.ok.is_(True))
        .scalar_subquery()
    )
    query = select(func.count()).where(
        login_attempt.c.username == username,
        login_attempt.c.ok.is_(False),
        login_attempt.c.ts >= since_ts,
        login_attempt.c.ts >= func.coalesce(last_ok, 0),
    )
    return int(conn.execute(query).scalar_one())


def recent_attempts(conn: Connection, *, limit: int, before_id: int | None = None) -> list[AttemptRow]:
    query = select(login_attempt).order_by(login_attempt.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(login_attempt.c.id < before_id)
    return [
        AttemptRow(id=int(r.id), username=r.username, ts=int(r.ts), ok=bool(r.ok), ip=r.ip, reason=r.reason)
        for r in conn.execute(query)
    ]
