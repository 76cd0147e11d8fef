"""Encoding: header fields and CP pairs to conforming HJ 212 frames, split when too long.

A frame is ``##`` + the data segment's length in UTF-8 bytes (4 digits) + the segment + its HJ 212 CRC
(4 upper-case hex digits) + CR LF (HJ 212-2017 §6.3, table 2). Header fields are written in the
standard's order (QN, ST, CN, PW, MN, Flag, PNUM, PNO, RF; HJ 212-2025 figure 4 places RF after PNO).
CP pairs are grouped into items: consecutive ``<code>-<suffix>`` keys of one factor code are joined
with ``,``, everything else with ``;`` (``DataTime=...;w01001-Rtd=7.1,w01001-Flag=N``), as in the
standard's appendix C. A pre-formatted CP string can be given instead (``format_cp`` builds one from
explicit items) for the few commands whose fields share one item (``SKCreateTime=...,NewSK=...``).

Splitting (HJ 212-2017 table 3; HJ 212-2025 §8.1.2: a data segment over 1024 characters shall be
split): every sub-packet repeats the leading plain fields (``DataTime``), carries ``PNUM``/``PNO``
and the Flag split bit, and, as in the standard's 2061 example, the QN of part *i* is the first QN
plus *i - 1* milliseconds.

The deviation modes (``length_mode``, ``crc_mode``, ``crlf=False``) exist for the simulator's faulty
stations and for tests; the defaults produce conforming frames. Bad arguments raise ``ValueError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal

from envtrace.hj212.crc import format_crc, hj212_crc, modbus_crc
from envtrace.hj212.flag import SPLIT_BIT, parse_flag
from envtrace.hj212.packet import HEADER_KEYS, split_key
from envtrace.hj212.sm4 import check_key, encrypt_region, to_text_form
from envtrace.hj212.times import next_qn

SEGMENT_MAX = 1024  # bytes of the data segment (HJ 212-2017 table 2)
CP_MAX = 950  # characters of the CP region (HJ 212-2017 table 3)

LengthMode = Literal["bytes", "characters", "plus-6"]
CrcMode = Literal["hj212", "modbus", "modbus-byteswapped"]
CipherForm = Literal["raw", "text"]
CpValue = str | int | float | Decimal
HeaderValue = str | int
CpInput = Mapping[str, CpValue] | Sequence[tuple[str, CpValue]] | str
Pair = tuple[str, str]

_FORBIDDEN_KEY = frozenset(";,=& ")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # not text (the decoder's SM4 check relies on it)
_FORBIDDEN_VALUE = (";", ",", "&&", "\r", "\n")
_REQUIRED = ("ST", "CN", "PW", "MN")


def format_value(value: CpValue) -> str:
    """A CP value as text: strings unchanged, numbers in plain positional notation (no exponent)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise ValueError(f"a CP value cannot be a bool ({value!r}): give 0/1 or a string")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a CP value must be finite, got {value!r}")
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"a CP value must be finite, got {value!r}")
        return format(value, "f")
    raise ValueError(f"unsupported CP value {value!r} of type {type(value).__name__}")


def _pairs(cp: Mapping[str, CpValue] | Sequence[tuple[str, CpValue]]) -> list[Pair]:
    items = cp.items() if isinstance(cp, Mapping) else cp
    out = []
    for key, value in items:
        if not key or _FORBIDDEN_KEY.intersection(key) or _CONTROL.search(key):
            raise ValueError(f"CP key {key!r} is empty or contains a separator, space or control")
        text = format_value(value)
        if any(bad in text for bad in _FORBIDDEN_VALUE) or _CONTROL.search(text):
            raise ValueError(f"CP value {text!r} of {key} contains ';', ',', '&&' or a control character")
        out.append((key, text))
    return out


def group_pairs(pairs: Sequence[Pair]) -> list[list[Pair]]:
    """Group consecutive pairs of one factor code into an item; other pairs stand alone."""
    groups: list[list[Pair]] = []
    last_code: str | None = None
    for key, value in pairs:
        parts = split_key(key)
        code = parts[0] if parts is not None else None
        if code is not None and code == last_code:
            groups[-1].append((key, value))
        else:
            groups.append([(key, value)])
        last_code = code
    return groups


def format_cp(items: Sequence[Sequence[Pair]]) -> str:
    """CP text from explicit items: fields of an item joined by ``,``, items by ``;``."""
    return ";".join(",".join(f"{k}={v}" for k, v in item) for item in items)


def format_header(header: Mapping[str, HeaderValue]) -> str:
    """Header fields in the standard's order, each followed by ``;`` (validated)."""
    unknown = set(header) - set(HEADER_KEYS)
    if unknown:
        raise ValueError(f"unknown header field(s) {sorted(unknown)}; allowed: {HEADER_KEYS}")
    missing = [k for k in _REQUIRED if k not in header]
    if missing:
        raise ValueError(f"header field(s) {missing} are required")
    out = []
    for key in HEADER_KEYS:
        if key not in header:
            continue
        value = header[key]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"header field {key} must be a string or an int, got {value!r}")
        text = str(value)
        if any(c in text for c in ";=&") or _CONTROL.search(text):
            raise ValueError(f"header field {key}={text!r} contains ';', '=', '&' or a control")
        out.append(f"{key}={text};")
    cn = str(header["CN"])
    if not (len(cn) == 4 and cn.isascii() and cn.isdigit()):
        raise ValueError(f"CN {cn!r} is not 4 digits")
    if "Flag" in header and parse_flag(str(header["Flag"])) is None:
        raise ValueError(f"Flag {header['Flag']!r} is not an integer 0-255")
    return "".join(out)


def _cp_text(cp: CpInput) -> str:
    if isinstance(cp, str):
        if "&&" in cp or _CONTROL.search(cp):
            raise ValueError("a pre-formatted CP must not contain '&&' or control characters")
        return cp
    return format_cp(group_pairs(_pairs(cp)))


def encode(
    header: Mapping[str, HeaderValue],
    cp: CpInput = (),
    *,
    length_mode: LengthMode = "bytes",
    crc_mode: CrcMode = "hj212",
    crlf: bool = True,
    key: bytes | None = None,
    cipher_form: CipherForm = "raw",
    max_segment: int = SEGMENT_MAX,
) -> bytes:
    """One frame for ``header`` and ``cp``.

    ``key`` encrypts the CP region with SM4 (HJ 212-2025 §6.4) after the CRC is computed over the
    plaintext; ``cipher_form`` chooses the raw cipher bytes (length field = plaintext length) or the
    ``{0xNN,...}`` text form (length field = the text's length). A segment over ``max_segment`` bytes
    or a CP over 950 characters raises ``ValueError``: use ``encode_split``.
    """
    head = format_header(header)
    cp_text = _cp_text(cp)
    if len(cp_text) > CP_MAX:
        raise ValueError(f"the CP has {len(cp_text)} characters, more than {CP_MAX}: use encode_split")
    region = cp_text.encode("utf-8")
    prefix = (head + "CP=&&").encode("utf-8")
    plain = prefix + region + b"&&"
    if len(plain) > max_segment:
        raise ValueError(
            f"the data segment has {len(plain)} bytes, more than {max_segment}: use encode_split"
        )
    crc = hj212_crc(plain)
    if crc_mode == "modbus":
        crc = modbus_crc(plain)
    elif crc_mode == "modbus-byteswapped":
        crc = modbus_crc(plain)
        crc = (crc >> 8) | ((crc & 0xFF) << 8)
    segment = plain
    if key is not None:
        cipher = encrypt_region(region, check_key(key))
        wire = to_text_form(cipher) if cipher_form == "text" else cipher
        segment = prefix + wire + b"&&"
    text_form = key is not None and cipher_form == "text"
    length = len(segment) if text_form else len(plain)
    if length_mode == "characters" and not text_form:
        length = len(plain.decode("utf-8"))
    elif length_mode == "plus-6":
        length += 6
    if length > 9999:
        raise ValueError(f"length {length} does not fit the 4-digit length field")
    return b"##%04d" % length + segment + format_crc(crc).encode("ascii") + (b"\r\n" if crlf else b"")


def encode_split(
    header: Mapping[str, HeaderValue],
    cp: Mapping[str, CpValue] | Sequence[tuple[str, CpValue]] = (),
    *,
    key: bytes | None = None,
    cipher_form: CipherForm = "raw",
    max_segment: int = SEGMENT_MAX,
    same_qn: bool = False,
) -> list[bytes]:
    """Frames for ``header`` and ``cp``: one when it fits, else sub-packets with PNUM/PNO.

    Leading plain fields (``DataTime``...) are repeated in every part; factor items are never cut.
    Parts get the Flag split bit; their QN increases by 1 ms per part unless ``same_qn``.
    """
    pairs = _pairs(cp)
    groups = group_pairs(pairs)
    head = format_header(header)
    if _fits(head, groups, max_segment):
        return [encode(header, pairs, key=key, cipher_form=cipher_form, max_segment=max_segment)]
    lead: list[list[Pair]] = []
    while len(lead) < len(groups) and all(split_key(k) is None for k, _ in groups[len(lead)]):
        lead.append(groups[len(lead)])
    rest = groups[len(lead) :]
    probe = format_header({**header, "PNUM": "9999", "PNO": "9999"})
    parts: list[list[list[Pair]]] = []
    current: list[list[Pair]] = []
    for group in rest:
        if _fits(probe, lead + current + [group], max_segment):
            current.append(group)
            continue
        if not current:
            raise ValueError(f"item {format_cp([group])[:40]!r}... alone does not fit one packet")
        parts.append(current)
        current = [group]
    if not current:
        raise ValueError("the leading fields alone do not fit one packet")
    parts.append(current)
    flag = (parse_flag(str(header.get("Flag", "0"))) or 0) | SPLIT_BIT
    qn = str(header["QN"]) if "QN" in header else None
    frames = []
    for number, part in enumerate(parts, start=1):
        sub: dict[str, HeaderValue] = {**header, "Flag": flag, "PNUM": len(parts), "PNO": number}
        if qn is not None and not same_qn:
            sub["QN"] = next_qn(qn, number - 1)
        text = format_cp(lead + part)
        frames.append(encode(sub, text, key=key, cipher_form=cipher_form, max_segment=max_segment))
    return frames


def _fits(head: str, groups: Sequence[Sequence[Pair]], max_segment: int) -> bool:
    cp_text = format_cp(groups)
    size = len(head.encode("utf-8")) + 5 + len(cp_text.encode("utf-8")) + 2
    return size <= max_segment and len(cp_text) <= CP_MAX
