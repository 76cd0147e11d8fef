"""`envtrace stations`: import, add, list and approve stations (data loggers) in the registry."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Annotated

import typer

stations_app = typer.Typer(help="The station registry: import, add, list, approve.", no_args_is_help=True)

DB_OPTION = typer.Option("--db", envvar="ENVTRACE_DB_URL", help="Database URL.")
STATE_OPTION = typer.Option(
    "--state-dir", envvar="ENVTRACE_STATE_DIR", help="Folder of the station-key master key."
)
TRUE = {"1", "true", "yes", "y", "on"}


def _engine(db: str):  # type: ignore[no-untyped-def]
    from envtrace.ingest import prepare_database
    from envtrace.store import connect

    engine = connect(db)
    prepare_database(engine)
    return engine


def _vault(db: str, state_dir: Path | None = None):  # type: ignore[no-untyped-def]
    from envtrace.config import state_dir_for
    from envtrace.store.station_keys import KeyVault

    return KeyVault.open(state_dir_for(db, state_dir), create=True)


def import_csv(db: str, path: Path, *, state_dir: Path | None = None) -> tuple[int, int]:
    """Register every row of a CSV (header with at least ``mn,pw``); returns (added, updated).

    Optional columns: kind, name, st, edition, encrypted, tolerant, utc_offset_min, key (SM4),
    enterprise, enterprise_name, city, point, point_name. A known MN gets its password and the
    given fields updated. A ``key`` goes into the key store, sealed under the master key of the
    state folder (``envtrace keys``); a fixed, patterned or reused key refuses the whole file.
    """
    from envtrace.config import Settings
    from envtrace.store import (
        BadRegistryRow,
        KeyRefused,
        get_station,
        register_station,
        update_station,
        write_transaction,
    )
    from envtrace.store.station_keys import register_key
    from envtrace.store.stations import upsert_enterprise, upsert_point

    engine = _engine(db)
    vault = None
    overlap = Settings().key_overlap_s
    added = updated = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with write_transaction(engine) as conn:
        for line, row in enumerate(rows, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            mn, pw = row.get("mn", ""), row.get("pw", "")
            if not mn:
                raise BadRegistryRow(line, "mn", mn, "empty")
            if not pw:
                raise BadRegistryRow(line, "pw", pw, "empty")
            kind = row.get("kind") or "other"
            enterprise_id = None
            if row.get("enterprise"):
                enterprise_id = upsert_enterprise(
                    conn, code=row["enterprise"], name=row.get("enterprise_name") or row["enterprise"],
                    city=row.get("city") or None,
                )  # fmt: skip
            point_id = None
            if row.get("point"):
                point_id = upsert_point(
                    conn, code=row["point"], name=row.get("point_name") or row["point"], kind=kind,
                    enterprise_id=enterprise_id, city=row.get("city") or None,
                )  # fmt: skip
            offset = int(row["utc_offset_min"]) if row.get("utc_offset_min") else None
            key = row.get("key") or None
            encrypted = row.get("encrypted", "").lower() in TRUE or bool(key)
            try:
                if get_station(conn, mn) is None:
                    register_station(
                        conn, mn=mn, pw=pw, kind=kind, name=row.get("name") or None, st=row.get("st") or None,
                        edition=row.get("edition") or "2017", point_id=point_id, encrypted=encrypted,
                        tolerant=row.get("tolerant", "").lower() in TRUE,
                        utc_offset_min=480 if offset is None else offset, by="stations import",
                    )  # fmt: skip
                    added += 1
                else:
                    update_station(
                        conn, mn, pw=pw, kind=row.get("kind") or None, name=row.get("name") or None,
                        st=row.get("st") or None, edition=row.get("edition") or None, point_id=point_id,
                        encrypted=encrypted or None, utc_offset_min=offset, by="stations import",
                    )  # fmt: skip
                    updated += 1
            except ValueError as exc:
                raise BadRegistryRow(line, "kind", kind, str(exc)) from exc
            if key:
                vault = vault or _vault(db, state_dir)
                try:
                    register_key(
                        conn, vault, mn=mn, key_text=key, actor="stations import",
                        now_us=time.time_ns() // 1000, overlap_s=overlap, context=(mn, pw), encrypt=encrypted,
                    )  # fmt: skip
                except KeyRefused as exc:
                    raise BadRegistryRow(line, "key", "(not shown)", "; ".join(exc.problems)) from None
    engine.dispose()
    return added, updated


@stations_app.command("import")
def import_command(
    db_url: Annotated[str, typer.Argument(help="Database URL (sqlite:///PATH or postgresql://...).")],
    csv_path: Annotated[
        Path, typer.Argument(help="CSV with a header: mn,pw[,kind,name,st,edition,...]", exists=True)
    ],
    state_dir: Annotated[Path | None, STATE_OPTION] = None,
) -> None:
    """Register (or update) the stations listed in a CSV file (SM4 keys into the key store)."""
    added, updated = import_csv(db_url, csv_path, state_dir=state_dir)
    typer.echo(f"stations: {added} added, {updated} updated")


@stations_app.command("add")
def add_command(
    mn: Annotated[str, typer.Option("--mn", help="The station's MN.")],
    pw: Annotated[str, typer.Option("--pw", help="Its access password PW.")],
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    kind: Annotated[str, typer.Option(help="flue_gas, water, ambient, ...")] = "other",
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    st: Annotated[str | None, typer.Option(help="HJ 212 system code it sends.")] = None,
    edition: Annotated[str, typer.Option(help="2005, 2017 or 2025.")] = "2017",
    tolerant: Annotated[bool, typer.Option(help="Accept known deviations from it.")] = False,
    key: Annotated[
        str | None, typer.Option(help="HJ 212-2025 SM4 key (16 characters): sealed in the key store.")
    ] = None,
    state_dir: Annotated[Path | None, STATE_OPTION] = None,
) -> None:
    """Register one station (approved)."""
    from envtrace.config import Settings
    from envtrace.store import KeyRefused, register_station, write_transaction
    from envtrace.store.station_keys import register_key

    engine = _engine(db)
    try:
        with write_transaction(engine) as conn:
            sid = register_station(
                conn, mn=mn, pw=pw, kind=kind, name=name, st=st, edition=edition, tolerant=tolerant,
                encrypted=key is not None, by="stations add",
            )  # fmt: skip
            if key is not None:
                register_key(
                    conn, _vault(db, state_dir), mn=mn, key_text=key, actor="stations add",
                    now_us=time.time_ns() // 1000, overlap_s=Settings().key_overlap_s, context=(mn, pw),
                )  # fmt: skip
    except KeyRefused as exc:
        typer.echo(f"envtrace stations: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"station {mn} registered (id {sid})")


@stations_app.command("list")
def list_command(
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    pending: Annotated[bool, typer.Option("--pending", help="Only stations awaiting approval.")] = False,
) -> None:
    """List stations: MN, kind, edition, SM4, approved, online, frames, resent (RF=1) frames."""
    from envtrace.store import list_stations, station_states
    from envtrace.store.payloads import resend_stats

    engine = _engine(db)
    with engine.connect() as conn:
        stations = list_stations(conn, pending=True if pending else None)
        states = {s.station_id: s for s in station_states(conn)}
        resends = resend_stats(conn)
    typer.echo(
        f"{'mn':<26} {'kind':<14} {'ed.':<5} {'sm4':<4} {'approved':<9} {'online':<7} {'frames':>8} resent"
    )
    for s in stations:
        st = states.get(s.id)
        rs = resends.get(s.id)
        typer.echo(
            f"{s.mn:<26} {s.kind:<14} {s.edition:<5} {'on' if s.encrypted else '-':<4} "
            f"{'yes' if s.approved else 'PENDING':<9} {'yes' if st and st.online else 'no':<7} "
            f"{st.frames if st else 0:>8} {f'{rs.frames} ({rs.filled} filled)' if rs else 0}"
        )
    typer.echo(f"{len(stations)} stations")


@stations_app.command("approve")
def approve_command(
    mns: Annotated[list[str], typer.Argument(help="MNs to approve (or --all-pending).")] = [],  # noqa: B006
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    by: Annotated[str, typer.Option(help="Who approves (recorded in the ledger).")] = "cli",
    all_pending: Annotated[
        bool, typer.Option("--all-pending", help="Approve every pending station.")
    ] = False,
) -> None:
    """Approve stations enrolled on first use; each approval is sealed in the ledger."""
    from envtrace.store import approve_station, list_stations, write_transaction

    engine = _engine(db)
    with write_transaction(engine) as conn:
        targets = [s.mn for s in list_stations(conn, pending=True)] if all_pending else mns
        for mn in targets:
            approve_station(conn, mn, by=by)
    typer.echo(f"approved {len(targets)} stations")


# --- HJ 212-2025 commands sent on the station's connection by the running gateway ------------------


def _queue(db: str, mn: str, kind: str, params: dict[str, str], by: str, wait: float, ttl: float) -> None:
    from envtrace.cli.keys import _follow
    from envtrace.store import CommandRefused, StationNotFound, write_transaction
    from envtrace.store.station_commands import queue_command

    engine = _engine(db)
    try:
        with write_transaction(engine) as conn:
            command = queue_command(
                conn, mn=mn, kind=kind, params=params, actor=by, now_us=time.time_ns() // 1000, ttl_s=ttl
            )
    except (CommandRefused, StationNotFound) as exc:
        engine.dispose()
        typer.echo(f"envtrace stations: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"command #{command.id} ({kind}, CN {command.cn}) for station {mn} queued")
    _follow(engine, command.id, wait)


WAIT_OPTION = typer.Option(help="Seconds to wait for the station's 9011/9012 (0: queue and return).")
TTL_OPTION = typer.Option(help="Seconds the command waits for the station to connect.")


@stations_app.command("assign-mn")
def assign_mn_command(
    mn: Annotated[str, typer.Argument(help="The station's current MN.")],
    new_mn: Annotated[str, typer.Argument(help="The 24-character MN to assign (0-9, A-F).")],
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    by: Annotated[str, typer.Option(help="Who assigns it (recorded in the ledger).")] = "cli",
    wait: Annotated[float, WAIT_OPTION] = 0.0,
    ttl: Annotated[float, TTL_OPTION] = 86400,
) -> None:
    """Assign a logger its MN (HJ 212-2025 CN 1002); the registry follows when the logger confirms."""
    _queue(db, mn, "set_mn", {"mn": new_mn.upper()}, by, wait, ttl)


@stations_app.command("retain-sample")
def retain_sample_command(
    mn: Annotated[str, typer.Argument(help="The station's MN.")],
    pol_id: Annotated[str, typer.Option("--pol-id", help="Factor code of the analyser (e.g. w01018).")],
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    by: Annotated[str, typer.Option(help="Who asks (recorded in the ledger).")] = "cli",
    wait: Annotated[float, WAIT_OPTION] = 0.0,
    ttl: Annotated[float, TTL_OPTION] = 86400,
) -> None:
    """Ask the station to retain a sample now (HJ 212-2025 CN 3022)."""
    _queue(db, mn, "retain_sample", {"pol_id": pol_id}, by, wait, ttl)


@stations_app.command("standard-check")
def standard_check_command(
    mn: Annotated[str, typer.Argument(help="The station's MN.")],
    pol_id: Annotated[str, typer.Option("--pol-id", help="Factor code of the analyser (e.g. a21026).")],
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    by: Annotated[str, typer.Option(help="Who asks (recorded in the ledger).")] = "cli",
    wait: Annotated[float, WAIT_OPTION] = 0.0,
    ttl: Annotated[float, TTL_OPTION] = 86400,
) -> None:
    """Ask the station to run a standard-sample check now (HJ 212-2025 CN 3024; results: CN 2062)."""
    _queue(db, mn, "standard_check", {"pol_id": pol_id}, by, wait, ttl)


@stations_app.command("commands")
def commands_command(
    mn: Annotated[str | None, typer.Argument(help="Only this station.")] = None,
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    open_only: Annotated[bool, typer.Option("--open", help="Only commands not finished.")] = False,
) -> None:
    """Commands sent to stations and what they answered (QnRtn, ExeRtn)."""
    from envtrace.store import get_station
    from envtrace.store.station_commands import list_commands

    engine = _engine(db)
    with engine.connect() as conn:
        sid = None
        if mn is not None:
            found = get_station(conn, mn)
            sid = found.id if found is not None else -1
        rows = list_commands(conn, station_id=sid, open_only=open_only)
    engine.dispose()
    typer.echo(f"{'#':>5} {'mn':<26} {'kind':<15} {'state':<13} {'QnRtn':<6} {'ExeRtn':<7} detail")
    for c in rows:
        typer.echo(
            f"{c.id:>5} {c.mn:<26} {c.kind:<15} {c.state:<13} {c.qn_rtn or '-':<6} {c.exe_rtn or '-':<7} "
            f"{c.detail or ''}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(stations_app, name="stations")
