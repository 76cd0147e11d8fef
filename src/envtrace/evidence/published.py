"""The published checkpoint file, and opening signed checkpoints.

``<state_dir>/checkpoints.txt`` is the concatenation of signed notes (C2SP signed-note text, see
``docs/ledger.md``), oldest first, **each followed by one empty line**. A note's body lines and
signature lines are never empty, so the file splits unambiguously: ``text.split("\\n\\n")`` gives
body, signatures, body, signatures ..., and an empty string at the end. Entries are appended with
``O_APPEND`` and ``fsync`` (the folder too when the file is created); the file is never rewritten.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from envtrace.evidence.errors import CheckpointFileCorrupt, UntrustedCheckpoint
from envtrace.ledger import (
    Checkpoint,
    LedgerError,
    VerifyingKey,
    open_note,
    parse_note,
)


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint whose signature verified against trusted keys."""

    note: str
    checkpoint: Checkpoint
    signers: tuple[str, ...]
    source: str

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root

    @property
    def timestamp(self) -> int:
        return self.checkpoint.timestamp


def split_notes(text: str, path: Path | None = None) -> list[str]:
    """The signed notes of a checkpoint file's text, in order (syntax checked, not signatures)."""
    where = path or Path("<checkpoints>")
    if not text:
        return []
    if not text.endswith("\n\n"):
        raise CheckpointFileCorrupt(where, text.count("\n\n") // 2 + 1, "the last entry is incomplete")
    parts = text.split("\n\n")
    if parts[-1] != "" or len(parts) % 2 != 1:
        raise CheckpointFileCorrupt(where, len(parts) // 2, "entries are not note, empty line, note ...")
    notes = []
    for n in range(len(parts) // 2):
        note = f"{parts[2 * n]}\n\n{parts[2 * n + 1]}\n"
        try:
            parse_note(note)
            Checkpoint.from_body(parts[2 * n] + "\n")
        except LedgerError as exc:
            raise CheckpointFileCorrupt(where, n + 1, f"not a signed checkpoint: {exc}") from exc
        notes.append(note)
    return notes


def witness_notes(text: str) -> list[str]:
    """The notes of a witness's copy: one signed note, or a checkpoint file (notes + empty lines)."""
    return split_notes(text) if text.endswith("\n\n") else [text]


def read_notes(path: Path) -> list[str] | None:
    """The notes of the checkpoint file at ``path``, or None when there is no file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointFileCorrupt(path, 0, f"not UTF-8 text: {exc}") from exc
    return split_notes(text, path)


def format_notes(notes: Sequence[str]) -> str:
    """The checkpoint-file text of ``notes`` (each note ends with a newline; one empty line after)."""
    return "".join(f"{note}\n" for note in notes)


def append_note(path: Path, note: str) -> None:
    """Append one signed note to the checkpoint file, durably."""
    if not note.endswith("\n") or "\n\n" not in note:
        raise ValueError(f"not a signed note: {note!r}")
    created = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, format_notes([note]).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def open_signed(
    note: str, verifiers: Sequence[VerifyingKey], *, origin: str | None, source: str
) -> SignedCheckpoint:
    """Open ``note`` with the trusted keys; ``UntrustedCheckpoint`` names ``source`` if it fails."""
    if not verifiers:
        raise UntrustedCheckpoint(source, "no published public key to check its signature with")
    try:
        opened = open_note(note, verifiers)
        checkpoint = Checkpoint.from_body(opened.text)
    except LedgerError as exc:
        raise UntrustedCheckpoint(
            source, f"its signature does not verify with the published keys: {exc}"
        ) from exc
    if origin is not None and checkpoint.origin != origin:
        raise UntrustedCheckpoint(source, f"it is a checkpoint of log {checkpoint.origin!r}, not {origin!r}")
    signers = tuple(k.name for k in opened.verified_by)
    return SignedCheckpoint(note, checkpoint, signers, source)


def note_checkpoint(note: str) -> Checkpoint:
    """The checkpoint a note states, signatures not checked (for display and matching only)."""
    text, _ = parse_note(note)
    return Checkpoint.from_body(text)
