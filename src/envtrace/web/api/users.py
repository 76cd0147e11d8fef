"""``/api/v1/users`` (admin) and ``/api/v1/audit/logins`` (admin, discipline inspector)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query

from envtrace.accounts import AccountError, UnknownUser, create_user, set_locked, set_password
from envtrace.accounts.errors import UserExists
from envtrace.store import accounts as store_accounts
from envtrace.web.api.auth import user_out
from envtrace.web.deps import Admin, Auditor, Ctx, ReadConn, WriteConn
from envtrace.web.errors import BadRequest, Conflict, NotFound
from envtrace.web.models import (
    ERROR_RESPONSES,
    AttemptList,
    AttemptOut,
    PasswordOut,
    UserIn,
    UserList,
    UserOut,
)

router = APIRouter(prefix="/api/v1", tags=["users"], responses=ERROR_RESPONSES)
UserName = Annotated[str, Path(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]


@router.get("/users", response_model=UserList)
def list_users(_: Admin, conn: ReadConn) -> UserList:
    rows = [user_out(u) for u in store_accounts.list_users(conn)]
    return UserList(data=rows, count=len(rows))


@router.post("/users", response_model=PasswordOut, status_code=201)
def create(body: UserIn, _: Admin, conn: WriteConn) -> PasswordOut:
    """Create a user with a generated password, shown once in the answer."""
    try:
        user, password = create_user(
            conn,
            username=body.username,
            role=body.role,
            now_ts=int(time.time()),
            display_name=body.display_name,
            enterprise_id=body.enterprise_id,
        )
    except UserExists as exc:
        raise Conflict(str(exc)) from None
    except AccountError as exc:
        raise BadRequest(str(exc)) from None
    return PasswordOut(username=user.username, password=password)


@router.post("/users/{username}/password", response_model=PasswordOut)
def new_password(username: UserName, _: Admin, conn: WriteConn, ctx: Ctx) -> PasswordOut:
    """Generate a new password (ends the user's sessions)."""
    try:
        password = set_password(conn, username, now_ts=int(time.time()))
    except UnknownUser:
        raise NotFound(f"no user {username!r}") from None
    ctx.sessions.clear()
    return PasswordOut(username=username, password=password)


def _lock(conn: WriteConn, ctx: Ctx, username: str, *, locked: bool) -> UserOut:
    try:
        out = user_out(set_locked(conn, username, locked=locked))
    except UnknownUser:
        raise NotFound(f"no user {username!r}") from None
    ctx.sessions.clear()
    return out


@router.post("/users/{username}/lock", response_model=UserOut)
def lock(username: UserName, _: Admin, conn: WriteConn, ctx: Ctx) -> UserOut:
    return _lock(conn, ctx, username, locked=True)


@router.post("/users/{username}/unlock", response_model=UserOut)
def unlock(username: UserName, _: Admin, conn: WriteConn, ctx: Ctx) -> UserOut:
    return _lock(conn, ctx, username, locked=False)


@router.get("/audit/logins", response_model=AttemptList)
def login_audit(
    _: Auditor,
    conn: ReadConn,
    cursor: Annotated[
        int | None, Query(ge=1, description="id of the last attempt of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AttemptList:
    rows = store_accounts.recent_attempts(conn, limit=limit, before_id=cursor)
    data = [
        AttemptOut(id=r.id, username=r.username, ts=r.ts, ok=r.ok, ip=r.ip, reason=r.reason) for r in rows
    ]
    return AttemptList(data=data, count=len(data), next_cursor=data[-1].id if len(data) == limit else None)
