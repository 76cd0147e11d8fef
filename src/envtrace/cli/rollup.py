"""``envtrace rollup``: run the validity-judged roll-up once, or recompute a range as new versions.

``envtrace rollup --db URL`` (or ``--once``) takes in new frames and computes what is due, as the
worker's job does every 30 s. ``--recompute FROM TO`` re-judges every station-hour with data in
``[FROM, TO)`` and their days from the primary data (after a rule-table correction, say): a result
that differs is appended as a new version, an unchanged one appends nothing. ``--since FROM`` is
``--recompute FROM now``. Instants are ISO 8601 (``2026-03-01T00:00:00+08:00``; without an offset,
China Standard Time) or Unix seconds.
"""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``rollup`` command to the ``envtrace`` application."""
    app.command("rollup")(rollup)


def parse_instant(text: str) -> int:
    """Unix seconds of an ISO 8601 instant (no offset = China Standard Time) or of a number."""
    from datetime import datetime, timedelta, timezone

    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    try:
        parsed = datetime.fromisoformat(stripped)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is neither an ISO 8601 instant nor Unix seconds") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone(timedelta(hours=8)))
    return int(parsed.timestamp())


def rollup(
    db: Annotated[str, typer.Option("--db", envvar="ENVTRACE_DB_URL", help="Database URL.")],
    once: Annotated[bool, typer.Option("--once", help="Run the incremental job once (the default).")] = False,
    recompute: Annotated[
        tuple[str, str] | None,
        typer.Option("--recompute", help="Recompute [FROM, TO) as new versions (ISO 8601 or Unix s)."),
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Recompute from this instant to now.")] = None,
    station: Annotated[
        list[str] | None, typer.Option("--station", help="Only this station MN (repeatable; recompute).")
    ] = None,
) -> None:
    """Roll readings up into validity-judged hourly and daily values, AQI, exceedances, disagreements."""
    import time

    from envtrace.config import Settings
    from envtrace.rollup import RollupError, run
    from envtrace.rollup import recompute as do_recompute
    from envtrace.rollup.jobs import options_from_settings
    from envtrace.store import connect, get_station

    options = options_from_settings(Settings())  # judged as the worker's job judges

    now = int(time.time())
    if recompute is not None and since is not None:
        raise typer.BadParameter("give --recompute FROM TO or --since FROM, not both")
    engine = connect(db)
    try:
        span = None
        if recompute is not None:
            span = (parse_instant(recompute[0]), parse_instant(recompute[1]))
        elif since is not None:
            span = (parse_instant(since), now)
        if once and span is not None:
            raise typer.BadParameter("--once runs the incremental job; it takes no range")
        if span is None:
            counts = run(engine, now, options)
            label = "rollup"
        else:
            ids = None
            if station:
                with engine.connect() as conn:
                    found = [get_station(conn, mn) for mn in station]
                unknown = [mn for mn, s in zip(station, found, strict=True) if s is None]
                if unknown:
                    names = ", ".join(unknown)
                    raise typer.BadParameter(f"unknown station MN {names}", param_hint="--station")
                ids = [s.id for s in found if s is not None]
            try:
                counts = do_recompute(engine, span[0], span[1], now_ts=now, station_ids=ids, options=options)
            except RollupError as exc:
                raise typer.BadParameter(str(exc)) from exc
            label = f"recompute [{span[0]}, {span[1]})"
        text = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        typer.echo(f"{label}: {text or 'nothing to do'}")
    finally:
        engine.dispose()
