"""Checkpoints: the log's signed statement of its size and root (C2SP tlog-checkpoint).

The body is four lines, each ending in a newline:

```
<origin>                  the log's identity, e.g. envtrace.example.gov.cn/log
<size>                    number of leaves, ASCII decimal, no sign, no leading zero
<root>                    standard base64 (with padding) of the 32-byte RFC 9162 root hash
time <unix seconds>       extension line: when the log signed it (UTC), ASCII decimal
```

and it is signed as a C2SP signed note (see `envtrace.ledger.note`). Parsing is strict: exactly
these four lines, no extra whitespace, canonical numbers and base64, so that every checkpoint has
one byte representation.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from envtrace.ledger.errors import MalformedCheckpoint, WrongOrigin
from envtrace.ledger.hashing import HASH_SIZE
from envtrace.ledger.note import open_note, sign_note
from envtrace.ledger.signing import SigningKey, VerifyingKey
from envtrace.ledger.tree import MAX_SIZE

__all__ = ["MAX_TIMESTAMP", "Checkpoint", "open_checkpoint", "sign_checkpoint"]

MAX_TIMESTAMP = (1 << 63) - 1
"""Largest timestamp accepted (signed 64-bit Unix seconds)."""

_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)")
_TIME_PREFIX = "time "


def _check_origin(origin: object, text: str | bytes) -> str:
    if not isinstance(origin, str) or not origin:
        raise MalformedCheckpoint("the origin must be a non-empty string", text)
    for char in origin:
        if char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F:
            raise MalformedCheckpoint(f"the origin may not contain {char!r}", text)
    return origin


def _parse_decimal(value: str, what: str, limit: int, text: str | bytes) -> int:
    if not _DECIMAL.fullmatch(value):
        raise MalformedCheckpoint(f"the {what} is not a canonical decimal number: {value!r}", text)
    if len(value) > len(str(limit)):  # also keeps int() away from its digit limit
        raise MalformedCheckpoint(f"the {what} has {len(value)} digits, more than {limit} has", text)
    number = int(value)
    if number > limit:
        raise MalformedCheckpoint(f"the {what} {number} is larger than {limit}", text)
    return number


def _parse_root(value: str, text: str | bytes) -> bytes:
    try:
        root = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedCheckpoint(f"the root is not base64: {value!r}", text) from exc
    if base64.b64encode(root).decode() != value:
        raise MalformedCheckpoint(f"the root is not canonical base64: {value!r}", text)
    if len(root) != HASH_SIZE:
        raise MalformedCheckpoint(f"the root is {len(root)} bytes, not {HASH_SIZE}", text)
    return root


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The log `origin` had `size` leaves with root hash `root` at `timestamp` (Unix seconds).

    >>> from envtrace.ledger import EMPTY_ROOT
    >>> Checkpoint("example.org/log", 0, EMPTY_ROOT, 1700000000).body().decode()
    'example.org/log\\n0\\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\\ntime 1700000000\\n'
    """

    origin: str
    size: int
    root: bytes
    timestamp: int

    def __post_init__(self) -> None:
        shown = repr(self)
        _check_origin(self.origin, shown)
        if type(self.size) is not int or not 0 <= self.size <= MAX_SIZE:
            raise MalformedCheckpoint(f"the size must be an integer in [0, {MAX_SIZE}]", shown)
        if type(self.root) is not bytes or len(self.root) != HASH_SIZE:
            raise MalformedCheckpoint(f"the root must be {HASH_SIZE} bytes", shown)
        if type(self.timestamp) is not int or not 0 <= self.timestamp <= MAX_TIMESTAMP:
            raise MalformedCheckpoint(f"the timestamp must be an integer in [0, {MAX_TIMESTAMP}]", shown)

    def body(self) -> bytes:
        """Return the note text that is signed (UTF-8, four lines)."""
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\n{_TIME_PREFIX}{self.timestamp}\n".encode()

    @classmethod
    def from_body(cls, body: str | bytes) -> Checkpoint:
        """Parse a checkpoint body strictly; raises `MalformedCheckpoint`.

        This does not check any signature: use `open_checkpoint` on a signed note.
        """
        if isinstance(body, bytes):
            try:
                text = body.decode("utf-8", errors="strict")
            except UnicodeDecodeError as exc:
                raise MalformedCheckpoint("the body is not valid UTF-8", body) from exc
        else:
            text = body
        if not text.endswith("\n"):
            raise MalformedCheckpoint("the body must end with a newline", body)
        lines = text[:-1].split("\n")
        if len(lines) != 4:
            raise MalformedCheckpoint(
                f"the body must have 4 lines (origin, size, root, time), it has {len(lines)}", body
            )
        origin_line, size_line, root_line, time_line = lines
        origin = _check_origin(origin_line, body)
        size = _parse_decimal(size_line, "size", MAX_SIZE, body)
        root = _parse_root(root_line, body)
        if not time_line.startswith(_TIME_PREFIX):
            raise MalformedCheckpoint(f"the fourth line must be 'time <unix seconds>': {time_line!r}", body)
        timestamp = _parse_decimal(time_line[len(_TIME_PREFIX) :], "time", MAX_TIMESTAMP, body)
        return cls(origin, size, root, timestamp)


def sign_checkpoint(checkpoint: Checkpoint, signing_key: SigningKey, key_name: str) -> str:
    """Return the signed-note text of `checkpoint`, signed by `signing_key` under `key_name`.

    C2SP recommends the key name be the origin. Add further signatures with `add_signature`.
    """
    return sign_note(checkpoint.body().decode(), signing_key, key_name)


def open_checkpoint(
    note_text: str | bytes, verifiers: Sequence[VerifyingKey], *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint against the trusted `verifiers` and return it.

    Raises `MalformedCheckpoint` (bad note or body), `SignatureError` (a known key's signature
    fails, or no known key signed), and `WrongOrigin` when `origin` is given and the checkpoint is
    of another log (a key shared by several logs must not let one log's checkpoint pass for
    another's). To learn which keys signed, use `open_note` and `Checkpoint.from_body(opened.text)`.
    """
    opened = open_note(note_text, verifiers)
    checkpoint = Checkpoint.from_body(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise WrongOrigin(origin, checkpoint.origin)
    return checkpoint
