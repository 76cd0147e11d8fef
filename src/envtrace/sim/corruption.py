"""Protocol faults a field logger commits on the wire, applied to frames the codec encoded.

Two families, chosen per frame with probability ``--faults RATE``:

Frames that must be **rejected** (the station resends the good frame after its timeout):

=============  ===============================================================  ================
kind           what is written                                                  decoder error
=============  ===============================================================  ================
``crc``        the CRC field replaced by another value of no known CRC family     ``crc``
``modbus_crc`` the CRC-16/MODBUS of the segment instead of the HJ 212 CRC         ``crc`` (modbus)
``length``     the length field off by a few bytes (never by +6, a tolerated      ``length``
               deviation)
``syntax``     the header broken (``;`` before ``CP`` removed, a field without    ``syntax``
               ``=``, or a field repeated), length and CRC recomputed so that
               only the grammar fails
=============  ===============================================================  ================

Writes that must be **accepted** (the frame is intact; the receiver's framing is what is tested):

=============  ================================================================================
``garbage``    a few random bytes (no ``#``, no CR LF) written before the frame
``split``      the frame written in 2-4 pieces with short pauses
``concat``     the frame written in the same ``write`` as the next one (no pause between them)
=============  ================================================================================

Only the data segment's CRC and length are computed here, with the codec's own routines; the frames
themselves always come from :mod:`envtrace.hj212`.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from envtrace.hj212 import crc_variant, format_crc, hj212_crc, modbus_crc

__all__ = [
    "ACCEPTED_FAULTS",
    "FAULT_KINDS",
    "REJECTED_FAULTS",
    "Corruption",
    "corrupt",
    "expected_error",
]

REJECTED_FAULTS = ("crc", "modbus_crc", "length", "syntax")
ACCEPTED_FAULTS = ("garbage", "split", "concat")
FAULT_KINDS = REJECTED_FAULTS + ACCEPTED_FAULTS


@dataclass(frozen=True, slots=True)
class Corruption:
    """What to write instead of a frame: ``pieces`` in order (several for ``split``)."""

    kind: str
    pieces: tuple[bytes, ...]

    @property
    def rejected(self) -> bool:
        return self.kind in REJECTED_FAULTS


def expected_error(kind: str) -> str | None:
    """The codec error kind (``Decoded.error.kind``) a corrupted frame must produce, or None."""
    return {"crc": "crc", "modbus_crc": "crc", "length": "length", "syntax": "syntax"}.get(kind)


def _split_frame(frame: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """``##`` + length, segment, CRC, CR LF of a frame the codec wrote."""
    return frame[:6], frame[6:-6], frame[-6:-4], frame[-2:]


def corrupt(frame: bytes, kind: str, rng: random.Random, *, plain_segment: bytes | None = None) -> Corruption:
    """The bytes to write for ``frame`` with fault ``kind``.

    ``plain_segment`` is the plaintext data segment when the frame's CP is SM4-encrypted (the CRC
    covers the plaintext; HJ 212-2025 appendix A.2); by default the frame's own segment.
    """
    head, seg, _, tail = _split_frame(frame)
    plain = seg if plain_segment is None else plain_segment
    if kind == "crc":
        good = hj212_crc(plain)
        while True:
            value = rng.randrange(0x10000)
            if value != good and crc_variant(plain, value) is None:
                break
        return Corruption(kind, (head + seg + format_crc(value).encode() + tail,))
    if kind == "modbus_crc":
        value = modbus_crc(plain)
        if value == hj212_crc(plain):  # one segment in 65536: use the byte-swapped form
            value = ((value >> 8) | (value << 8)) & 0xFFFF
        return Corruption(kind, (head + seg + format_crc(value).encode() + tail,))
    if kind == "length":
        declared = int(head[2:6])
        delta = rng.choice((-3, -2, -1, 1, 2, 3, 5, 7))
        wrong = min(9999, max(0, declared + delta))
        return Corruption(kind, (b"##%04d" % wrong + seg + format_crc(hj212_crc(plain)).encode() + tail,))
    if kind == "syntax":
        return Corruption(kind, (_broken_grammar(head, seg, plain, tail, rng),))
    if kind == "garbage":
        junk = bytes(rng.choice(_JUNK) for _ in range(rng.randint(3, 40)))
        return Corruption(kind, (junk + frame,))
    if kind == "split":
        n = rng.randint(2, 4)
        cuts = sorted(rng.sample(range(1, len(frame)), min(n - 1, len(frame) - 1)))
        bounds = [0, *cuts, len(frame)]
        return Corruption(kind, tuple(frame[a:b] for a, b in itertools.pairwise(bounds)))
    if kind == "concat":
        return Corruption(kind, (frame,))
    raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")


_JUNK = bytes(b for b in range(0x20, 0x7F) if b not in b"#") + b"\x00\x01\x7f\xff\xfe"


def _broken_grammar(head: bytes, seg: bytes, plain: bytes, tail: bytes, rng: random.Random) -> bytes:
    """The frame with a header grammar fault; header is clear text even when the CP is encrypted."""
    cp_at = seg.find(b"CP=&&")
    header = seg[:cp_at]
    choices = []
    if header.endswith(b";"):
        choices.append(header[:-1])  # no ';' between the header and CP
    st = header.find(b"ST=")
    if st >= 0:
        choices.append(header[:st] + b"ST" + header[st + 3 :])  # a field without '='
    cn = header.find(b"CN=")
    if cn >= 0:
        end = header.find(b";", cn)
        choices.append(header[: end + 1] + header[cn : end + 1] + header[end + 1 :])  # CN twice
    broken = rng.choice(choices)
    new_seg = broken + seg[cp_at:]
    new_plain = broken + plain[cp_at:]
    declared = int(head[2:6]) + len(broken) - len(header)  # plaintext or text-form length, as sent
    return b"##%04d" % declared + new_seg + format_crc(hj212_crc(new_plain)).encode() + tail
