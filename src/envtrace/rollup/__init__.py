"""envtrace.rollup: validity-judged hourly and daily values, AQI, exceedances and disagreements.

Arriving readings are rolled up incrementally (a cursor on raw frames, a queue of touched periods)
into hourly and daily values per station x parameter, each judged by the national rules of
``envtrace.standards`` in force at the data time, with the reason when invalid; corrected values,
emission rates, flow-weighted means and AQI are recomputed from the primary data, never taken from
the station; where the station reported its own figures, disagreements are recorded beside them;
valid periods above the applicable limit become exceedance records. Nothing is edited in place: a
recomputation that changes a result appends a new version. Storage and queries:
``envtrace.store.hourly``; how and why: ``docs/rollup.md``.
"""

from envtrace.rollup.errors import BadOption, BadRange, RollupError
from envtrace.rollup.jobs import jobs
from envtrace.rollup.options import RollupOptions, Tolerance
from envtrace.rollup.rules import RULES
from envtrace.rollup.run import recompute, run

__all__ = [
    "RULES",
    "BadOption",
    "BadRange",
    "RollupError",
    "RollupOptions",
    "Tolerance",
    "jobs",
    "recompute",
    "run",
]
