"""`envtrace keys`: HJ 212-2025 SM4 station keys: register, rotate, revoke, list (fingerprints only).

Keys are sealed in the database under the master key of the state folder
(``<state_dir>/station-keys/master.key``; ``--state-dir`` or ``ENVTRACE_STATE_DIR``, else beside
the SQLite file). A key is never printed, never logged: commands show key ids and fingerprints.
``register`` reads the key from standard input (or a hidden prompt) unless ``--key`` is given, so
that it does not appear in the process list or the shell history. Lifecycle: docs/keys.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from envtrace.store.station_keys import KeyVault

keys_app = typer.Typer(
    help="HJ 212-2025 SM4 station keys: register, rotate, revoke, list.", no_args_is_help=True
)

DB_OPTION = typer.Option("--db", envvar="ENVTRACE_DB_URL", help="Database URL.")
STATE_OPTION = typer.Option(
    "--state-dir", envvar="ENVTRACE_STATE_DIR", help="Folder of the station-key master key."
)
BY_OPTION = typer.Option("--by", help="Who does it (recorded in the ledger).")


def _open(db: str, state_dir: Path | None) -> tuple[Engine, KeyVault]:
    from envtrace.config import state_dir_for
    from envtrace.ingest import prepare_database
    from envtrace.store import connect
    from envtrace.store.station_keys import KeyVault

    engine = connect(db)
    prepare_database(engine)
    return engine, KeyVault.open(state_dir_for(db, state_dir), create=True)


def _overlap() -> float:
    from envtrace.config import Settings

    return float(Settings().key_overlap_s)


def _read_key(given: str | None) -> str:
    if given is not None:
        return given
    if sys.stdin.isatty():
        return str(typer.prompt("SM4 key (16 characters or 32 hex digits)", hide_input=True))
    return sys.stdin.readline().strip()


def _fail(message: str) -> None:
    typer.echo(f"envtrace keys: {message}", err=True)
    raise typer.Exit(1)


@keys_app.command("register")
def register_command(
    mn: Annotated[str, typer.Argument(help="The station's MN.")],
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    state_dir: Annotated[Path | None, STATE_OPTION] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="The key (else read from standard input / a hidden prompt).")
    ] = None,
    sk_create_time: Annotated[
        str | None, typer.Option(help="SKCreateTime the logger knows the key by (17 digits).")
    ] = None,
    by: Annotated[str, BY_OPTION] = "cli",
) -> None:
    """Register the SM4 key set on a station's logger (initial key or replacement); switches the
    station to encrypted. Fixed, patterned and reused keys are refused (§6.4.3 f/g)."""
    from envtrace.store import KeyRefused, StationNotFound, write_transaction
    from envtrace.store.station_keys import register_key

    engine, vault = _open(db, state_dir)
    text = _read_key(key)
    try:
        with write_transaction(engine) as conn:
            registered = register_key(
                conn, vault, mn=mn, key_text=text, actor=by, now_us=time.time_ns() // 1000,
                overlap_s=_overlap(), sk_create_time=sk_create_time, context=(mn,),
            )  # fmt: skip
    except (KeyRefused, StationNotFound) as exc:
        _fail(str(exc))
        return
    finally:
        engine.dispose()
    typer.echo(f"station {mn}: key {registered.key_id} registered (fingerprint {registered.fingerprint})")


@keys_app.command("rotate")
def rotate_command(
    mn: Annotated[str, typer.Argument(help="The station's MN.")],
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    state_dir: Annotated[Path | None, STATE_OPTION] = None,
    by: Annotated[str, BY_OPTION] = "cli",
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the station's answer (0: queue and return).")
    ] = 0.0,
    ttl: Annotated[float, typer.Option(help="Seconds the command waits for the station to connect.")] = 86400,
) -> None:
    """Deliver a new key to the station (CN 1014 on its connection, by the running gateway)."""
    from envtrace.store import CommandRefused, StationNotFound, get_station, write_transaction
    from envtrace.store.station_commands import queue_command

    engine, _ = _open(db, state_dir)
    try:
        with write_transaction(engine) as conn:
            station = get_station(conn, mn)
            if station is None:
                raise StationNotFound(mn)
            if not station.encrypted:
                raise CommandRefused(mn, "rotate_key", "the station is not registered as encrypted")
            command = queue_command(
                conn, mn=mn, kind="rotate_key", params={}, actor=by, now_us=time.time_ns() // 1000, ttl_s=ttl
            )
    except (CommandRefused, StationNotFound) as exc:
        engine.dispose()
        _fail(str(exc))
        return
    typer.echo(f"command #{command.id}: a new key for station {mn} is queued")
    _follow(engine, command.id, wait)


def _follow(engine: Engine, command_id: int, wait: float) -> None:
    """Print the command's state until it is done (or ``wait`` seconds pass); exit 1 if it failed."""
    from envtrace.store.station_commands import get_command

    end = time.monotonic() + wait
    state = "queued"
    try:
        while True:
            with engine.connect() as conn:
                command = get_command(conn, command_id)
            if command.state != state:
                state = command.state
                note = f" ({command.detail})" if command.detail else ""
                typer.echo(f"command #{command_id}: {state}{note}")
            if state in ("done", "failed", "expired", "cancelled") or time.monotonic() >= end:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    if state in ("failed", "expired"):
        raise typer.Exit(1)


@keys_app.command("revoke")
def revoke_command(
    mn: Annotated[str, typer.Argument(help="The station's MN.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the ledger).")],
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    state_dir: Annotated[Path | None, STATE_OPTION] = None,
    key_id: Annotated[str | None, typer.Option(help="The key to revoke.")] = None,
    all_keys: Annotated[bool, typer.Option("--all", help="Revoke every open key of the station.")] = False,
    by: Annotated[str, BY_OPTION] = "cli",
) -> None:
    """Revoke a key (compromised, or the logger replaced): frames under it are no longer read."""
    from envtrace.store import KeyNotFound, StationNotFound, write_transaction
    from envtrace.store.station_keys import revoke_key

    if (key_id is None) == (not all_keys):
        _fail("give --key-id K or --all")
    engine, _ = _open(db, state_dir)
    try:
        with write_transaction(engine) as conn:
            done = revoke_key(
                conn, mn=mn, key_id=key_id, actor=by, reason=reason, now_us=time.time_ns() // 1000
            )
    except (KeyNotFound, StationNotFound) as exc:
        _fail(str(exc))
        return
    finally:
        engine.dispose()
    typer.echo(f"station {mn}: revoked {', '.join(done)}")


@keys_app.command("list")
def list_command(
    mn: Annotated[str | None, typer.Argument(help="Only this station.")] = None,
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    events: Annotated[bool, typer.Option("--events", help="Also every sealed key event.")] = False,
) -> None:
    """Keys by station: key id, fingerprint, state, origin, times. Never the keys themselves."""
    from envtrace.ingest import prepare_database
    from envtrace.store import connect, get_station, list_stations
    from envtrace.store.station_keys import key_events, list_keys

    engine = connect(db)
    prepare_database(engine)
    try:
        with engine.connect() as conn:
            stations = {s.id: s.mn for s in list_stations(conn)}
            sid = None
            if mn is not None:
                found = get_station(conn, mn)
                if found is None:
                    _fail(f"no station with MN {mn!r}")
                    return
                sid = found.id
            keys = list_keys(conn, station_id=sid)
            history = key_events(conn, station_id=sid) if events else []
    finally:
        engine.dispose()
    typer.echo(f"{'mn':<26} {'key id':<14} {'fingerprint':<33} {'state':<9} {'origin':<11} created (UTC)")
    for k in keys:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(k.created_us // 1_000_000))
        typer.echo(
            f"{stations.get(k.station_id, '?'):<26} {k.key_id:<14} {k.fingerprint:<33} {k.state:<9} "
            f"{k.origin:<11} {created}"
        )
    typer.echo(f"{len(keys)} keys")
    for e in history:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(str(e["ts_us"])) // 1_000_000))
        typer.echo(
            f"{when} {e['mn']} {e['key_id']} {e['event']} by {e['actor']} "
            f"leaf {e['leaf_index']} {e['detail']}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
