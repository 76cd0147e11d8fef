"""`envtrace db`: schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_command(
    db: Annotated[
        str, typer.Option("--db", envvar="ENVTRACE_DB_URL", help="Database URL.")
    ] = "sqlite:///envtrace.db",
) -> None:
    """Bring the schema to the code's migrations (every branch), seed the factor table."""
    from envtrace.ingest import prepare_database
    from envtrace.store import connect, migrate

    engine = connect(db)
    prepare_database(engine)
    typer.echo(f"schema at {', '.join(sorted(migrate.current(engine)))}")
    engine.dispose()


@db_app.command("current")
def current_command(
    db: Annotated[
        str, typer.Option("--db", envvar="ENVTRACE_DB_URL", help="Database URL.")
    ] = "sqlite:///envtrace.db",
) -> None:
    """Print the revisions the database is at, and whether it is up to date."""
    from envtrace.store import connect, migrate

    engine = connect(db)
    current = migrate.current(engine)
    typer.echo(f"{', '.join(sorted(current)) or '(empty)'}; up to date: {current == migrate.heads()}")
    engine.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
