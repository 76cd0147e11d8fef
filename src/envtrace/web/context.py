"""What every request needs: the app's context (engine, options, policy) and the caller."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, Engine

from envtrace.accounts import Policy, Role, find_session, session_verdict, touch_session
from envtrace.accounts import close_session as end_session
from envtrace.config import Settings
from envtrace.evidence import EvidenceOptions
from envtrace.store.accounts import SessionRow, UserRow
from envtrace.store.console import ALL, Scope
from envtrace.store.engine import write_transaction
from envtrace.web.i18n import Translator, negotiate
from envtrace.web.options import WebOptions

SESSION_COOKIE = "envtrace_session"
LANG_COOKIE = "lang"
PRE_CSRF_COOKIE = "envtrace_csrf"


@dataclass(frozen=True, slots=True)
class WebContext:
    settings: Settings
    options: WebOptions
    engine: Engine
    policy: Policy
    has_alarms: bool
    has_ledger: bool
    sessions: SessionCache
    evidence: EvidenceOptions  # where the signing keys and the published checkpoint file live


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a logged-in user with its session, or anonymous (the public)."""

    user: UserRow | None
    session: SessionRow | None
    token: str | None
    lang: str

    @property
    def role(self) -> Role:
        return Role.PUBLIC if self.user is None else Role(self.user.role)

    @property
    def scope(self) -> Scope:
        if self.user is None or self.user.role != Role.ENTERPRISE:
            return ALL
        return Scope(enterprise_id=self.user.enterprise_id)

    @property
    def csrf_token(self) -> str | None:
        return None if self.session is None else self.session.csrf_token

    @property
    def tr(self) -> Translator:
        return Translator(self.lang)

    def has(self, *roles: Role) -> bool:
        return self.role in roles


async def get_ctx(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def read_conn(ctx: Annotated[WebContext, Depends(get_ctx)]) -> Iterator[Connection]:
    """The request's read connection."""
    with ctx.engine.connect() as conn:
        yield conn


class SessionCache:
    """Sessions resolved in the last ``ttl_s`` seconds, by cookie token: most requests of a busy
    console then need neither a database query nor a worker thread to know their caller.

    A session ended or a user locked *through this app* is dropped at once (``forget``,
    ``clear``); one ended by another process (``envtrace users lock``) is honoured within
    ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, SessionRow]] = {}

    def get(self, token: str) -> SessionRow | None:
        with self._lock:
            hit = self._entries.get(token)
        if hit is None or time.monotonic() - hit[0] > self.ttl_s:
            return None
        return hit[1]

    def put(self, token: str, found: SessionRow) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[token] = (time.monotonic(), found)

    def forget(self, token: str) -> None:
        with self._lock:
            self._entries.pop(token, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _resolve(ctx: WebContext, token: str) -> SessionRow | None:
    """Look the session up (read only; a separate short write to touch or end it)."""
    now = int(time.time())
    with ctx.engine.connect() as conn:
        found = find_session(conn, token)
    if found is None:
        return None
    verdict = session_verdict(found, now_ts=now, policy=ctx.policy)
    if verdict == "dead":
        with write_transaction(ctx.engine) as conn:
            end_session(conn, token)
        return None
    if verdict == "touch":
        with write_transaction(ctx.engine) as conn:
            touch_session(conn, token, now_ts=now)
    return found


async def get_principal(request: Request, ctx: Annotated[WebContext, Depends(get_ctx)]) -> Principal:
    """The caller, from the session cookie (and the language from cookie / Accept-Language)."""
    lang = negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 128:
        return Principal(None, None, None, lang)
    found = ctx.sessions.get(token)
    if found is None or found.expires_ts <= time.time():
        found = await run_in_threadpool(_resolve, ctx, token)
        if found is None:
            ctx.sessions.forget(token)
            return Principal(None, None, None, lang)
        ctx.sessions.put(token, found)
    return Principal(found.user, found, token, lang)
