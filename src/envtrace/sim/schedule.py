"""Episodes that happen now and then (outages, maintenance, analyser faults), as pure functions of time.

Time is cut into blocks of fixed length; each block holds at most one episode, placed inside the
block, with a probability, a start and a length drawn from counter-based randomness
(:mod:`envtrace.sim.noise`). So "is there an episode at t?" looks at one block, and "when did the
last one end?" at a few, whatever the order in which times are asked about.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from envtrace.sim.noise import Stream

__all__ = ["Episode", "EpisodeSchedule", "daily_window"]


@dataclass(frozen=True, slots=True)
class Episode:
    start: float
    end: float
    draw: float
    """A uniform number in [0, 1) attached to the episode (which analyser, how strong ...)."""

    def contains(self, t: float) -> bool:
        return self.start <= t < self.end


class EpisodeSchedule:
    """At most one episode per ``block`` seconds, with probability ``probability``."""

    __slots__ = ("_stream", "block", "max_len", "min_len", "probability")

    def __init__(
        self, *name: object, block: float, probability: float, min_len: float, max_len: float
    ) -> None:
        if not 0 < min_len <= max_len < block:
            raise ValueError(f"need 0 < min_len <= max_len < block, got {min_len}, {max_len}, {block}")
        self._stream = Stream("episodes", *name)
        self.block = block
        self.probability = probability
        self.min_len = min_len
        self.max_len = max_len

    def in_block(self, b: int) -> Episode | None:
        s = self._stream
        if not s.chance(4 * b, self.probability):
            return None
        length = s.between(4 * b + 1, self.min_len, self.max_len)
        start = b * self.block + s.uniform(4 * b + 2) * (self.block - length)
        return Episode(start, start + length, s.uniform(4 * b + 3))

    def at(self, t: float) -> Episode | None:
        """The episode containing ``t``, if any."""
        ep = self.in_block(math.floor(t / self.block))
        return ep if ep is not None and ep.contains(t) else None

    def between(self, t0: float, t1: float) -> list[Episode]:
        """Episodes overlapping [t0, t1), in time order."""
        out = []
        for b in range(math.floor(t0 / self.block), math.floor(t1 / self.block) + 1):
            ep = self.in_block(b)
            if ep is not None and ep.end > t0 and ep.start < t1:
                out.append(ep)
        return out


def daily_window(t: float, utc_offset_min: int, start_hour: float, minutes: float) -> float | None:
    """Progress in [0, 1) through a window that opens every day at local ``start_hour``, else None."""
    local = (t + utc_offset_min * 60) % 86400.0
    into = (local - start_hour * 3600.0) % 86400.0
    length = minutes * 60.0
    return into / length if into < length else None
