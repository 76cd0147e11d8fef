"""`envtrace` command line.

Each command group lives in its own module under ``envtrace.cli`` and exposes
``register(app: typer.Typer) -> None``. Modules keep heavy imports (numpy, FastAPI, SQLAlchemy) inside
their command functions so that ``envtrace --help`` and the light commands start fast.
"""

from __future__ import annotations

import importlib

import typer

# Order is the order in `envtrace --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "serve",
    "stations",
    "keys",
    "users",
    "db",
    "demo",
    "simulate",
    "alarms",
    "detect",
    "aqi",
    "hj212",
    "worker",
    "rollup",
    "verify",
    "evidence",
    "ledger",
)

app = typer.Typer(
    name="envtrace",
    help="envtrace: HJ 212 direct transmission, tamper-evident ledger, standards and detection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """envtrace: environmental monitoring data that can be trusted."""


def _register_all() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"envtrace.cli.{name}")
        module.register(app)


_register_all()


def main() -> None:
    app()
