"""Errors raised by :mod:`envtrace.standards`.

Every error carries the offending input, so a caller can show what was wrong without re-deriving it::

    StandardsError (ValueError)
    ├── UnknownEdition        an edition name that no rule table knows
    ├── UnknownItem           a pollutant, averaging, flag, system or rule name that no table knows
    ├── InvalidInput          arrays of the wrong shape or kind, times that are not hourly, bad parameters
    ├── TableError            a package data table that is malformed (a packaging bug, never user data)
    └── AmbiguousLimit        two limit rows of the same precedence apply to the same outlet and time

The package is pure: nothing here wraps an I/O error, because nothing here does I/O beyond reading its
own tables through importlib.resources.
"""

from __future__ import annotations

from collections.abc import Sequence


class StandardsError(ValueError):
    """Base class: a rule could not be applied to the input given."""


class UnknownEdition(StandardsError):
    def __init__(self, family: str, edition: str, known: Sequence[str]) -> None:
        self.family = family
        self.edition = edition
        self.known = tuple(known)
        super().__init__(f"unknown {family} edition {edition!r}; known: {', '.join(self.known)}")


class UnknownItem(StandardsError):
    def __init__(self, kind: str, value: str, known: Sequence[str]) -> None:
        self.kind = kind
        self.value = value
        self.known = tuple(known)
        super().__init__(f"unknown {kind} {value!r}; known: {', '.join(self.known)}")


class InvalidInput(StandardsError):
    def __init__(self, message: str, value: object = None) -> None:
        self.value = value
        super().__init__(message)


class TableError(StandardsError):
    def __init__(self, table: str, message: str) -> None:
        self.table = table
        super().__init__(f"package table {table}.csv: {message}")


class AmbiguousLimit(StandardsError):
    def __init__(self, outlet: str, parameter: str, at: int, candidates: Sequence[object]) -> None:
        self.outlet = outlet
        self.parameter = parameter
        self.at = at
        self.candidates = tuple(candidates)
        super().__init__(
            f"{len(self.candidates)} limit rows of the same precedence apply to outlet {outlet!r}, "
            f"parameter {parameter!r} at {at}: {self.candidates!r}"
        )
