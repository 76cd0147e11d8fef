"""Log-in form, log-out, language switch."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from envtrace.accounts import close_session
from envtrace.store.engine import write_transaction
from envtrace.web.api.auth import TooManyFailures, login_user
from envtrace.web.context import LANG_COOKIE, PRE_CSRF_COOKIE, SESSION_COOKIE
from envtrace.web.deps import AnyUser, Ctx, Public
from envtrace.web.errors import CsrfFailed, NotAuthenticated
from envtrace.web.i18n import LANGS
from envtrace.web.security import new_form_token, set_cookie
from envtrace.web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None, default: str = "/console") -> str:
    """Only a local path (no scheme, no host, no '//' or '\\' tricks) is followed after login."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    principal: Public,
    ctx: Ctx,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    if principal.user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    token = request.cookies.get(PRE_CSRF_COOKIE) or new_form_token()
    response = render(request, principal, "login.html", form_token=token, next=safe_next(next), error=None)
    set_cookie(response, request, ctx.options, PRE_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    principal: Public,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    expected = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        raise CsrfFailed("the form expired: reload the log-in page")
    target = safe_next(next)
    response = RedirectResponse(target, status_code=303)
    try:
        login_user(request, response, ctx, username, password)
    except (NotAuthenticated, TooManyFailures) as exc:
        key = "login.locked_out" if isinstance(exc, TooManyFailures) else "login.failed"
        page = render(
            request, principal, "login.html", status=exc.status, form_token=expected, next=target, error=key
        )
        return page
    response.delete_cookie(PRE_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(principal: AnyUser, ctx: Ctx) -> Response:
    if principal.token:
        with write_transaction(ctx.engine) as conn:
            close_session(conn, principal.token)
        ctx.sessions.forget(principal.token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(
    code: str,
    request: Request,
    _: Public,
    ctx: Ctx,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Remember the language in a cookie (one year) and go back to the page."""
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if code in LANGS:
        set_cookie(response, request, ctx.options, LANG_COOKIE, code, max_age=365 * 86400, http_only=False)
    return response
