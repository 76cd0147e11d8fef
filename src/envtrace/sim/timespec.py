"""Durations and instants as the command line writes them: ``6h``, ``+30m``, ISO 8601.

An ISO 8601 time without a UTC offset is station local time (UTC+08:00 by default), as HJ 212
``DataTime`` is.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["TimeSpecError", "parse_duration", "parse_instant"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


class TimeSpecError(ValueError):
    """A duration or a time that cannot be read (the message quotes it)."""


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``6h``, ``3d``, ``2w`` -> seconds.

    >>> parse_duration("6h")
    21600.0
    """
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise TimeSpecError(f"duration {text!r} is not a number with a unit s, m, h, d or w (e.g. 6h)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def is_duration(text: str) -> bool:
    return _DURATION.fullmatch(text.strip()) is not None


def parse_instant(text: str, *, origin: float, utc_offset_min: int = 480) -> float:
    """A time: an offset from ``origin`` (``+2h``, ``90m``, ``0``) or an ISO 8601 instant -> Unix s.

    >>> parse_instant("+1h", origin=0.0)
    3600.0
    >>> parse_instant("1970-01-01T08:00:00", origin=0.0)
    0.0
    """
    s = text.strip()
    if s in ("", "0", "+0"):
        return origin
    if is_duration(s.lstrip("+")):
        return origin + parse_duration(s.lstrip("+"))
    try:
        moment = datetime.fromisoformat(s)
    except ValueError:
        raise TimeSpecError(f"time {text!r} is neither an offset (+2h) nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone(timedelta(minutes=utc_offset_min)))
    return moment.timestamp()
