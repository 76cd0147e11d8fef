"""`envtrace users`: local accounts of the web console (create, list, set-password, lock, unlock).

A generated password is printed once and never stored in clear: hand it over, then the user changes
it. ``--json`` prints one JSON object per command for scripts (``envtrace demo``).
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

users_app = typer.Typer(help="Web console accounts.", no_args_is_help=True)

DbOpt = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: ENVTRACE_DB_URL or sqlite:///envtrace.db).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]


def _engine(db: str | None):  # type: ignore[no-untyped-def]
    from envtrace.config import Settings
    from envtrace.store import migrate
    from envtrace.store.engine import connect

    settings = Settings() if db is None else Settings(db_url=db)
    engine = connect(settings.db_url, sqlite_synchronous=settings.sqlite_synchronous)
    if not migrate.is_up_to_date(engine):
        migrate.upgrade(engine)
    return engine


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@users_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _.@-).")],
    role: Annotated[str, typer.Option("--role", help="admin, monitoring_staff, enterprise, ...")],
    db: DbOpt = None,
    enterprise: Annotated[
        str | None, typer.Option("--enterprise", help="Enterprise code (role enterprise only).")
    ] = None,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user and print its generated password."""
    from sqlalchemy import select

    from envtrace.accounts import AccountError, create_user
    from envtrace.store.engine import write_transaction
    from envtrace.store.registry import enterprise as enterprise_table

    engine = _engine(db)
    try:
        with write_transaction(engine) as conn:
            enterprise_id = None
            if enterprise is not None:
                enterprise_id = conn.execute(
                    select(enterprise_table.c.id).where(enterprise_table.c.code == enterprise)
                ).scalar()
                if enterprise_id is None:
                    _fail(f"no enterprise with code {enterprise!r}")
            user, password = create_user(
                conn,
                username=name,
                role=role,
                now_ts=int(time.time()),
                display_name=display_name,
                enterprise_id=enterprise_id,
            )
    except AccountError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"username": user.username, "role": user.role, "password": password}))
    else:
        typer.echo(f"created user {user.username} (role {user.role})")
        typer.echo(f"password: {password}")


@users_app.command("list")
def list_(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List users: name, role, enterprise, locked."""
    from envtrace.store import accounts as store_accounts

    engine = _engine(db)
    try:
        with engine.connect() as conn:
            rows = store_accounts.list_users(conn)
    finally:
        engine.dispose()
    if as_json:
        for u in rows:
            typer.echo(
                json.dumps(
                    {
                        "username": u.username,
                        "role": u.role,
                        "enterprise_id": u.enterprise_id,
                        "locked": u.locked,
                    }
                )
            )
        return
    for u in rows:
        extra = f" enterprise={u.enterprise_id}" if u.enterprise_id is not None else ""
        typer.echo(f"{u.username}\t{u.role}{extra}{' LOCKED' if u.locked else ''}")


@users_app.command("set-password")
def set_password_cmd(
    name: Annotated[str, typer.Argument()], db: DbOpt = None, as_json: JsonOpt = False
) -> None:
    """Give a user a new generated password (ends the user's sessions) and print it."""
    from envtrace.accounts import AccountError, set_password
    from envtrace.store.engine import write_transaction

    engine = _engine(db)
    try:
        with write_transaction(engine) as conn:
            password = set_password(conn, name, now_ts=int(time.time()))
    except AccountError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"username": name, "password": password}))
    else:
        typer.echo(f"password: {password}")


def _lock(name: str, db: str | None, *, locked: bool) -> None:
    from envtrace.accounts import AccountError, set_locked
    from envtrace.store.engine import write_transaction

    engine = _engine(db)
    try:
        with write_transaction(engine) as conn:
            set_locked(conn, name, locked=locked)
    except AccountError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    typer.echo(f"{name} {'locked' if locked else 'unlocked'}")


@users_app.command("lock")
def lock(name: Annotated[str, typer.Argument()], db: DbOpt = None) -> None:
    """Lock a user out (ends the user's sessions)."""
    _lock(name, db, locked=True)


@users_app.command("unlock")
def unlock(name: Annotated[str, typer.Argument()], db: DbOpt = None) -> None:
    """Unlock a user locked by an administrator."""
    _lock(name, db, locked=False)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
