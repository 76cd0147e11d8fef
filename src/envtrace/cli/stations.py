"""`envtrace stations`: import, add, list and approve stations (data loggers) in the registry."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

stations_app = typer.Typer(help="The station registry: import, add, list, approve.", no_args_is_help=True)

DB_OPTION = typer.Option("--db", envvar="ENVTRACE_DB_URL", help="Database URL.")
TRUE = {"1", "true", "yes", "y", "on"}


def _engine(db: str):  # type: ignore[no-untyped-def]
    from envtrace.ingest import prepare_database
    from envtrace.store import connect

    engine = connect(db)
    prepare_database(engine)
    return engine


def import_csv(db: str, path: Path) -> tuple[int, int]:
    """Register every row of a CSV (header with at least ``mn,pw``); returns (added, updated).

    Optional columns: kind, name, st, edition, encrypted, tolerant, utc_offset_min, key (SM4),
    enterprise, enterprise_name, city, point, point_name. A known MN gets its password and the
    given fields updated.
    """
    from envtrace.store import (
        BadRegistryRow,
        get_station,
        register_station,
        update_station,
        write_transaction,
    )
    from envtrace.store.stations import upsert_enterprise, upsert_point

    engine = _engine(db)
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
                        utc_offset_min=480 if offset is None else offset, sm4_key=key,
                    )  # fmt: skip
                    added += 1
                else:
                    update_station(
                        conn, mn, pw=pw, kind=row.get("kind") or None, name=row.get("name") or None,
                        st=row.get("st") or None, edition=row.get("edition") or None, point_id=point_id,
                        encrypted=encrypted or None, utc_offset_min=offset, sm4_key=key,
                    )  # fmt: skip
                    updated += 1
            except ValueError as exc:
                raise BadRegistryRow(line, "kind", kind, str(exc)) from exc
    engine.dispose()
    return added, updated


@stations_app.command("import")
def import_command(
    db_url: Annotated[str, typer.Argument(help="Database URL (sqlite:///PATH or postgresql://...).")],
    csv_path: Annotated[
        Path, typer.Argument(help="CSV with a header: mn,pw[,kind,name,st,edition,...]", exists=True)
    ],
) -> None:
    """Register (or update) the stations listed in a CSV file."""
    added, updated = import_csv(db_url, csv_path)
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
    key: Annotated[str | None, typer.Option(help="HJ 212-2025 SM4 key (16 characters).")] = None,
) -> None:
    """Register one station (approved)."""
    from envtrace.store import register_station, write_transaction

    engine = _engine(db)
    with write_transaction(engine) as conn:
        sid = register_station(
            conn, mn=mn, pw=pw, kind=kind, name=name, st=st, edition=edition, tolerant=tolerant,
            encrypted=key is not None, sm4_key=key,
        )  # fmt: skip
    typer.echo(f"station {mn} registered (id {sid})")


@stations_app.command("list")
def list_command(
    db: Annotated[str, DB_OPTION] = "sqlite:///envtrace.db",
    pending: Annotated[bool, typer.Option("--pending", help="Only stations awaiting approval.")] = False,
) -> None:
    """List stations: MN, kind, edition, approved, online, frames."""
    from envtrace.store import list_stations, station_states

    engine = _engine(db)
    with engine.connect() as conn:
        stations = list_stations(conn, pending=True if pending else None)
        states = {s.station_id: s for s in station_states(conn)}
    typer.echo(f"{'mn':<26} {'kind':<14} {'ed.':<5} {'approved':<9} {'online':<7} frames")
    for s in stations:
        st = states.get(s.id)
        typer.echo(
            f"{s.mn:<26} {s.kind:<14} {s.edition:<5} {'yes' if s.approved else 'PENDING':<9} "
            f"{'yes' if st and st.online else 'no':<7} {st.frames if st else 0}"
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


def register(app: typer.Typer) -> None:
    app.add_typer(stations_app, name="stations")
