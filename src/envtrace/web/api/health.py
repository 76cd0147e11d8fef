"""``/healthz``: is the app up, can it reach the database, is the schema current."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter
from sqlalchemy import text

from envtrace import __version__
from envtrace.store import migrate
from envtrace.web.deps import Ctx, Public
from envtrace.web.models import Health

router = APIRouter(tags=["health"])


@cache
def _code_heads() -> frozenset[str]:
    """The migration heads of this code (reading the migration scripts takes tens of ms)."""
    return frozenset(migrate.heads())


@router.get("/healthz", response_model=Health)
def healthz(_: Public, ctx: Ctx) -> Health:
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = frozenset(migrate.current(ctx.engine)) == _code_heads()
        return Health(ok=current, database=True, schema_current=current, version=__version__)
    except Exception:  # the health check reports, it does not fail
        return Health(ok=False, database=False, schema_current=False, version=__version__)
