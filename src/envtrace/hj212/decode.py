"""Decoding one HJ 212 frame: framing, (decryption), length, CRC, grammar, in that order.

``decode`` never raises on bad input: it returns a ``Decoded`` whose ``error`` is the first fault
found (checked in the order framing, crypto, length, crc, syntax) and whose ``header``/``cp`` are filled
whenever the text can be read, even when ``ok`` is false, so that a quarantined frame can still be
attributed to its station. ``parse`` is the raising variant.

Strict and tolerant modes differ only on the known deviations of real devices:

============================================  ==============  =================================
deviation (``Decoded.deviations``)            strict          tolerant
============================================  ==============  =================================
``crc:modbus``, ``crc:modbus-byteswapped``    CrcMismatch     accepted
``length:plus-6`` (CRC + CR LF counted)       LengthMismatch  accepted
``length:3-digits`` (``##299...``)            LengthMismatch  accepted if the value fits
``length:over-1024``                          LengthMismatch  accepted
``length:counts-characters``                  accepted        accepted ("characters" in table 2)
``length:plaintext-length`` ({0x..} form)     accepted        accepted (as the 2025 PDF prints)
``framing:no-crlf``, ``framing:lf-only``      accepted        accepted (the CRC covers the data)
``header:mn-empty``                           syntax error    accepted
contested grammar points (``segment``)        accepted        accepted
``crc:arc``, any other length or CRC          error           error
============================================  ==============  =================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from envtrace.hj212.codes import must_encrypt
from envtrace.hj212.crc import CrcVariant, crc_variant, format_crc, hj212_crc, parse_crc
from envtrace.hj212.errors import (
    CrcMismatch,
    DecryptionError,
    FramingError,
    HJ212Error,
    LengthMismatch,
    PacketSyntaxError,
)
from envtrace.hj212.flag import Edition, edition_of_flag, parse_flag
from envtrace.hj212.packet import HEADER_KEYS, Packet
from envtrace.hj212.segment import parse_segment
from envtrace.hj212.sm4 import (
    BLOCK,
    WireForm,
    check_key,
    decrypt_region,
    from_text_form,
)

_HEADER_SET = frozenset(HEADER_KEYS)
SEGMENT_MAX = 1024  # bytes, HJ 212-2017 table 2 (and HJ 212-2025 §6.3.2)
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_TEXT_FORM = (b"{0x", b"{0X")
_BINARY_HINT = "; the CP holds non-text bytes (SM4 cipher without a key?)"
_FAMILY: dict[CrcVariant | None, str] = {
    None: "no known CRC family",
    "hj212": "HJ 212",
    "modbus": "CRC-16/MODBUS",
    "modbus-byteswapped": "CRC-16/MODBUS with its bytes swapped",
    "arc": "CRC-16/ARC",
}


@dataclass(frozen=True, slots=True)
class Decoded:
    """The outcome of decoding one frame.

    ``ok`` is true only for a frame that passes every check of the chosen mode; ``error`` is then
    ``None``. ``header`` and ``cp`` are the packet's own strings (``cp`` keeps the last value of a
    repeated key; ``cp_pairs`` keeps them all). ``packet`` is set whenever the grammar holds, even if
    the length or CRC failed: check ``ok`` before trusting it. ``segment`` is the plaintext data
    segment (decrypted when the CP was SM4-encrypted). ``crc`` is the value the frame carries and
    ``crc_variant`` the family that matches it ("hj212" for a conforming frame).
    """

    raw: bytes
    ok: bool
    error: HJ212Error | None
    deviations: tuple[str, ...]
    edition: Edition | None
    header: Mapping[str, str] | None = field(hash=False)
    cp: Mapping[str, str] | None = field(hash=False)
    cp_pairs: tuple[tuple[str, str], ...] | None
    packet: Packet | None
    wire_form: WireForm = "plain"
    crc: int | None = None
    crc_variant: CrcVariant | None = None
    segment: bytes | None = None


def _failed(raw: bytes, error: HJ212Error, deviations: list[str]) -> Decoded:
    return Decoded(raw, False, error, tuple(deviations), None, None, None, None, None)


def parse(raw: bytes | bytearray | memoryview, *, key: bytes | None = None, strict: bool = True) -> Packet:
    """Decode one frame and return its ``Packet``, raising the first ``HJ212Error`` found."""
    decoded = decode(raw, key=key, strict=strict)
    if decoded.error is not None:
        raise decoded.error
    if decoded.packet is None:  # pragma: no cover - decode sets an error whenever packet is None
        raise PacketSyntaxError("no packet", raw=decoded.raw)
    return decoded.packet


def decode(raw: bytes | bytearray | memoryview, *, key: bytes | None = None, strict: bool = True) -> Decoded:
    """Decode one frame: ``##`` + length + data segment + CRC (+ CR LF).

    ``raw`` is the frame as received, with or without its CR LF (a ``Frame.raw`` from the framer, or
    a line). ``key`` is the station's SM4 key when it may send HJ 212-2025 encrypted CPs (the CRC
    cannot tell whether a CP is encrypted; the station registry can). ``strict=False`` accepts the
    known device deviations listed in the module docstring, recording them.
    """
    raw = bytes(raw)
    deviations: list[str] = []
    if not raw.startswith(b"##"):
        return _failed(raw, FramingError("the frame does not start with '##'", raw=raw), deviations)
    if raw.endswith(b"\r\n"):
        body = raw[:-2]
    elif raw.endswith(b"\n"):
        body = raw[:-1]
        deviations.append("framing:lf-only")
    else:
        body = raw
        deviations.append("framing:no-crlf")
    if body[2:6].isdigit():
        digits = 4
    else:
        digits = 0
        while digits < 4 and 2 + digits < len(body) and 0x30 <= body[2 + digits] <= 0x39:
            digits += 1
    start = 2 + digits if digits >= 3 else 6  # a malformed field is taken as 4 characters wide
    got = parse_crc(body[-4:]) if len(body) >= start + 4 else None
    if got is None:
        return _failed(
            raw,
            FramingError(
                f"the frame does not end in a 4-hex-digit CRC (last bytes {bytes(body[-6:])!r})",
                raw=raw,
            ),
            deviations,
        )
    segment = body[start:-4]
    declared = int(body[2 : 2 + digits]) if digits >= 3 else None

    # --- the CP region: plain, raw SM4 cipher, or the {0xNN,...} text form --------------------
    error: HJ212Error | None = None
    wire_form: WireForm = "plain"
    plain = segment
    alt_length: int | None = None  # text form: the plaintext length, as appendix A.2 prints it
    hint = ""
    binary: bytes | None = None
    cp_at = segment.find(b"CP=&&")
    region_ok = cp_at >= 0 and segment.endswith(b"&&") and len(segment) >= cp_at + 7
    if region_ok:
        r0, r1 = cp_at + 5, len(segment) - 2
        if segment.startswith(_TEXT_FORM, r0):
            region = segment[r0:r1]
            try:
                cipher, tail, brace_len = from_text_form(region)
            except ValueError as exc:
                if key is not None:
                    error = DecryptionError(f"malformed SM4 cipher text form: {exc}", raw=raw)
            else:
                wire_form = "text"
                alt_length = len(segment) - brace_len + len(cipher)
                if len(cipher) > BLOCK and len(cipher) % BLOCK and not tail:
                    # cems-data-pipeline writes the clear tail (< 16 bytes) inside the braces too
                    cut = len(cipher) - len(cipher) % BLOCK
                    cipher, tail = cipher[:cut], cipher[cut:]
                    deviations.append("crypto:text-tail-in-braces")
                if key is None:
                    hint = "; the CP is SM4 cipher in {0x..} text form and no key was given"
                else:
                    error = _text_form_problem(cipher, tail, raw)
                    if error is None:
                        plain = segment[:r0] + decrypt_region(cipher, check_key(key)) + tail + b"&&"
        elif key is None:
            binary = segment[r0:r1]  # checked only if the frame fails: a hint for the message
        elif not _is_text(region := segment[r0:r1]):
            if len(region) >= BLOCK:
                wire_form = "raw"
                plain = segment[:r0] + decrypt_region(region, check_key(key)) + segment[r1:]
            else:
                hint = _BINARY_HINT
        elif must_encrypt(segment_cn(segment)) and len(region) >= BLOCK:
            deviations.append("crypto:not-encrypted")
    if error is None and wire_form != "plain":
        error = _plaintext_problem(plain, got, raw)

    # --- length ---------------------------------------------------------------------------
    size = len(segment)
    if error is None and not (digits == 4 and declared == size <= SEGMENT_MAX and alt_length is None):
        error = _check_length(declared, digits, segment, plain, alt_length, raw, deviations, strict=strict)

    # --- CRC over the plaintext segment (meaningless when decryption failed) --------------------
    variant: CrcVariant | None = None
    if not isinstance(error, DecryptionError):
        expected = hj212_crc(plain)
        variant = "hj212"
        if got != expected:
            variant = crc_variant(plain, got)
            if variant is not None:
                deviations.append(f"crc:{variant}")
            if error is None and (strict or variant not in ("modbus", "modbus-byteswapped")):
                if binary is not None and not _is_text(binary):
                    hint = _BINARY_HINT
                error = CrcMismatch(
                    f"CRC {body[-4:].decode()} does not match the HJ 212 CRC {format_crc(expected)} "
                    f"of the {len(plain)}-byte data segment ({_FAMILY[variant]}){hint}",
                    expected=expected,
                    actual=got,
                    variant=variant,
                    raw=raw,
                )

    # --- grammar ------------------------------------------------------------------------------
    try:
        text = plain.decode("utf-8")
        readable = True
    except UnicodeDecodeError as exc:
        if binary is not None and not hint and not _is_text(binary):
            hint = _BINARY_HINT
        if error is None:
            error = PacketSyntaxError(
                f"the data segment is not UTF-8 text (byte 0x{plain[exc.start]:02X} at offset "
                f"{exc.start}){hint}",
                raw=raw,
            )
        text = plain.decode("utf-8", errors="replace")
        readable = False
    parsed = parse_segment(text, strict=strict)
    deviations.extend(parsed.deviations)
    if parsed.faults and error is None:
        more = f" (and {len(parsed.faults) - 1} more)" if len(parsed.faults) > 1 else ""
        error = PacketSyntaxError(parsed.faults[0] + more + hint, raw=raw)
    header = parsed.header if cp_at >= 0 or parsed.header else None
    undecrypted = wire_form == "text" and key is None  # {0x..} cipher read as text: no CP values
    cp_pairs = parsed.cp_pairs if readable and not undecrypted else None
    packet = None
    cp_view: Mapping[str, str] | None = None
    if not parsed.faults and readable and cp_pairs is not None and header is not None:
        packet = _packet(header, cp_pairs)
        cp_view = packet.cp_map
    elif cp_pairs is not None:
        cp_view = MappingProxyType(parsed.cp_map)
    flag_text = header.get("Flag") if header is not None else None
    flag = parse_flag(flag_text)
    edition = edition_of_flag(flag) if flag_text is None or flag is not None else None
    return Decoded(
        raw,
        error is None,
        error,
        tuple(deviations),
        edition if header is not None else None,
        MappingProxyType(header) if header is not None else None,
        cp_view,
        cp_pairs,
        packet,
        wire_form,
        got,
        variant,
        plain,
    )


def segment_cn(segment: bytes) -> str:
    """The CN value of a data segment, read from its clear header ("" when absent)."""
    at = segment.find(b"CN=")
    if at < 0 or (at > 0 and segment[at - 1] != 0x3B):
        return ""
    end = segment.find(b";", at)
    return segment[at + 3 : end if end >= 0 else at + 7].decode("ascii", errors="replace")


def _is_text(region: bytes) -> bool:
    if _CONTROL.search(region):
        return False
    if region.isascii():
        return True
    try:
        region.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text_form_problem(cipher: bytes, tail: bytes, raw: bytes) -> DecryptionError | None:
    if len(cipher) % BLOCK:
        return DecryptionError(
            f"the {{0x..}} cipher has {len(cipher)} bytes, not a multiple of the 16-byte SM4 block",
            raw=raw,
        )
    if len(tail) >= BLOCK:
        return DecryptionError(
            f"{len(tail)} bytes follow the {{0x..}} cipher in clear; only a tail shorter than "
            "16 bytes may stay unencrypted",
            raw=raw,
        )
    return None


def _plaintext_problem(plain: bytes, got: int, raw: bytes) -> DecryptionError | None:
    """A decrypted segment that is not text means a wrong key or a corrupted cipher.

    The HJ CRC has only 256 values, so a wrong key passes it about once in 256: text is the check.
    """
    if _is_text(plain):
        return None
    crc = hj212_crc(plain)
    agree = "matches" if crc == got else f"is {format_crc(crc)}, the frame says {format_crc(got)}"
    return DecryptionError(
        "the CP decrypted with the given key is not text: wrong key, or the cipher is corrupted "
        f"(CRC of the decrypted segment {agree})",
        raw=raw,
    )


def _check_length(
    declared: int | None,
    digits: int,
    segment: bytes,
    plain: bytes,
    alt_length: int | None,
    raw: bytes,
    deviations: list[str],
    *,
    strict: bool,
) -> HJ212Error | None:
    nbytes = len(segment)
    size = alt_length if alt_length is not None else len(plain)  # plaintext size of the segment
    field_text = raw[2 : 2 + max(digits, 4)].decode("ascii", errors="backslashreplace")
    if declared is None or digits < 3:
        return LengthMismatch(
            f"the length field {field_text!r} is not 4 decimal digits", declared=None,
            actual=nbytes, raw=raw,
        )  # fmt: skip
    error: HJ212Error | None = None
    tolerated = False
    if digits == 3:
        deviations.append("length:3-digits")
        tolerated = True
    if declared == nbytes:
        pass
    elif alt_length is not None and declared == alt_length:
        deviations.append("length:plaintext-length")
    elif _chars(plain) == declared:
        deviations.append("length:counts-characters")
    elif declared == nbytes + 6:
        deviations.append("length:plus-6")
        tolerated = True
    else:
        chars = _chars(plain)
        counted = f" ({chars} characters)" if chars not in (None, nbytes) else ""
        error = LengthMismatch(
            f"the length field says {declared} but the data segment has {nbytes} bytes{counted}",
            declared=declared, actual=nbytes, raw=raw,
        )  # fmt: skip
    if size > SEGMENT_MAX:
        deviations.append("length:over-1024")
        tolerated = True
    if error is None and strict and tolerated:
        if digits == 3:
            reason = f"the length field {field_text[:3]!r} has 3 digits, the standard requires 4"
        elif size > SEGMENT_MAX:
            reason = f"the data segment has {size} bytes, more than the {SEGMENT_MAX} allowed"
        else:
            reason = (
                f"the length field says {declared} = {nbytes} + 6: it counts the CRC and CR LF, "
                f"the data segment has {nbytes} bytes"
            )
        error = LengthMismatch(reason, declared=declared, actual=nbytes, raw=raw)
    return error


def _chars(plain: bytes) -> int | None:
    try:
        return len(plain.decode("utf-8"))
    except UnicodeDecodeError:
        return None


def _packet(header: Mapping[str, str], cp: tuple[tuple[str, str], ...]) -> Packet:
    extra = (
        ()
        if _HEADER_SET.issuperset(header)
        else tuple((k, v) for k, v in header.items() if k not in _HEADER_SET)
    )
    get = header.get
    return Packet(
        header["ST"], header["CN"], header["PW"], header["MN"], cp,
        get("QN"), get("Flag"), get("PNUM"), get("PNO"), get("RF"), extra,
    )  # fmt: skip
