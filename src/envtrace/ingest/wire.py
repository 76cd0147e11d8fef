"""The gateway's seam to the HJ 212 codec (``envtrace.hj212``): framing, decoding, answers.

Everything the gateway needs from the codec goes through this module, so the rest of ``ingest``
speaks in ``Work`` items and bytes. Answers follow HJ 212-2017 §6 / table 9: a data upload whose
Flag asks for an answer gets 9014, a notice (1013, 2025's 1001 / 1014 / 9015 heartbeat) gets 9013,
a refused request gets 9011 with its QnRtn (2 refused, 3 PW error, 4 MN error, 9 CRC error). Each
answer echoes the request's QN, MN and PW, uses ST=91 and the request's edition in its Flag (answer
bit clear).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from envtrace.hj212.crc import hj212_crc
from envtrace.hj212.decode import Decoded, decode
from envtrace.hj212.flag import Edition, make_flag
from envtrace.hj212.frame import Frame, Framer, Garbage
from envtrace.hj212.times import parse_time
from envtrace.ingest.values import items_of, to_ts
from envtrace.ingest.work import Work
from envtrace.store import Station

TEXT_LIMITS = (("mn", 64), ("st", 4), ("cn", 8), ("qn", 24))
_ANSWER_FLAG = {"2017": make_flag("2017"), "2025": make_flag("2025"), "2005": make_flag("2005")}


def new_framer() -> Framer:
    return Framer()


def pieces(events: list[Frame | Garbage]) -> list[tuple[bytes, str | None]]:
    """(raw bytes, None) per complete frame and (raw bytes, reason) per run of unframed bytes."""
    return [(e.raw, None) if type(e) is Frame else (e.raw, e.reason) for e in events]  # type: ignore[union-attr]


def feed(framer: Framer, data: bytes) -> list[tuple[bytes, str | None]]:
    return pieces(framer.feed(data))


def flush(framer: Framer) -> list[tuple[bytes, str | None]]:
    """End of stream or a long pause: a frame held for its missing CR LF, and any incomplete bytes."""
    return pieces(framer.flush()) if framer.buffered else []


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and len(text) <= 9 else None


def peek_mn(raw: bytes) -> str | None:
    """The MN field of a frame's clear header (before ``CP=&&``), without decoding the frame;
    None when there is no readable one. Only a hint: the decoder has the last word."""
    end = raw.find(b"CP=&&", 6)
    if end < 0:
        return None
    at = raw.find(b";MN=", 5, end)
    if at < 0:
        if not raw.startswith(b"MN=", 6):
            return None
        at = 5  # "##0101MN=...": the first field
    stop = raw.find(b";", at + 4, end)
    if stop < 0:
        return None
    value = raw[at + 4 : stop]
    return value.decode("ascii") if value.isascii() else None


def decode_frame(raw: bytes, *, tolerant: bool, key: bytes | None) -> Decoded:
    return decode(raw, key=key, strict=not tolerant)


def answer_due(decoded: Decoded) -> bool:
    """The Flag asks for an answer (bit 0) and there is an MN to address it to."""
    header = decoded.header
    if header is None or "MN" not in header:
        return False
    flag = _int(header.get("Flag"))
    return flag is not None and bool(flag & 1)


def fill(w: Work, decoded: Decoded) -> None:
    """Copy the header fields (and the codec's verdict on edition, wire form, deviations) into ``w``;
    a header value too long for its column quarantines a frame that decoded fine."""
    h = decoded.header or {}
    get = h.get
    w.header = decoded.header
    w.mn = get("MN")
    w.pw = get("PW")
    w.st = get("ST")
    w.cn = get("CN")
    w.qn = get("QN")
    w.flag = _int(get("Flag"))
    pnum, pno = get("PNUM"), get("PNO")
    w.pnum = None if pnum is None else _int(pnum)
    w.pno = None if pno is None else _int(pno)
    w.rf = get("RF") == "1"
    w.edition = decoded.edition
    w.wire = decoded.wire_form
    w.deviations = decoded.deviations
    if len(w.mn or "") <= 64 and len(w.st or "") <= 4 and len(w.cn or "") <= 8 and len(w.qn or "") <= 24:
        return  # the usual case: every value fits its column (TEXT_LIMITS)
    for name, limit in TEXT_LIMITS:
        value = getattr(w, name)
        if value is not None and len(value) > limit:
            setattr(w, name, None)
            if decoded.ok:
                w.quarantine("syntax", f"{name.upper()} longer than {limit} characters: {value[:80]!r}")


def answer_code(decoded: Decoded) -> str | None:
    cp = decoded.cp or {}
    return cp.get("QnRtn") or cp.get("ExeRtn")


def cp_value(decoded: Decoded, key: str) -> str:
    return (decoded.cp or {}).get(key, "")


def items(decoded: Decoded) -> dict[str, dict[str, str]]:
    packet = decoded.packet
    return {} if packet is None else items_of(packet.cp)


_DATA_TS: dict[tuple[str, int], int | None] = {}


def data_ts(decoded: Decoded, utc_offset_min: int) -> int | None:
    """DataTime as Unix seconds UTC (``None`` when absent or not a time). Stations report on the
    same minute and hour boundaries, so the conversions are remembered (a few thousand)."""
    packet = decoded.packet
    text = None if packet is None else packet.cp_map.get("DataTime")
    if text is None:
        return None
    key = (text, utc_offset_min)
    ts = _DATA_TS.get(key, -1)
    if ts == -1:
        local = parse_time(text)
        ts = None if local is None else to_ts(local, utc_offset_min)
        if len(_DATA_TS) >= 8192:
            _DATA_TS.clear()
        _DATA_TS[key] = ts
    return ts


def set_data(
    w: Work, decoded: Decoded, utc_offset_min: int, fields: Mapping[str, Mapping[str, str]] | None
) -> None:
    """Set the frame's data time (UTC) and where its readings will come from: ``fields`` (the
    merged items of a completed set of sub-packets) or, when None, the frame's own CP pairs. The
    storage process makes the readings (``values``) if it accepts the frame."""
    packet = decoded.packet
    if packet is None:
        return
    w.data_ts = ts = data_ts(decoded, utc_offset_min)
    if ts is None:
        return
    w.utc_offset_min = utc_offset_min
    if fields is None:
        w.source = packet.cp
    elif fields:
        w.source = {code: dict(values) for code, values in fields.items()}


def station_key(station: Station) -> bytes | None:
    """The station's SM4 key (16 bytes), when it has one."""
    if not station.sm4_key:
        return None
    text = station.sm4_key
    if len(text) == 32 and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    return text.encode("ascii")[:16]


def _frame(segment: str) -> bytes:
    data = segment.encode("utf-8")
    return b"##%04d%s%04X\r\n" % (len(data), data, hj212_crc(data))


def _answer(header: Mapping[str, str], edition: str | None, cn: str, cp: str) -> bytes:
    qn = header.get("QN")
    head = f"ST=91;CN={cn};PW={header.get('PW', '')};MN={header.get('MN', '')}"
    if qn is not None:
        head = f"QN={qn};{head}"
    if "Flag" in header or edition in ("2017", "2025"):
        head = f"{head};Flag={_ANSWER_FLAG.get(edition or '2017', _ANSWER_FLAG['2017'])}"
    return _frame(f"{head};CP=&&{cp}&&")


def request_answer(header: Mapping[str, str], edition: str | None, qn_rtn: int) -> bytes:
    """9011 with QnRtn (1 ready, 2 refused, 3 PW error, 4 MN error, 9 CRC error ...)."""
    return _answer(header, edition, "9011", f"QnRtn={qn_rtn}")


def data_answer(header: Mapping[str, str], edition: str | None) -> bytes:
    """9014: the data upload was received (and, here, committed)."""
    return _answer(header, edition, "9014", "")


def notice_answer(header: Mapping[str, str], edition: str | None) -> bytes:
    """9013: the notice (or 2025 heartbeat) was received."""
    return _answer(header, edition, "9013", "")


def history_request(station: Station, pw: str, cn: str, begin_ts: int, end_ts: int, qn: str) -> bytes:
    """A 2051 / 2061 / 2031 history request with BeginTime / EndTime in the station's local time."""
    offset = station.utc_offset_min * 60

    def local(ts: int) -> str:
        return time.strftime("%Y%m%d%H%M%S", time.gmtime(ts + offset))

    edition: Edition = (
        "2025" if station.edition == "2025" else "2005" if station.edition == "2005" else "2017"
    )
    segment = (
        f"QN={qn};ST={station.st or '91'};CN={cn};PW={pw};MN={station.mn};"
        f"Flag={make_flag(edition, ack=True)};CP=&&BeginTime={local(begin_ts)};EndTime={local(end_ts)}&&"
    )
    return _frame(segment)
