"""HJ 212 time fields: ``YYYYMMDDhhmmss`` (N14) and the 17-digit ``QN`` / millisecond form.

HJ 212-2017 table 4: SystemTime, RestartTime, BeginTime, EndTime, DataTime and ``xxxxxx-SampleTime``
are ``YYYYMMDDhhmmss``; QN is ``YYYYMMDDhhmmsszzz`` (table 3). Times are the station's local wall-clock
time without a zone: the values returned here are naive ``datetime`` objects, and converting them to
UTC is the caller's business (``docs/architecture.md``, Time). Devices often append milliseconds to
DataTime (17 digits); that is accepted here and reported by the decoder as a deviation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

TIME_KEYS = ("DataTime", "BeginTime", "EndTime", "SystemTime", "RestartTime")


def parse_time(text: str | None) -> datetime | None:
    """``YYYYMMDDhhmmss`` or ``YYYYMMDDhhmmsszzz`` as a naive datetime; ``None`` if malformed.

    >>> parse_time("20160801085857")
    datetime.datetime(2016, 8, 1, 8, 58, 57)
    >>> parse_time("20160824003817250")
    datetime.datetime(2016, 8, 24, 0, 38, 17, 250000)
    >>> parse_time("20161301000000") is None
    True
    """
    if text is None or len(text) not in (14, 17) or not (text.isascii() and text.isdigit()):
        return None
    try:
        return datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
            int(text[14:17] or "0") * 1000,
        )
    except ValueError:
        return None


@lru_cache(maxsize=4096)  # data times repeat across stations and packets: keep the hot path cheap
def time_problem(text: str) -> str | None:
    """What is wrong with an N14 time value: ``None``, "17-digits", "format" or "invalid-date"."""
    if not (text.isascii() and text.isdigit()) or len(text) not in (14, 17):
        return "format"
    if parse_time(text) is None:
        return "invalid-date"
    return "17-digits" if len(text) == 17 else None


def format_time(moment: datetime) -> str:
    """A datetime as the 14-digit ``YYYYMMDDhhmmss`` the standard uses for data times."""
    return moment.strftime("%Y%m%d%H%M%S")


def format_qn(moment: datetime) -> str:
    """A datetime as a 17-digit QN ``YYYYMMDDhhmmsszzz`` (milliseconds truncated)."""
    return moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"


def next_qn(qn: str, steps: int = 1) -> str:
    """The QN ``steps`` milliseconds after ``qn`` (as the standard's split example numbers parts).

    A QN that is not a 17-digit timestamp is returned unchanged.
    """
    moment = parse_time(qn) if len(qn) == 17 else None
    if moment is None:
        return qn
    return format_qn(moment + timedelta(milliseconds=steps))
