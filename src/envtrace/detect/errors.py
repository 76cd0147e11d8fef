"""Errors raised by :mod:`envtrace.detect`.

::

    DetectError                      every error of this package
    ├── InvalidParameter (ValueError) a detector or model parameter out of range; names the value
    ├── SeriesError (ValueError)      a series that cannot be put on a regular time grid
    └── StateError                    an incremental state that cannot be restored or extended
"""

from __future__ import annotations


class DetectError(Exception):
    """Base class of every error raised by :mod:`envtrace.detect`."""


class InvalidParameter(DetectError, ValueError):
    """A parameter of a detector is out of its valid range.

    The message names the parameter and the value that was given.
    """

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        super().__init__(f"{name}={value!r} is invalid: expected {expected}")


class SeriesError(DetectError, ValueError):
    """A station's data cannot be placed on a regular time grid."""

    def __init__(self, station: str, problem: str) -> None:
        self.station = station
        self.problem = problem
        super().__init__(f"station {station!r}: {problem}")


class StateError(DetectError):
    """An incremental detector state is unusable (corrupt bytes, wrong station, time going back)."""

    def __init__(self, station: str, problem: str) -> None:
        self.station = station
        self.problem = problem
        super().__init__(f"station {station!r}: {problem}")
