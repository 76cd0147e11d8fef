"""``envtrace evidence``: self-contained evidence bundles for one record, and checking them offline.

``export --db URL --frame ID --out FILE`` writes the bundle of a raw frame (``--leaf N`` for any
record): the raw bytes, the decoded readings, the leaf, its inclusion proof to the newest published
checkpoint covering it (signed first if none covers it yet), the checkpoint, the public keys, the
station and receipt metadata, and consistency proofs to other published checkpoints (the first of
each day, and each ``--witness`` checkpoint). ``verify FILE`` checks a bundle with no database;
``--pubkey`` pins the key obtained out of band, ``--checkpoint`` checks against a witness's copy.
Exit status of ``verify``: 0 valid, 1 invalid, 2 unreadable input. Schema: ``docs/evidence.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    evidence_app = typer.Typer(
        help="Evidence bundles: export one record with its proofs; verify offline.", no_args_is_help=True
    )
    app.add_typer(evidence_app, name="evidence")

    @evidence_app.command("export")
    def export_command(
        db: Annotated[str, typer.Option("--db", help="Database URL.", envvar="ENVTRACE_DB_URL")],
        out: Annotated[Path, typer.Option("--out", help="Bundle file to write (JSON).")],
        frame: Annotated[int | None, typer.Option("--frame", help="Raw frame id.")] = None,
        leaf: Annotated[int | None, typer.Option("--leaf", help="Leaf index (any record kind).")] = None,
        witness: Annotated[
            list[Path] | None,
            typer.Option("--witness", help="A witness's checkpoint to include a consistency proof to."),
        ] = None,
        state_dir: Annotated[
            Path | None,
            typer.Option(
                "--state-dir", help="Folder of keys/ and checkpoints.txt (default: the database's)."
            ),
        ] = None,
    ) -> None:
        """Write the evidence bundle of one raw frame (or leaf)."""
        from envtrace.evidence import EvidenceError, EvidenceOptions, export_bundle
        from envtrace.ledger import LedgerError
        from envtrace.store import connect

        if (frame is None) == (leaf is None):
            raise typer.BadParameter("give exactly one of --frame and --leaf")
        engine = connect(db)
        try:
            witnesses = [p.read_text(encoding="utf-8") for p in witness or []]
            bundle = export_bundle(
                engine,
                EvidenceOptions.for_database(db, state_dir),
                frame_id=frame,
                leaf_index=leaf,
                witnesses=witnesses,
            )
        except (EvidenceError, LedgerError, OSError) as exc:
            typer.echo(f"evidence: {exc}", err=True)
            raise typer.Exit(1) from exc
        finally:
            engine.dispose()
        out.write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        size = json.loads(json.dumps(bundle["inclusion"]))["tree_size"]
        typer.echo(f"evidence: wrote {out} (checkpoint size {size})")

    @evidence_app.command("verify")
    def verify_command(
        path: Annotated[Path, typer.Argument(help="The bundle (JSON).")],
        pubkey: Annotated[
            list[Path] | None,
            typer.Option("--pubkey", help="Trust only this public key (vkey line), obtained out of band."),
        ] = None,
        checkpoint: Annotated[
            list[Path] | None,
            typer.Option("--checkpoint", help="A witness's copy of a checkpoint (note or checkpoint file)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    ) -> None:
        """Check an evidence bundle offline; exit 0 when valid, 1 when not."""
        from envtrace.evidence import BundleInvalid, verify_bundle
        from envtrace.ledger import LedgerError, VerifyingKey

        try:
            bundle = json.loads(path.read_text(encoding="utf-8"))
            pinned = [VerifyingKey.from_vkey(p.read_text(encoding="ascii").strip()) for p in pubkey or []]
            witnesses = [p.read_text(encoding="utf-8") for p in checkpoint or []]
        except (OSError, ValueError, LedgerError) as exc:
            typer.echo(f"evidence: cannot read the input: {exc}", err=True)
            raise typer.Exit(2) from exc
        try:
            checked = verify_bundle(bundle, pinned=pinned or None, witnesses=witnesses)
        except BundleInvalid as exc:
            if as_json:
                typer.echo(json.dumps({"valid": False, "check": exc.check, "reason": exc.reason}))
            else:
                typer.echo(f"INVALID {exc.check}: {exc.reason}")
            raise typer.Exit(1) from exc
        if as_json:
            typer.echo(json.dumps({"valid": True, "checked": checked}, ensure_ascii=False))
        else:
            for line in checked:
                typer.echo(f"ok {line}")
            typer.echo("VALID: the record is in the signed log and unchanged since it was sealed")
