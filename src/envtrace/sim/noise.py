"""Counter-based randomness: every random number is a pure function of (stream, index).

The simulator's physics is written as functions of time, not as step-by-step state machines, so that

- any station's value at any instant can be recomputed (a copying station reads its neighbour's
  values for the same instant; a day's mean can be known before the day is over);
- a run is reproducible from ``--seed`` whatever order the asyncio loop happens to wake stations in;
- the same station simulated with and without an injected pattern differs only where the pattern
  acts, which is what the tests assert.

Randomness comes from the SplitMix64 finaliser (Steele, Lea & Flood, "Fast splittable pseudorandom
number generators", OOPSLA 2014) applied to ``stream_key + index * golden``. Smooth processes are
value noise: independent standard normal values at knots ``k * scale`` joined by a quintic
smoothstep and renormalised so that the variance is 1 everywhere between knots.
"""

from __future__ import annotations

import hashlib
import math

__all__ = ["Smooth", "Stream", "stream_key"]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_TWO_PI = 2.0 * math.pi
_INV_2_53 = 1.0 / (1 << 53)


def _mix(x: int) -> int:
    """SplitMix64 finaliser: a bijection of 64-bit integers with good avalanche."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def stream_key(*parts: object) -> int:
    """A 64-bit key for a named stream, stable across processes and Python versions."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


class Stream:
    """Independent random numbers addressed by an integer index."""

    __slots__ = ("key",)

    def __init__(self, *name: object) -> None:
        self.key = stream_key(*name)

    def bits(self, i: int) -> int:
        """64 random bits for index ``i`` (any integer, negative included)."""
        return _mix((self.key + (i & _MASK) * _GOLDEN) & _MASK)

    def uniform(self, i: int) -> float:
        """A uniform number in [0, 1)."""
        return (self.bits(i) >> 11) * _INV_2_53

    def between(self, i: int, low: float, high: float) -> float:
        return low + (high - low) * self.uniform(i)

    def normal(self, i: int) -> float:
        """A standard normal number (Box-Muller on two derived uniforms)."""
        b = self.bits(i)
        u1 = ((b >> 11) + 1) * _INV_2_53  # (0, 1]: log is finite
        u2 = (_mix(b ^ _GOLDEN) >> 11) * _INV_2_53
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)

    def chance(self, i: int, p: float) -> bool:
        return self.uniform(i) < p


class Smooth:
    """A smooth random process of unit variance with correlation time about ``scale`` seconds.

    ``Smooth(scale, *name)(t)`` is the same number for the same name, scale and ``t`` in every run.
    Consecutive calls at nearby times reuse the two knots they share (one-entry cache).
    """

    __slots__ = ("_a", "_b", "_k", "_stream", "scale")

    def __init__(self, scale: float, *name: object) -> None:
        if scale <= 0:
            raise ValueError(f"Smooth scale must be positive, not {scale}")
        self.scale = float(scale)
        self._stream = Stream("smooth", scale, *name)
        self._k: int | None = None
        self._a = 0.0
        self._b = 0.0

    def __call__(self, t: float) -> float:
        x = t / self.scale
        k = math.floor(x)
        if k != self._k:
            if self._k is not None and k == self._k + 1:
                self._a = self._b
            else:
                self._a = self._stream.normal(k)
            self._b = self._stream.normal(k + 1)
            self._k = k
        f = x - k
        w1 = f * f * f * (f * (f * 6.0 - 15.0) + 10.0)
        w0 = 1.0 - w1
        return (w0 * self._a + w1 * self._b) / math.sqrt(w0 * w0 + w1 * w1)
