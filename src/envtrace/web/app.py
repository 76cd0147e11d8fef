"""The web app factory: ``create_app(settings) -> FastAPI``.

``envtrace serve --http-port H`` runs it under uvicorn in its own process. The factory connects to
``settings.db_url``, brings the schema up to date if it is behind (idempotent), and during its
lifespan rolls new readings up every ``ENVTRACE_WEB_ROLLUP_INTERVAL_S`` seconds (one short write
transaction per batch; 0 turns it off when another process does it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, inspect

from envtrace import __version__
from envtrace.accounts import Policy, Role
from envtrace.config import Settings
from envtrace.evidence import EvidenceOptions
from envtrace.store import migrate, rollups
from envtrace.store.engine import connect, write_transaction
from envtrace.web import access, errors
from envtrace.web.api import (
    alarms,
    auth,
    export,
    frames,
    health,
    ledger,
    overview,
    public,
    registry,
    stations,
    users,
)
from envtrace.web.context import SessionCache, WebContext
from envtrace.web.emissions import EmissionsCache
from envtrace.web.limits import LimitsCache
from envtrace.web.options import WebOptions
from envtrace.web.pages import admin, alarm_pages, auth_pages, console_pages, portal
from envtrace.web.security import SecurityHeaders
from envtrace.web.templating import STATIC_DIR, render_error

log = logging.getLogger("envtrace.web")

DESCRIPTION = """JSON API of envtrace: staff console data (roles required, see `x-roles` on each
operation) and open data (`/api/v1/public/...`, no login). Errors always answer
`{"ok": false, "error": {"code", "message"}, "status"}`. State-changing calls need the session's
CSRF token in the `X-CSRF-Token` header (from `POST /api/v1/auth/login` or `GET /api/v1/auth/me`)."""


def _refresh_rollups(engine: Engine) -> int:
    moved = 0
    for _ in range(20):
        with write_transaction(engine) as conn:
            result = rollups.refresh(conn)
        if result.frames_to == result.frames_from or result.hours == 0:
            break
        moved += result.hours
    return moved


async def _rollup_loop(engine: Engine, interval: float) -> None:
    while True:
        try:
            await asyncio.to_thread(_refresh_rollups, engine)
        except Exception:
            log.exception("roll-up refresh failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)


def create_app(
    settings: Settings, *, options: WebOptions | None = None, engine: Engine | None = None
) -> FastAPI:
    """Build the app. ``options`` default to the environment (``ENVTRACE_WEB_*``); ``engine`` lets a
    caller share one (tests); otherwise one is made from ``settings.db_url``."""
    opts = options if options is not None else WebOptions()
    eng = (
        engine
        if engine is not None
        else connect(settings.db_url, sqlite_synchronous=settings.sqlite_synchronous)
    )
    if not migrate.is_up_to_date(eng):
        migrate.upgrade(eng)
    tables = set(inspect(eng).get_table_names())
    ctx = WebContext(
        settings=settings,
        options=opts,
        engine=eng,
        policy=Policy(
            lockout_failures=opts.lockout_failures,
            lockout_window_s=opts.lockout_window_s,
            session_idle_s=opts.session_idle_s,
            session_max_s=opts.session_max_s,
        ),
        has_alarms="alarm" in tables,
        has_ledger="ledger_checkpoint" in tables,
        sessions=SessionCache(),
        evidence=EvidenceOptions.from_settings(settings),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if opts.rollup_interval_s <= 0:
            yield
            return
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(_rollup_loop(eng, opts.rollup_interval_s))
            try:
                yield
            finally:
                task.cancel()

    app = FastAPI(
        title="envtrace",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.ctx = ctx
    app.state.overview_cache = overview.OverviewCache()
    app.state.emissions_cache = EmissionsCache()
    app.state.limits_cache = LimitsCache()
    app.state.render_error = render_error
    errors.install(app)
    for module in (health, auth, overview, stations, frames, registry, users, export, public, alarms, ledger):
        app.include_router(module.router)
    for module in (portal, auth_pages, console_pages, admin, alarm_pages):
        app.include_router(module.router)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[access.require(Role.PUBLIC)])
    def openapi() -> dict[str, object]:
        return app.openapi()

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    access.audit(app)
    app.add_middleware(SecurityHeaders)
    return app


def app_from_env() -> FastAPI:
    """``create_app`` with settings from the environment (``ENVTRACE_*``): the factory for running
    several worker processes, ``uvicorn envtrace.web.app:app_from_env --factory --workers N``."""
    return create_app(Settings())
