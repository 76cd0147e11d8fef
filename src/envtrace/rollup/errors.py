"""Errors of ``envtrace.rollup``.

::

    RollupError
    ├── BadRange          a recomputation range that is empty or reversed (names both instants)
    └── BadOption         an option value the computation cannot use (names the option and value)

Errors of the pure standards (``envtrace.standards.StandardsError``) raised while judging one
station are caught by the job, counted and logged with the station and period; they never stop
the other stations.
"""

from __future__ import annotations


class RollupError(Exception):
    """Base of every rollup error."""


class BadRange(RollupError):
    def __init__(self, start: int, end: int) -> None:
        super().__init__(f"recompute range [{start}, {end}) is empty: the end must be after the start")
        self.start = start
        self.end = end


class BadOption(RollupError):
    def __init__(self, name: str, value: object, allowed: str) -> None:
        super().__init__(f"rollup option {name} = {value!r}: {allowed}")
        self.name = name
        self.value = value
        self.allowed = allowed
