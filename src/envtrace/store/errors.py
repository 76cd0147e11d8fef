"""Errors of ``envtrace.store``.

::

    StoreError
    ├── UnsupportedDatabase      the URL names a database other than SQLite or PostgreSQL
    ├── SchemaOutOfDate          the database is behind the code's migrations
    ├── NotCanonical             a ledger payload holds a value the leaf encoding refuses (a float ...)
    ├── LedgerInconsistent       the stored nodes do not give the root the head row records
    ├── NodeNotFound             a proof asked for a perfect subtree the log does not hold (yet)
    ├── StationNotFound          no station has this MN
    ├── StationExists            a station with this MN is already registered
    ├── BadRegistryRow           a registry CSV row cannot be used (names the line and the field)
    ├── KeyRefused               an SM4 key refused by the key policy (names the rule, never the key)
    ├── KeyStoreUnavailable      the station-key master key is missing or unreadable (names the path)
    ├── KeyNotFound              no such station key (names the station and key id)
    └── CommandRefused           a command for a station that cannot be queued (names the reason)
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store error."""


class UnsupportedDatabase(StoreError):
    def __init__(self, url: str) -> None:
        super().__init__(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")
        self.url = url


class SchemaOutOfDate(StoreError):
    def __init__(self, current: set[str], heads: set[str]) -> None:
        super().__init__(
            f"database schema at {sorted(current)} but the code expects {sorted(heads)}: "
            "run `envtrace db upgrade`"
        )
        self.current = current
        self.heads = heads


class NotCanonical(StoreError):
    """A ledger payload value that the canonical leaf encoding does not allow."""

    def __init__(self, path: str, value: object) -> None:
        super().__init__(
            f"ledger payload {path} = {value!r} ({type(value).__name__}): only str, int, bool, None, "
            "bytes, lists and dicts with str keys are allowed (write floats as decimal strings)"
        )
        self.path = path
        self.value = value


class LedgerInconsistent(StoreError):
    """The perfect-subtree hashes stored for ``size`` leaves fold to another root than the head's."""

    def __init__(self, size: int, head_root: bytes, computed_root: bytes) -> None:
        super().__init__(
            f"ledger of size {size}: ledger_head.root is {head_root.hex()} but the stored nodes give "
            f"{computed_root.hex()}"
        )
        self.size = size
        self.head_root = head_root
        self.computed_root = computed_root


class NodeNotFound(StoreError):
    def __init__(self, level: int, index: int) -> None:
        super().__init__(f"the ledger holds no perfect subtree ({level}, {index})")
        self.level = level
        self.index = index


class StationNotFound(StoreError):
    def __init__(self, mn: str) -> None:
        super().__init__(f"no station with MN {mn!r}")
        self.mn = mn


class StationExists(StoreError):
    def __init__(self, mn: str) -> None:
        super().__init__(f"a station with MN {mn!r} is already registered")
        self.mn = mn


class BadRegistryRow(StoreError):
    def __init__(self, line: int, field: str, value: object, reason: str) -> None:
        super().__init__(f"registry line {line}: {field} = {value!r}: {reason}")
        self.line = line
        self.field = field
        self.value = value
        self.reason = reason


class KeyRefused(StoreError):
    """An SM4 key that the key policy refuses (HJ 212-2025 §6.4.3 f/g: no fixed or patterned keys).

    The message names the station and the rules the key breaks; the key itself is never in it."""

    def __init__(self, mn: str, problems: list[str]) -> None:
        super().__init__(f"SM4 key for station {mn!r} refused: {'; '.join(problems)}")
        self.mn = mn
        self.problems = problems


class KeyStoreUnavailable(StoreError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"station-key master key {path}: {reason}")
        self.path = path
        self.reason = reason


class KeyNotFound(StoreError):
    def __init__(self, mn: str, key_id: str | None) -> None:
        what = f"key {key_id!r}" if key_id else "a usable key"
        super().__init__(f"station {mn!r} has no {what}")
        self.mn = mn
        self.key_id = key_id


class CommandRefused(StoreError):
    def __init__(self, mn: str, kind: str, reason: str) -> None:
        super().__init__(f"command {kind} for station {mn!r} refused: {reason}")
        self.mn = mn
        self.kind = kind
        self.reason = reason
