"""``/api/v1/auth``: log in (sets the session cookie), log out, who am I."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from envtrace.accounts import LoginRefused, authenticate, close_session, open_session
from envtrace.store.accounts import UserRow
from envtrace.store.engine import write_transaction
from envtrace.web.context import SESSION_COOKIE, client_ip
from envtrace.web.deps import AnyUser, Ctx, Public
from envtrace.web.errors import ApiError, NotAuthenticated
from envtrace.web.models import ERROR_RESPONSES, LoginIn, LoginOut, Me, OkOut, UserOut
from envtrace.web.security import set_cookie

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)


class TooManyFailures(ApiError):
    status = 429
    code = "locked_out"


def user_out(u: UserRow) -> UserOut:
    return UserOut(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        role=u.role,
        enterprise_id=u.enterprise_id,
        locked=u.locked,
    )


def login_user(request: Request, response: Response, ctx: Ctx, username: str, password: str) -> LoginOut:
    """Authenticate and open a session (shared by the API and the login form)."""
    now = int(time.time())
    refused: LoginRefused | None = None
    with write_transaction(ctx.engine) as conn:
        # A refusal is returned, not raised through the transaction: the recorded attempt commits.
        try:
            user = authenticate(
                conn, username, password, now_ts=now, ip=client_ip(request), policy=ctx.policy
            )
            new = open_session(
                conn,
                user,
                now_ts=now,
                policy=ctx.policy,
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent"),
            )
        except LoginRefused as exc:
            refused = exc
    if refused is not None:
        if refused.reason == "lockout":
            raise TooManyFailures("too many failed logins: try again later")
        raise NotAuthenticated("wrong user name or password, or account locked")
    set_cookie(response, request, ctx.options, SESSION_COOKIE, new.token, max_age=ctx.policy.session_max_s)
    return LoginOut(user=user_out(user), csrf_token=new.csrf_token, expires_ts=new.expires_ts)


@router.post("/login", response_model=LoginOut)
def login(body: LoginIn, request: Request, response: Response, ctx: Ctx, _: Public) -> LoginOut:
    """Log in with user name and password; the session cookie is HttpOnly, SameSite=Lax."""
    return login_user(request, response, ctx, body.username, body.password)


@router.post("/logout", response_model=OkOut)
def logout(principal: AnyUser, response: Response, ctx: Ctx) -> OkOut:
    if principal.token:
        with write_transaction(ctx.engine) as conn:
            close_session(conn, principal.token)
        ctx.sessions.forget(principal.token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return OkOut()


@router.get("/me", response_model=Me)
def me(principal: AnyUser) -> Me:
    if principal.user is None or principal.csrf_token is None:
        raise NotAuthenticated()
    return Me(user=user_out(principal.user), csrf_token=principal.csrf_token)
