"""``envtrace ledger``: the signing keys and the published checkpoints.

``sign`` signs and publishes a checkpoint of the current tree now (the job does it every
``checkpoint_interval_s`` or ``checkpoint_leaves``); ``check`` runs the start-up check (run it after
restoring a database); ``rotate-key`` replaces the signing key (old public keys stay published, the
transition checkpoint carries both signatures); ``public-keys`` exports every public key the log
has used; ``checkpoints`` exports the published checkpoints for witnesses, in the checkpoint-file
format (``docs/evidence.md``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from envtrace.evidence import EvidenceOptions

DbOption = Annotated[str, typer.Option("--db", help="Database URL.", envvar="ENVTRACE_DB_URL")]
StateOption = Annotated[
    Path | None,
    typer.Option("--state-dir", help="Folder of keys/ and checkpoints.txt (default: the database's)."),
]
OriginOption = Annotated[
    str | None,
    typer.Option(
        "--origin", help="Log origin for a new log (fixed once published).", envvar="ENVTRACE_LEDGER_ORIGIN"
    ),
]


def _options(db: str, state_dir: Path | None, origin: str | None = None) -> EvidenceOptions:
    from envtrace.evidence import EvidenceOptions

    extra = {"ledger_origin": origin} if origin else {}
    return EvidenceOptions.for_database(db, state_dir, **extra)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"ledger: {exc}", err=True)
    return typer.Exit(1)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        out.write_text(text, encoding="utf-8")


def register(app: typer.Typer) -> None:
    ledger_app = typer.Typer(
        help="The tamper-evident ledger: signing keys, published checkpoints.", no_args_is_help=True
    )
    app.add_typer(ledger_app, name="ledger")

    @ledger_app.command("sign")
    def sign_command(db: DbOption, state_dir: StateOption = None, origin: OriginOption = None) -> None:
        """Sign and publish a checkpoint of the current tree now (if it grew since the last)."""
        from envtrace.evidence import EvidenceError, sign_now
        from envtrace.store import connect

        engine = connect(db)
        try:
            result = sign_now(engine, _options(db, state_dir, origin))
        except EvidenceError as exc:
            raise _fail(exc) from exc
        finally:
            engine.dispose()
        cp = result.checkpoint
        if cp is None:
            typer.echo("ledger: the log is empty; nothing to sign")
            return
        state = "signed" if result.created else "already published"
        typer.echo(f"ledger: {state}: size {cp.size}, root {cp.root.hex()}, by {', '.join(cp.signers)}")

    @ledger_app.command("check")
    def check_command(db: DbOption, state_dir: StateOption = None) -> None:
        """Check that the tree extends the last published checkpoint (as serve does on start)."""
        from envtrace.evidence import EvidenceError, check_against_published
        from envtrace.store import connect

        engine = connect(db)
        try:
            check_against_published(engine, _options(db, state_dir))
        except EvidenceError as exc:
            raise _fail(exc) from exc
        finally:
            engine.dispose()
        typer.echo("ledger: the tree extends every published checkpoint")

    @ledger_app.command("rotate-key")
    def rotate_command(db: DbOption, state_dir: StateOption = None) -> None:
        """Replace the signing key; the transition checkpoint is signed by the old and the new key."""
        from envtrace.evidence import EvidenceError, rotate_key
        from envtrace.store import connect

        engine = connect(db)
        try:
            old, new, result = rotate_key(engine, _options(db, state_dir))
        except EvidenceError as exc:
            raise _fail(exc) from exc
        finally:
            engine.dispose()
        if old is not None:
            typer.echo(f"ledger: retired {old.name} (id {old.key_id}); its public key stays published")
        typer.echo(f"ledger: signing with {new.name} (id {new.key_id}): {new.vkey}")
        if result.checkpoint is not None:
            signers = ", ".join(result.checkpoint.signers)
            typer.echo(f"ledger: transition checkpoint size {result.checkpoint.size} signed by {signers}")

    @ledger_app.command("public-keys")
    def keys_command(
        db: DbOption,
        state_dir: StateOption = None,
        fmt: Annotated[str, typer.Option("--format", help="vkey (one line each), pem or json.")] = "vkey",
        out: Annotated[
            Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
        ] = None,
    ) -> None:
        """Every public key the log has used (current and retired), for witnesses and courts."""
        from envtrace.evidence import EvidenceError
        from envtrace.evidence.queries import public_keys

        try:
            keys = public_keys(_options(db, state_dir))
        except EvidenceError as exc:
            raise _fail(exc) from exc
        if fmt == "vkey":
            text = "".join(f"{k.vkey}\n" for k in keys)
        elif fmt == "pem":
            text = "".join(k.pem for k in keys)
        elif fmt == "json":
            text = json.dumps([k.as_json() for k in keys], indent=1) + "\n"
        else:
            raise typer.BadParameter("--format is vkey, pem or json")
        _write(text, out)

    @ledger_app.command("checkpoints")
    def checkpoints_command(
        db: DbOption,
        since: Annotated[
            int, typer.Option("--since", help="Only checkpoints of this tree size or larger.")
        ] = 0,
        out: Annotated[
            Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
        ] = None,
    ) -> None:
        """The published checkpoints (signed notes, oldest first, each followed by an empty line)."""
        from envtrace.evidence.published import format_notes
        from envtrace.evidence.queries import checkpoint_history
        from envtrace.store import connect

        engine = connect(db)
        try:
            with engine.connect() as conn:
                rows = checkpoint_history(conn, since_size=since, limit=None)
        finally:
            engine.dispose()
        _write(format_notes([r.note for r in reversed(rows)]), out)
