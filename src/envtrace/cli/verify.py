"""``envtrace verify --db URL``: check that every stored record is still what was sealed and published.

Recomputes the whole Merkle tree from the stored leaves, holds it against the stored nodes, the head
and every published checkpoint (the state folder's ``checkpoints.txt`` and the ``ledger_checkpoint``
table, signatures checked with ``keys/public/*.vkey`` and any ``--pubkey``), and checks every raw
frame, reading, quarantine record, station enrolment and approval, correction and sealed alarm event
against its leaf (readings also against the raw frame, decoded again). The database is opened
read-only.

Output: one line per finding (``ERROR|WARNING|NOTE code [leaf N, record]: what differs``), then a
summary line; ``--json`` prints one JSON document instead. Exit status: 0 intact (warnings and notes
allowed), 1 something was edited, deleted, inserted, reordered or truncated, 2 the check could not
run (no database, unreadable keys).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify_command(
        db: Annotated[str, typer.Option("--db", help="Database URL.", envvar="ENVTRACE_DB_URL")],
        state_dir: Annotated[
            Path | None,
            typer.Option(
                "--state-dir", help="Folder of keys/ and checkpoints.txt (default: the database's)."
            ),
        ] = None,
        pubkey: Annotated[
            list[Path] | None,
            typer.Option("--pubkey", help="A trusted public key (vkey line), obtained out of band."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead of lines.")] = False,
        decode: Annotated[
            bool, typer.Option("--decode/--no-decode", help="Re-decode raw frames to name differing values.")
        ] = True,
        limit: Annotated[
            int, typer.Option("--limit", help="Findings shown per code (all are counted).")
        ] = 50,
    ) -> None:
        """Verify the ledger and every sealed record; exit 0 when intact, 1 when anything changed."""
        from envtrace.evidence import EvidenceError, VerifyContext, verify_url
        from envtrace.ledger import LedgerError, VerifyingKey

        try:
            keys = [VerifyingKey.from_vkey(p.read_text(encoding="ascii").strip()) for p in pubkey or []]
            context = VerifyContext.for_database(
                db, state_dir=state_dir, pubkeys=keys, decode=decode, limit=limit
            )
            report = verify_url(db, context)
        except (EvidenceError, LedgerError, OSError, ValueError) as exc:
            typer.echo(f"verify: cannot verify {db}: {exc}", err=True)
            raise typer.Exit(2) from exc
        if as_json:
            typer.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=1, default=str))
        else:
            for line in report.lines():
                typer.echo(line)
            typer.echo(report.summary())
        raise typer.Exit(0 if report.ok else 1)
