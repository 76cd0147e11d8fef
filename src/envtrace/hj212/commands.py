"""Builders for the commands the platform sends or answers, and for the station side (simulator).

Every builder returns finished frames (bytes, CR LF included); data uploads return a list because
they are split when longer than 1024 bytes. Sources: HJ 212-2017 §6 and appendix C (``hj-standards.md``
§1.6-1.7 and the appendix C vectors of §5.2), HJ 212-2025 appendix C as mapped by implementations
(``hj212-2025-and-hj75.md`` §1.4).

Answers (9011-9014) echo the request's QN, PW and MN, use ST=91, and carry a Flag with the version
bits of the station's edition and neither the answer nor the split bit (``QN=...;ST=91;CN=9011;
PW=...;MN=...;Flag=4;CP=&&QnRtn=1&&``, appendix C). Requests from the centre set the answer bit by
default (the station answers 9011 then 9012, or 9013 for notices).

Commands that HJ 212-2025 §6.4.4 wants encrypted (data 2000-2999, 1014, 3020 from the field; the key
delivery 1014 from the centre) take ``key`` and ``cipher_form``; the caller decides from the station
registry whether a station encrypts. Bad arguments raise ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from envtrace.hj212.codes import COMMANDS, MIN_INTERVALS, ExeRtn, QnRtn
from envtrace.hj212.encode import CipherForm, CpValue, HeaderValue, Pair, encode, encode_split, format_cp
from envtrace.hj212.flag import Edition, make_flag, parse_flag
from envtrace.hj212.packet import Packet
from envtrace.hj212.times import format_time

Request = Packet | Mapping[str, str]
TimeValue = datetime | str
Items = Mapping[str, Mapping[str, CpValue]]


@dataclass(frozen=True, slots=True)
class Station:
    """Who a command is for or from: MN, password, system code (ST) and protocol edition."""

    mn: str
    pw: str
    st: str
    edition: Edition = "2017"


def _time(value: TimeValue) -> str:
    if isinstance(value, datetime):
        return format_time(value)
    if not (len(value) == 14 and value.isascii() and value.isdigit()):
        raise ValueError(f"time {value!r} is not YYYYMMDDhhmmss")
    return value


def _require(station: Station, cn: int) -> None:
    command = COMMANDS[cn]
    if station.edition not in command.editions and cn != 9015:  # 9015: also a pre-2025 vendor heartbeat
        raise ValueError(f"CN {cn} ({command.name_en}) is not defined in HJ 212-{station.edition}")


def _header(
    station: Station, cn: int, qn: str | None, *, ack: bool, rf: bool = False
) -> dict[str, HeaderValue]:
    _require(station, cn)
    header: dict[str, HeaderValue] = {"ST": station.st, "CN": f"{cn:04d}", "PW": station.pw}
    header["MN"] = station.mn
    header["Flag"] = make_flag(station.edition, ack=ack)
    if qn is not None:
        header["QN"] = qn
    if rf:
        if station.edition != "2025":
            raise ValueError("RF=1 (resent packet) exists only in HJ 212-2025")
        header["RF"] = "1"
    return header


def _send(
    station: Station,
    cn: int,
    qn: str | None,
    cp: Sequence[Pair] | str = (),
    *,
    ack: bool = True,
    key: bytes | None = None,
    cipher_form: CipherForm = "raw",
) -> bytes:
    return encode(_header(station, cn, qn, ack=ack), cp, key=key, cipher_form=cipher_form)


# --- answers (the platform answering a station) ---------------------------------------------------


def _answer(request: Request, cn: int, cp: Sequence[Pair], edition: Edition | None) -> bytes:
    header = request.header if isinstance(request, Packet) else dict(request)
    if not header.get("MN") or "PW" not in header:
        raise ValueError("cannot answer a request without MN and PW")
    if edition is not None:
        flag = make_flag(edition)
    else:
        value = parse_flag(header.get("Flag"))
        flag = (value & 0xFC) if value is not None else 0  # the station's version bits, no A/D bits
    answer: dict[str, HeaderValue] = {"ST": "91", "CN": f"{cn:04d}", "PW": header["PW"]}
    answer["MN"] = header["MN"]
    answer["Flag"] = flag
    if header.get("QN") is not None:
        answer["QN"] = header["QN"]
    return encode(answer, cp)


def qn_answer(request: Request, qn_rtn: int = QnRtn.READY, *, edition: Edition | None = None) -> bytes:
    """CN 9011 request answer ``QnRtn`` (table 7: 1 ready ... 9 CRC error)."""
    return _answer(request, 9011, [("QnRtn", str(int(qn_rtn)))], edition)


def exe_answer(request: Request, exe_rtn: int = ExeRtn.SUCCESS, *, edition: Edition | None = None) -> bytes:
    """CN 9012 execution result ``ExeRtn`` (table 6: 1 success ... 100 no data)."""
    return _answer(request, 9012, [("ExeRtn", str(int(exe_rtn)))], edition)


def notice_answer(request: Request, *, edition: Edition | None = None) -> bytes:
    """CN 9013 notice answer (empty CP): answers 2012/2022 notices, 9015 heartbeats, 1001, 1014."""
    return _answer(request, 9013, [], edition)


def data_answer(request: Request, *, edition: Edition | None = None) -> bytes:
    """CN 9014 data answer (empty CP) for an upload whose Flag asked for an answer."""
    return _answer(request, 9014, [], edition)


# --- requests (centre -> field) -------------------------------------------------------------------


def set_timeout(station: Station, *, qn: str, over_time: int, re_count: int, ack: bool = True) -> bytes:
    """CN 1000: answer timeout ``OverTime`` (s, 1-99) and retries ``ReCount`` (1-99)."""
    if not (1 <= over_time <= 99 and 1 <= re_count <= 99):
        raise ValueError(f"OverTime {over_time} and ReCount {re_count} must be 1-99")
    cp = [("OverTime", str(over_time)), ("ReCount", str(re_count))]
    return _send(station, 1000, qn, cp, ack=ack)


def get_time(station: Station, *, qn: str, pol_id: str | None = None, ack: bool = True) -> bytes:
    """CN 1011 request: read the field clock (of one analyser when ``pol_id`` is given)."""
    return _send(station, 1011, qn, [("PolId", pol_id)] if pol_id else [], ack=ack)


def set_time(
    station: Station, *, qn: str, system_time: TimeValue, pol_id: str | None = None, ack: bool = True
) -> bytes:
    """CN 1012: set the field clock (``PolId`` optional, ``SystemTime``)."""
    cp = ([("PolId", pol_id)] if pol_id else []) + [("SystemTime", _time(system_time))]
    return _send(station, 1012, qn, cp, ack=ack)


def get_rtd_interval(station: Station, *, qn: str, ack: bool = True) -> bytes:
    """CN 1061 request: read the realtime upload interval."""
    return _send(station, 1061, qn, ack=ack)


def set_rtd_interval(station: Station, *, qn: str, seconds: int, ack: bool = True) -> bytes:
    """CN 1062: set the realtime upload interval ``RtdInterval`` (30-3600 s, table 4)."""
    if not 30 <= seconds <= 3600:
        raise ValueError(f"RtdInterval {seconds} s is outside 30-3600")
    return _send(station, 1062, qn, [("RtdInterval", str(seconds))], ack=ack)


def get_min_interval(station: Station, *, qn: str, ack: bool = True) -> bytes:
    """CN 1063 request: read the minute-data interval."""
    return _send(station, 1063, qn, ack=ack)


def set_min_interval(station: Station, *, qn: str, minutes: int, ack: bool = True) -> bytes:
    """CN 1064: set ``MinInterval`` (1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30 min, table 4)."""
    if minutes not in MIN_INTERVALS:
        raise ValueError(f"MinInterval {minutes} is not one of {MIN_INTERVALS}")
    return _send(station, 1064, qn, [("MinInterval", str(minutes))], ack=ack)


def set_password(station: Station, *, qn: str, new_pw: str, ack: bool = True) -> bytes:
    """CN 1072: set the access password ``NewPW`` (6 characters)."""
    if len(new_pw) != 6:
        raise ValueError(f"NewPW must have 6 characters, got {len(new_pw)}")
    return _send(station, 1072, qn, [("NewPW", new_pw)], ack=ack)


def start_realtime(station: Station, *, qn: str, ack: bool = True) -> bytes:
    """CN 2011 request: start uploading realtime data."""
    return _send(station, 2011, qn, ack=ack)


def stop_realtime(station: Station, *, qn: str, ack: bool = True) -> bytes:
    """CN 2012 notice: stop uploading realtime data (answered by 9013)."""
    return _send(station, 2012, qn, ack=ack)


def start_status(station: Station, *, qn: str, ack: bool = True) -> bytes:
    """CN 2021 request: start uploading equipment status."""
    return _send(station, 2021, qn, ack=ack)


def stop_status(station: Station, *, qn: str, ack: bool = True) -> bytes:
    """CN 2022 notice: stop uploading equipment status."""
    return _send(station, 2022, qn, ack=ack)


HISTORY_COMMANDS = frozenset({2011, 2013, 2031, 2041, 2051, 2061})


def get_history(
    station: Station, *, qn: str, cn: int, begin: TimeValue, end: TimeValue, ack: bool = True
) -> bytes:
    """History request ``BeginTime;EndTime``: 2031 day, 2041 run time, 2051 minute, 2061 hour,
    2013 raw data (2025), 2011 realtime history (2025 C39/C40)."""
    if cn not in HISTORY_COMMANDS or (cn == 2011 and station.edition != "2025"):
        raise ValueError(f"CN {cn} is not a history request for HJ 212-{station.edition}")
    cp = [("BeginTime", _time(begin)), ("EndTime", _time(end))]
    return _send(station, cn, qn, cp, ack=ack)


def calibrate(
    station: Station, *, qn: str, pol_id: str, calibration_type: int | None = None, ack: bool = True
) -> bytes:
    """CN 3011 zero/span calibration; HJ 212-2025 adds ``CalibrationType`` (0 zero, 1 span),
    written in the same item as ``PolId`` (``PolId=w01018,CalibrationType=0``, IMPL)."""
    if calibration_type is None:
        return _send(station, 3011, qn, [("PolId", pol_id)], ack=ack)
    if calibration_type not in (0, 1):
        raise ValueError(f"CalibrationType {calibration_type} is not 0 (zero) or 1 (span)")
    text = format_cp([[("PolId", pol_id), ("CalibrationType", str(calibration_type))]])
    return _send(station, 3011, qn, text, ack=ack)


def sample_now(station: Station, *, qn: str, pol_id: str, ack: bool = True) -> bytes:
    """CN 3012: immediate sampling of one analyser."""
    return _send(station, 3012, qn, [("PolId", pol_id)], ack=ack)


def retain_sample(station: Station, *, qn: str, pol_id: str, ack: bool = True) -> bytes:
    """CN 3022 (HJ 212-2025): immediate sample-retention task."""
    return _send(station, 3022, qn, [("PolId", pol_id)], ack=ack)


def start_standard_check(station: Station, *, qn: str, pol_id: str, ack: bool = True) -> bytes:
    """CN 3024 (HJ 212-2025): start an automatic standard-sample check."""
    return _send(station, 3024, qn, [("PolId", pol_id)], ack=ack)


def set_mn(station: Station, *, qn: str, new_mn: str, ack: bool = True) -> bytes:
    """CN 1002 (HJ 212-2025): assign the logger's MN (``i23005-Info``, 24 hex characters)."""
    if len(new_mn) != 24 or any(c not in "0123456789ABCDEF" for c in new_mn):
        raise ValueError(f"a 2025 MN is 24 characters 0-9/A-F, got {new_mn!r}")
    return _send(station, 1002, qn, [("i23005-Info", new_mn)], ack=ack)


def deliver_key(
    station: Station,
    *,
    qn: str,
    new_key: str,
    sk_create_time: str,
    key: bytes | None,
    cipher_form: CipherForm = "raw",
    ack: bool = True,
) -> bytes:
    """CN 1014 centre->field (HJ 212-2025 C8): deliver ``NewSK`` (16 characters) created at
    ``SKCreateTime`` (17 digits), encrypted with the station's current ``key`` (§6.4.4)."""
    if len(new_key) != 16 or not new_key.isascii():
        raise ValueError("NewSK must be 16 ASCII characters")
    text = format_cp([[("SKCreateTime", sk_create_time), ("NewSK", new_key)]])
    return _send(station, 1014, qn, text, ack=ack, key=key, cipher_form=cipher_form)


# --- station side (field -> centre), used by the simulator ----------------------------------------


def data_upload(
    station: Station,
    *,
    qn: str | None,
    cn: int,
    data_time: TimeValue,
    items: Items,
    ack: bool = True,
    resent: bool = False,
    key: bytes | None = None,
    cipher_form: CipherForm = "raw",
) -> list[bytes]:
    """A data upload: 2011 realtime, 2051 minute, 2061 hour, 2031 day, 2021 status, 2041 run time,
    2013/2062/2111 (2025). ``items`` maps factor codes to suffix values in order, e.g.
    ``{"w01018": {"Rtd": 2.2, "Flag": "N"}}``; ``data_time`` is the sampling instant (2011) or
    the start of the period. Split into sub-packets when over 1024 bytes. ``resent`` sets RF=1 (2025).
    """
    if not 2000 <= cn <= 2999:
        raise ValueError(f"CN {cn} is not a data command (2000-2999)")
    pairs: list[tuple[str, CpValue]] = [("DataTime", _time(data_time))]
    for code, values in items.items():
        pairs.extend((f"{code}-{suffix}", value) for suffix, value in values.items())
    header = _header(station, cn, qn, ack=ack, rf=resent)
    return encode_split(header, pairs, key=key, cipher_form=cipher_form)


def heartbeat(station: Station, *, qn: str, ack: bool = True) -> bytes:
    """CN 9015 heartbeat (HJ 212-2025 C54): empty CP, answered by 9013."""
    return _send(station, 9015, qn, ack=ack)


def request_key(
    station: Station,
    *,
    qn: str,
    sk_create_time: str,
    key: bytes | None = None,
    cipher_form: CipherForm = "raw",
    ack: bool = True,
) -> bytes:
    """CN 1014 field->centre (HJ 212-2025 C7): ask for a new key, ``SKCreateTime`` 17 digits."""
    return _send(
        station, 1014, qn, [("SKCreateTime", sk_create_time)], ack=ack, key=key, cipher_form=cipher_form
    )


def logger_identity(
    station: Station, *, qn: str, logger_id: str, cpu_id: str, mac1: str, mac2: str, ack: bool = True
) -> bytes:
    """CN 1001 (HJ 212-2025 C2): logger id, CPU id and two MAC addresses (``i23005``-``i23008``)."""
    cp = [("i23005-Info", logger_id), ("i23006-Info", cpu_id), ("i23007-Info", mac1), ("i23008-Info", mac2)]
    return _send(station, 1001, qn, cp, ack=ack)


def upload_time(station: Station, *, qn: str, system_time: TimeValue, pol_id: str | None = None) -> bytes:
    """CN 1011 upload: the field clock, answering a 1011 request (same QN)."""
    cp = ([("PolId", pol_id)] if pol_id else []) + [("SystemTime", _time(system_time))]
    return _send(station, 1011, qn, cp, ack=False)


def time_calibration_request(station: Station, *, qn: str, ack: bool = True) -> bytes:
    """CN 1013 notice: the field asks the centre to set its clock."""
    return _send(station, 1013, qn, ack=ack)


def restart_notice(
    station: Station, *, qn: str, data_time: TimeValue, restart_time: TimeValue, ack: bool = True
) -> bytes:
    """CN 2081: the logger restarted (``RestartTime``)."""
    cp = [("DataTime", _time(data_time)), ("RestartTime", _time(restart_time))]
    return _send(station, 2081, qn, cp, ack=ack)
