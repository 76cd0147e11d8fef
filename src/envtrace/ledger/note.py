"""Signed notes (C2SP signed-note): text, a blank line, then one signature line per signer.

```
<text, one or more lines, each ending in a newline>

— <key name> <base64(4-byte key ID || 64-byte Ed25519 signature of the text)>
— <another key name> <...>
```

The signed text includes its final newline but not the blank line; the signatures start after
the *last* blank line. A note is valid UTF-8 with no control characters besides newline.

Opening a note follows the spec's trust rules: signature lines from unknown keys (no verifier
with that name *and* key ID) are ignored; a line from a known key that fails to verify rejects the
whole note; a note with no verified signature from a known key is rejected. Multiple signatures
are how keys rotate (sign with old and new during the overlap) and how others co-sign.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from envtrace.ledger.errors import InvalidKey, MalformedCheckpoint, SignatureError
from envtrace.ledger.signing import SigningKey, VerifyingKey, check_key_name

__all__ = [
    "MAX_SIGNATURES",
    "NoteSignature",
    "OpenedNote",
    "add_signature",
    "open_note",
    "parse_note",
    "sign_note",
]

MAX_SIGNATURES = 100
"""Notes with more signature lines than this are rejected (C2SP requires accepting 16)."""

_DASH = "\u2014 "
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


class NoteSignature(NamedTuple):
    """One parsed signature line (not yet verified)."""

    key_name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose signatures were checked: its text, every signature line, the keys that signed."""

    text: str
    signatures: tuple[NoteSignature, ...]
    verified_by: tuple[VerifyingKey, ...]


def _check_text(text: str, original: str | bytes) -> None:
    if not text.endswith("\n"):
        raise MalformedCheckpoint("the note text must end with a newline", original)
    match = _CONTROL.search(text)
    if match:
        raise MalformedCheckpoint(f"control character {match.group()!r} in the note", original)


def _signature_line(text: str, signing_key: SigningKey, key_name: str) -> str:
    check_key_name(key_name)
    blob = signing_key.key_id(key_name) + signing_key.sign(text.encode())
    return f"{_DASH}{key_name} {base64.b64encode(blob).decode()}\n"


def sign_note(text: str, signing_key: SigningKey, key_name: str) -> str:
    """Return the signed note: `text`, a blank line, and one signature line by `key_name`.

    `text` must end with a newline, contain no blank line and no control character.
    """
    _check_text(text, text)
    if text.startswith("\n") or "\n\n" in text:
        raise MalformedCheckpoint("the note text may not contain a blank line", text)
    return text + "\n" + _signature_line(text, signing_key, key_name)


def add_signature(note: str, signing_key: SigningKey, key_name: str) -> str:
    """Return `note` with one more signature line, by `key_name`, over the same text.

    Existing signatures are kept as they are and are not verified here (`open_note` does that).
    """
    text, signatures = parse_note(note)
    if len(signatures) >= MAX_SIGNATURES:
        raise MalformedCheckpoint(f"a note may carry at most {MAX_SIGNATURES} signatures", note)
    return note + _signature_line(text, signing_key, key_name)


def parse_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines, checking syntax only.

    Raises `MalformedCheckpoint` for anything that is not a well-formed signed note.
    """
    if isinstance(note, bytes):
        try:
            decoded = note.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise MalformedCheckpoint(f"not valid UTF-8 ({exc.reason})", note) from exc
    else:
        decoded = note
    _check_text(decoded, note)
    split = decoded.rfind("\n\n")
    if split < 0:
        raise MalformedCheckpoint("no blank line between the text and the signatures", note)
    text = decoded[: split + 1]
    lines = decoded[split + 2 :].split("\n")[:-1]
    if not lines:
        raise MalformedCheckpoint("no signature line after the blank line", note)
    if len(lines) > MAX_SIGNATURES:
        raise MalformedCheckpoint(f"more than {MAX_SIGNATURES} signature lines", note)
    signatures: list[NoteSignature] = []
    for line in lines:
        if not line.startswith(_DASH):
            raise MalformedCheckpoint(f"signature line does not start with an em dash: {line!r}", note)
        parts = line[len(_DASH) :].split(" ")
        if len(parts) != 2:
            raise MalformedCheckpoint(f"signature line is not '— <name> <base64>': {line!r}", note)
        name, encoded = parts
        try:
            check_key_name(name)
        except InvalidKey as exc:
            raise MalformedCheckpoint(f"bad key name in signature line: {exc.reason}", note) from exc
        try:
            blob = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedCheckpoint(f"signature is not base64: {encoded!r}", note) from exc
        if base64.b64encode(blob).decode() != encoded:
            raise MalformedCheckpoint(f"signature is not canonical base64: {encoded!r}", note)
        if len(blob) < 5:
            raise MalformedCheckpoint(f"signature of {len(blob)} bytes is too short", note)
        signatures.append(NoteSignature(name, blob[:4], blob[4:]))
    return text, signatures


def open_note(note: str | bytes, verifiers: Sequence[VerifyingKey]) -> OpenedNote:
    """Parse `note` and verify it against the trusted `verifiers`.

    Raises `MalformedCheckpoint` for bad syntax, `SignatureError` if a known key's signature fails
    or if no known key signed, and `InvalidKey` if two verifiers share a name and key ID.
    """
    text, signatures = parse_note(note)
    known: dict[tuple[str, bytes], VerifyingKey] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        if slot in known and known[slot] != verifier:
            raise InvalidKey(f"two verifiers share key name {verifier.name} and id {verifier.key_id.hex()}")
        known[slot] = verifier
    message = text.encode()
    verified: list[VerifyingKey] = []
    for signature in signatures:
        signer = known.get((signature.key_name, signature.key_id))
        if signer is None:
            continue
        if not signer.verify(signature.signature, message):
            raise SignatureError("signature does not verify", signature.key_name, signature.key_id)
        if signer not in verified:
            verified.append(signer)
    if not verified:
        seen = ", ".join(f"{s.key_name}+{s.key_id.hex()}" for s in signatures)
        raise SignatureError(f"no signature from a known key (signed by: {seen})")
    return OpenedNote(text, tuple(signatures), tuple(verified))
