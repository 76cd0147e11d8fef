"""The ``Packet`` value: an HJ 212 data segment as the packet's own strings, plus derived views.

Nothing is normalised on the way in: header fields and CP pairs keep the exact text received (the raw
frame is the evidence; these are its reading). Derived views (edition, flag bits, data time,
per-factor items) are computed on access.

CP grammar (HJ 212-2017 §6.3.3 and table 4): ``;`` separates items, ``,`` separates the fields of
one item, ``=`` separates a key from its value. Item keys are ``<code>-<suffix>`` (``w01018-Rtd``);
keys without ``-`` are plain fields (``DataTime``, ``BeginTime``, ``QnRtn``, vendor keys). Unknown
suffixes (HJ 212-2025 ``xxxxxx-Name`` extensions, vendor fields) are kept, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from envtrace.hj212.flag import ACK_BIT, SPLIT_BIT, Edition, edition_of_flag, parse_flag
from envtrace.hj212.times import parse_time

HEADER_KEYS = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO", "RF")  # standard order

# Item suffixes named by HJ 212-2017 table 4 and the HJ 212-2025 commands (§1.4 of the 2025 notes).
KNOWN_SUFFIXES = frozenset(
    {
        "Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "Flag", "EFlag",
        "SampleTime", "CompleteTime", "SampleType", "Info", "SN", "Data", "DayData", "NightData",
        "SampleRd", "StandardValue", "ResultType", "RS", "RT",
    }
)  # fmt: skip

Pairs = tuple[tuple[str, str], ...]


def split_key(key: str) -> tuple[str, str] | None:
    """``"w01018-Rtd"`` -> ``("w01018", "Rtd")``; ``None`` for a plain field (no code before ``-``)."""
    code, sep, suffix = key.strip().partition("-")
    if not sep or not code:
        return None
    return code, suffix


@dataclass(frozen=True, slots=True)
class Packet:
    """One parsed HJ 212 data segment.

    Header fields are the packet's own strings (``None`` when absent). ``cp`` keeps every CP pair in
    order, repeated keys included; ``cp_map`` is the dict view (a repeated key keeps its last value,
    as a reader scanning the packet left to right would see it).
    """

    st: str
    cn: str
    pw: str
    mn: str
    cp: Pairs = ()
    qn: str | None = None
    flag: str | None = None
    pnum: str | None = None
    pno: str | None = None
    rf: str | None = None
    extra_header: Pairs = ()  # header fields the standard does not define, in order
    cp_map: Mapping[str, str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cp_map", MappingProxyType(dict(self.cp)))

    # --- header views -------------------------------------------------------------------------

    @property
    def header(self) -> dict[str, str]:
        """Header fields present in the packet, standard ones in standard order, then the others."""
        values = (self.qn, self.st, self.cn, self.pw, self.mn, self.flag, self.pnum, self.pno, self.rf)
        out = {k: v for k, v in zip(HEADER_KEYS, values, strict=True) if v is not None}
        out.update(self.extra_header)
        return out

    @property
    def flag_value(self) -> int | None:
        """Flag as an integer 0-255; ``None`` when absent."""
        return parse_flag(self.flag)

    @property
    def edition(self) -> Edition | None:
        """Edition named by the Flag's version bits; a packet without Flag is 2005-style."""
        value = self.flag_value
        if self.flag is not None and value is None:
            return None
        return edition_of_flag(value)

    @property
    def ack_required(self) -> bool:
        """Flag bit 0: the receiver shall answer (2017 letter A, 2025 letter D)."""
        return bool((self.flag_value or 0) & ACK_BIT)

    @property
    def split(self) -> bool:
        """Flag bit 1: a sub-packet carrying PNUM/PNO (2017 letter D, 2025 letter A)."""
        return bool((self.flag_value or 0) & SPLIT_BIT)

    @property
    def cn_code(self) -> int:
        """CN as an integer (the decoder guarantees 4 ASCII digits)."""
        return int(self.cn)

    @property
    def resent(self) -> bool:
        """HJ 212-2025 ``RF=1``: a packet resent (补传) after a failed upload."""
        return self.rf == "1"

    # --- CP views -----------------------------------------------------------------------------

    @property
    def data_time(self) -> datetime | None:
        """``DataTime`` as a naive local datetime (14 or 17 digits); ``None`` if absent or invalid."""
        return parse_time(self.cp_map.get("DataTime"))

    @property
    def time_range(self) -> tuple[datetime | None, datetime | None]:
        """(``BeginTime``, ``EndTime``) of a history request, whichever separator the packet used."""
        return parse_time(self.cp_map.get("BeginTime")), parse_time(self.cp_map.get("EndTime"))

    @property
    def fields(self) -> dict[str, str]:
        """CP pairs that are not factor items (``DataTime``, ``QnRtn``, ``PolId``, vendor keys)."""
        return {k: v for k, v in self.cp if split_key(k) is None}

    @property
    def items(self) -> dict[str, dict[str, str]]:
        """Per-factor values: ``{"w01018": {"Rtd": "2.2", "Flag": "N"}, ...}`` in packet order.

        Codes are as received (2005 codes stay 2005 codes: see ``factors.code_2017``); every suffix
        is kept, known or not.
        """
        out: dict[str, dict[str, str]] = {}
        for key, value in self.cp:
            parts = split_key(key)
            if parts is not None:
                out.setdefault(parts[0], {})[parts[1]] = value
        return out
