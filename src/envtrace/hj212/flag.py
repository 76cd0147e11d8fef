"""The header ``Flag``: editions and the answer / split bits.

HJ 212-2017 table 3 note: ``Flag`` is an integer 0-255, bits ``V5 V4 V3 V2 V1 V0 D A``; bit 0 (A)
asks the receiver to answer, bit 1 (D) says the packet is split and carries PNUM/PNO, bits 2-7 are the
protocol version: ``000000`` HJ/T 212-2005, ``000001`` HJ 212-2017. HJ 212-2025 (§6.3.3, p.9 as
transcribed) adds version ``000010`` and renames the letters (A = split, D = answer) without moving
the bits; this module decodes by **position** only. A packet without ``Flag`` is 2005-style.
"""

from __future__ import annotations

from typing import Literal

Edition = Literal["2005", "2017", "2025"]

ACK_BIT = 0x01  # bit 0: the receiver shall answer (9011/9012 for requests, 9014 for data)
SPLIT_BIT = 0x02  # bit 1: split packet, PNUM/PNO present

EDITION_VERSION: dict[Edition, int] = {"2005": 0, "2017": 1, "2025": 2}
_VERSION_EDITION: dict[int, Edition] = {v: e for e, v in EDITION_VERSION.items()}


def edition_of_flag(flag: int | None) -> Edition | None:
    """The edition named by a Flag's version bits; ``None`` flag (absent) is 2005-style.

    Returns ``None`` for version bits no edition defines (3-63).
    """
    if flag is None:
        return "2005"
    return _VERSION_EDITION.get(flag >> 2)


def make_flag(edition: Edition, *, ack: bool = False, split: bool = False) -> int:
    """The Flag value for ``edition`` with the answer-required and split bits as given."""
    if edition not in EDITION_VERSION:
        raise ValueError(f"unknown HJ 212 edition {edition!r}: expected 2005, 2017 or 2025")
    return (EDITION_VERSION[edition] << 2) | (ACK_BIT if ack else 0) | (SPLIT_BIT if split else 0)


def parse_flag(text: str | None) -> int | None:
    """The integer value of a Flag field (1-3 ASCII digits, 0-255), ``None`` when absent or invalid."""
    if text is None or not (0 < len(text) <= 3 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= 255 else None
