"""Errors raised by `envtrace.ledger`. Every error carries the values that made it fail.

```
LedgerError                        anything the ledger refuses
├── BadSize(size, reason)          a tree size that is negative, too large, or disagrees with
│                                  another input (size1 > size2, a frontier of the wrong length)
├── IndexOutOfRange(index, size)   a leaf index outside [0, size)
├── BadNode(level, index, value)   a hash given for, or fetched for, node (level, index) is not
│                                  32 bytes
├── ProofError                     a proof does not prove what it is claimed to prove
│   ├── InvalidProof(reason, ...)  malformed: wrong number of hashes, a hash of the wrong length
│   └── RootMismatch(expected, actual, size)
│                                  well formed, but it leads to another root than the trusted one
└── CheckpointError                a checkpoint or signed note cannot be trusted
    ├── MalformedCheckpoint(reason, text)
    │                              not a well-formed signed note or checkpoint body
    ├── SignatureError(reason, key_name, key_id)
    │                              a known key's signature fails, or no known key signed at all
    ├── WrongOrigin(expected, actual)
    │                              a valid checkpoint, but of another log than the one expected
    └── InvalidKey(reason)         key material or a key name that cannot be used
```

`BadSize` and `IndexOutOfRange` are also `ValueError`s. Verifiers never return a boolean: they
return `None` or raise one of these.
"""

from __future__ import annotations

__all__ = [
    "BadNode",
    "BadSize",
    "CheckpointError",
    "IndexOutOfRange",
    "InvalidKey",
    "InvalidProof",
    "LedgerError",
    "MalformedCheckpoint",
    "ProofError",
    "RootMismatch",
    "SignatureError",
    "WrongOrigin",
]


def _short(value: object) -> str:
    if not isinstance(value, bytes):
        return repr(value)[:80]
    return value.hex() if len(value) <= 64 else value[:64].hex() + "..."


class LedgerError(Exception):
    """Base class of every error raised by `envtrace.ledger`."""


class BadSize(LedgerError, ValueError):
    """A tree size is unusable: negative, beyond 2**64 - 1, or inconsistent with another input."""

    def __init__(self, size: int, reason: str) -> None:
        self.size = size
        self.reason = reason
        super().__init__(f"bad tree size {size}: {reason}")


class IndexOutOfRange(LedgerError, ValueError):
    """A leaf index is not in [0, size)."""

    def __init__(self, index: int, size: int) -> None:
        self.index = index
        self.size = size
        super().__init__(f"leaf index {index} is out of range for a tree of size {size}")


class BadNode(LedgerError):
    """A value given as, or fetched from a store as, the hash of node (level, index) is not 32 bytes."""

    def __init__(self, level: int, index: int, value: object) -> None:
        self.level = level
        self.index = index
        self.value = value
        super().__init__(f"the hash of node ({level}, {index}) is not 32 bytes: {_short(value)}")


class ProofError(LedgerError):
    """A proof does not prove what it is claimed to prove."""


class InvalidProof(ProofError):
    """A proof is malformed for the sizes and index it is claimed to be for.

    `expected_len` and `actual_len` are the number of hashes the proof should have and has (equal
    when the proof is rejected for another reason, such as a hash of the wrong length).
    """

    def __init__(
        self,
        reason: str,
        *,
        index: int | None = None,
        size1: int | None = None,
        size2: int,
        expected_len: int,
        actual_len: int,
    ) -> None:
        self.reason = reason
        self.index = index
        self.size1 = size1
        self.size2 = size2
        self.expected_len = expected_len
        self.actual_len = actual_len
        if index is not None:
            where = f"inclusion of leaf {index} in size {size2}"
        else:
            where = f"consistency of size {size1} with size {size2}"
        super().__init__(
            f"invalid proof ({where}): {reason}; expected {expected_len} hashes, got {actual_len}"
        )


class RootMismatch(ProofError):
    """The root computed from a proof differs from the trusted root of the tree of `size` leaves.

    `expected` is the root the caller trusts (from a checkpoint); `actual` is what the proof gives.
    """

    def __init__(self, expected: bytes, actual: bytes, size: int) -> None:
        self.expected = expected
        self.actual = actual
        self.size = size
        super().__init__(
            f"root mismatch for tree size {size}: expected {_short(expected)}, "
            f"the proof gives {_short(actual)}"
        )


class CheckpointError(LedgerError):
    """A checkpoint or signed note cannot be trusted."""


class MalformedCheckpoint(CheckpointError):
    """The text is not a well-formed signed note, or its body is not a well-formed checkpoint."""

    def __init__(self, reason: str, text: str | bytes) -> None:
        self.reason = reason
        self.text = text
        shown = text if len(text) <= 200 else text[:200]
        super().__init__(f"malformed checkpoint: {reason}: {shown!r}")


class SignatureError(CheckpointError):
    """A signature from a known key fails to verify, or no known key signed the note."""

    def __init__(self, reason: str, key_name: str | None = None, key_id: bytes | None = None) -> None:
        self.reason = reason
        self.key_name = key_name
        self.key_id = key_id
        who = ""
        if key_name is not None:
            who = f" (key {key_name}" + (f"+{key_id.hex()})" if key_id is not None else ")")
        super().__init__(f"signature error{who}: {reason}")


class WrongOrigin(CheckpointError):
    """A correctly signed checkpoint of another log (origin) than the one the caller expects."""

    def __init__(self, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"checkpoint of log {actual!r}, expected log {expected!r}")


class InvalidKey(CheckpointError):
    """Key material or a key name that cannot be used to sign or verify notes."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid key: {reason}")
