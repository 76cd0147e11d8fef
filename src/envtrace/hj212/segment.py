"""Grammar of the data segment text: header fields and the ``CP=&&...&&`` region.

Strict faults (the packet does not follow HJ 212-2017 §6.3.3 / table 3; reported as
``PacketSyntaxError`` in every mode): no ``CP=&&...&&`` closing the segment, no ``;`` before ``CP``,
a header or CP piece without ``=``, a repeated header field, ST/CN/PW/MN missing, CN not 4 digits,
Flag not an integer 0-255, PNUM/PNO not numbers (at most 4 digits).

Deviations (recorded, accepted in both modes; real devices send them and the values are still
readable): unknown or out-of-order header fields, ST/CN/PW/QN formats, 2025 MN not 24 hex, Flag
split bit disagreeing with PNUM/PNO, RF other than ``RF=1`` in a 2025 packet, empty or repeated CP
items, CP over 950 characters, spaces around CP keys, ``&&`` inside the CP, time fields with
milliseconds or an impossible date. An empty MN is a strict fault (the packet cannot be attributed to
a station) and a deviation in tolerant mode. Log text between ``//`` that contains ``,`` or ``;`` is
split like any other text in strict mode (the grammar has no quoting) and kept whole in tolerant mode
(deviation ``cp:separator-in-log``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import repeat

from envtrace.hj212.codes import COMMANDS, system_category
from envtrace.hj212.packet import HEADER_KEYS
from envtrace.hj212.times import TIME_KEYS, time_problem

_HEADER_INDEX = {k: i for i, k in enumerate(HEADER_KEYS)}
_HEADER_SET = frozenset(HEADER_KEYS)
_STANDARD_ORDERS = frozenset(  # the usual header shapes, to skip the order check
    {
        ("QN", "ST", "CN", "PW", "MN", "Flag"),
        ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO"),
        ("ST", "CN", "PW", "MN"),
        ("QN", "ST", "CN", "PW", "MN"),
        ("ST", "CN", "PW", "MN", "Flag"),
    }
)
_REQUIRED = ("ST", "CN", "PW", "MN")
_LOG_END = re.compile(r"//(?=[;,]|\Z)")
_ITEM_END = re.compile(r"[;,]")
_SEPARATOR = re.compile(r"[;,=]")
_HEX24 = re.compile(r"[0-9A-F]{24}")
_KNOWN_CN = frozenset(f"{cn:04d}" for cn in COMMANDS)
_FLAGS = {text: v for v in range(256) for text in {str(v), f"{v:02d}", f"{v:03d}"}}  # "5", "05", "005"
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALID_ST = frozenset(a + b for a in _ALNUM for b in _ALNUM if system_category(a + b) is not None)
CP_MAX = 950  # characters, HJ 212-2017 table 3 (2005: 960)


def _digits(text: str, lo: int, hi: int) -> bool:
    return lo <= len(text) <= hi and text.isascii() and text.isdigit()


@dataclass(slots=True)
class SegmentText:
    """What the grammar found in one data segment (internal to the codec)."""

    header: dict[str, str] = field(default_factory=dict)
    cp_pairs: tuple[tuple[str, str], ...] | None = None
    cp_map: dict[str, str] = field(default_factory=dict)  # last value of each key
    slow: bool = False  # the CP needed the general split (spaces, empty items, logs ...)
    faults: list[str] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)


def parse_segment(text: str, *, strict: bool) -> SegmentText:
    """Split a data segment into header fields and CP pairs, collecting faults and deviations."""
    out = SegmentText()
    at = text.find("CP=&&")
    closed = at >= 0 and text.endswith("&&") and len(text) >= at + 7
    if not closed:
        out.faults.append("the data segment is not closed by CP=&&...&&")
    _parse_header(text[:at] if at >= 0 else "", out, strict=strict)
    if closed:
        cp = text[at + 5 : -2]
        _parse_cp(cp, out, strict=strict)
        _check_cp(cp, out)
    return out


def _parse_header(head: str, out: SegmentText, *, strict: bool) -> None:
    if head.endswith(";") and ";;" not in head and not head.startswith(";"):
        pieces = head[:-1].split(";")
        try:
            header = dict(map(str.split, pieces, repeat("="), repeat(1)))
        except ValueError:  # a piece without '=': the slow path names it
            pass
        else:
            if len(header) == len(pieces):
                out.header = header
                keys = tuple(header)
                if _HEADER_SET.issuperset(keys):
                    if keys not in _STANDARD_ORDERS and list(keys) != sorted(
                        keys, key=_HEADER_INDEX.__getitem__
                    ):
                        out.deviations.append("header:order")
                    _check_fields(header, out, strict=strict)
                    return
                out.header = {}
    _parse_header_slowly(head, out, strict=strict)


def _parse_header_slowly(head: str, out: SegmentText, *, strict: bool) -> None:
    header = out.header
    pieces = head.split(";")
    last = len(pieces) - 1
    order: list[int] = []
    for i, piece in enumerate(pieces):
        if not piece:
            if i != last:
                out.deviations.append("header:empty-field")
            continue
        key, sep, value = piece.partition("=")
        if not sep:
            out.faults.append(f"header piece without '=': {piece!r}")
            continue
        if key in header:
            out.faults.append(f"header field {key} appears twice ({header[key]!r}, {value!r})")
        index = _HEADER_INDEX.get(key)
        if index is None:
            out.deviations.append(f"header:unknown-field:{key}")
        else:
            order.append(index)
        header[key] = value
    if head and not head.endswith(";"):
        out.faults.append(f"no ';' between the header and CP (header ends {head[-12:]!r})")
    if order != sorted(order):
        out.deviations.append("header:order")
    _check_fields(header, out, strict=strict)


def _check_fields(header: dict[str, str], out: SegmentText, *, strict: bool) -> None:
    """Strict faults and contested deviations of the header values (one pass, common case fast)."""
    faults, dev = out.faults, out.deviations.append
    get = header.get
    st, cn, pw, mn = get("ST"), get("CN"), get("PW"), get("MN")
    if st is None or cn is None or pw is None or mn is None:
        faults.extend(f"header field {k} is missing" for k in _REQUIRED if k not in header)
    if cn is not None and cn not in _KNOWN_CN:
        if _digits(cn, 4, 4):
            dev("header:cn-unknown")
        else:
            faults.append(f"CN {cn!r} is not 4 digits")
    flag = get("Flag")
    version: int | None = None
    value = 0
    if flag is not None:
        value = _FLAGS.get(flag, -1)
        if value < 0:
            faults.append(f"Flag {flag!r} is not an integer 0-255")
        else:
            version = value >> 2
    pnum, pno = get("PNUM"), get("PNO")
    numbered = pnum is not None or pno is not None
    if numbered:
        for key, number in (("PNUM", pnum), ("PNO", pno)):
            if number is not None and not _digits(number, 1, 4):
                faults.append(f"{key} {number!r} is not a number of at most 4 digits")
    if st is not None and st not in _VALID_ST:
        dev("header:st-nonstandard")
    if pw is not None and len(pw) != 6:
        dev("header:pw-empty" if pw == "" else "header:pw-length")
    if mn == "":
        if strict:
            faults.append("MN is empty: the packet cannot be attributed to a station")
        else:
            dev("header:mn-empty")
    qn = get("QN")
    if qn is None:
        if version is not None and version >= 1:
            dev("header:qn-missing")
    elif not (len(qn) == 17 and qn.isdigit() and qn.isascii()):
        dev("header:qn-format")
    if version is not None:
        if version > 2:
            dev("flag:unknown-version")
        elif version == 2 and mn and not _HEX24.fullmatch(mn):
            dev("header:mn-not-24-hex")
    split = version is not None and bool(value & 2)
    if split and not numbered:
        dev("flag:split-without-pnum")
    elif numbered and not split:
        dev("flag:pnum-without-split")
    if numbered and not (
        pnum is not None
        and pno is not None
        and _digits(pnum, 1, 4)
        and _digits(pno, 1, 4)
        and 1 <= int(pno) <= int(pnum)
    ):
        dev("header:pno-out-of-range")
    rf = get("RF")
    if rf is not None:
        if rf != "1":
            dev("rf:not-1")
        if version != 2:
            dev("rf:not-2025")


def _parse_cp(cp: str, out: SegmentText, *, strict: bool) -> None:
    if not cp:
        out.cp_pairs = ()
        return
    if " " not in cp and "//" not in cp and "&&" not in cp and cp.isprintable():
        # no whitespace, logs or ampersands: one key=value per piece, no repeats, else slow path
        pieces = cp.replace(",", ";").split(";")
        try:
            values = dict(map(str.split, pieces, repeat("="), repeat(1)))
        except ValueError:  # a piece without '='
            pass
        else:
            if len(values) == len(pieces) and "" not in values:
                out.cp_pairs = tuple(values.items())
                out.cp_map = values
                return
    out.slow = True
    pairs = _split_plain(cp, out) if strict or "//" not in cp else _split_with_logs(cp, out)
    out.cp_pairs = tuple(pairs)
    out.cp_map = dict(pairs)
    if len(out.cp_map) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                out.deviations.append(f"cp:repeated-key:{key}")
            seen.add(key)


def _split_plain(cp: str, out: SegmentText) -> list[tuple[str, str]]:
    pairs = []
    empty = False
    for item in cp.split(";"):
        for piece in item.split(","):
            if not piece:
                empty = True
                continue
            key, sep, value = piece.partition("=")
            if not sep:
                out.faults.append(f"CP piece without '=': {piece[:24]!r}")
                continue
            pairs.append((key, value))
    if empty:
        out.deviations.append("cp:empty-item")
    return pairs


def _split_with_logs(cp: str, out: SegmentText) -> list[tuple[str, str]]:
    """Tolerant split: a value that starts with ``//`` runs to the ``//`` closing it."""
    pairs = []
    empty = False
    quoted_separator = False
    pos, n = 0, len(cp)
    while pos <= n:
        match = _SEPARATOR.search(cp, pos)
        stop = match.start() if match else n
        if match is None or match.group() != "=":
            piece = cp[pos:stop]
            if piece:
                out.faults.append(f"CP piece without '=': {piece[:24]!r}")
            else:
                empty = True
            pos = stop + 1
            continue
        key = cp[pos:stop]
        start = stop + 1
        end = -1
        if cp.startswith("//", start):
            closing = _LOG_END.search(cp, start + 2)
            end = closing.end() if closing else -1
        if end < 0:
            nxt = _ITEM_END.search(cp, start)
            end = nxt.start() if nxt else n
        value = cp[start:end]
        if value.startswith("//") and (";" in value or "," in value):
            quoted_separator = True
        pairs.append((key, value))
        pos = end + 1
    if empty:
        out.deviations.append("cp:empty-item")
    if quoted_separator:
        out.deviations.append("cp:separator-in-log")
    return pairs


def _check_cp(cp: str, out: SegmentText) -> None:
    dev = out.deviations.append
    if len(cp) > CP_MAX:
        dev("cp:over-950")
    if "&&" in cp:
        dev("cp:ampersands-inside")
    if out.slow and any(k != k.strip() for k, _ in out.cp_pairs or ()):
        dev("cp:key-whitespace")
    values = out.cp_map
    for key in TIME_KEYS:
        value = values.get(key)
        if value is not None:
            problem = time_problem(value)
            if problem is not None:
                dev(f"{key.lower()}:{problem}")
