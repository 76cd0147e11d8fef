"""How a data logger answers the centre's requests (HJ 212-2017 §6.2, table 9; HJ 212-2025 appendix C).

A request is answered 9011 ``QnRtn`` (1 ready, 2 refused), then whatever it asks for, then 9012
``ExeRtn`` (1 success, 3 condition error, 100 no data); a notice (2012, 2022) is answered 9013. Every
answer echoes the request's QN; answers use ST=91 and carry no answer bit (the codec's builders).

========  =====================================================================================
CN        what the logger does
========  =====================================================================================
1000      adopt ``OverTime`` / ``ReCount`` (answer timeout and retries)
1011      upload its clock (1011 ``SystemTime``, optional ``PolId``)
1012      set its clock to ``SystemTime`` (later DataTime follow the new clock)
1061/1063 upload ``RtdInterval`` / ``MinInterval``
1062/1064 adopt a new real-time interval (30-3600 s) / minute interval (table 4 values)
1072      adopt ``NewPW``
1002      adopt the MN in ``i23005-Info`` (HJ 212-2025)
1014      adopt ``NewSK`` created at ``SKCreateTime`` (HJ 212-2025; the old key keeps decrypting the
          centre's frames for an overlap window)
2011/2021 start real-time / equipment-status uploads; 2012/2022 (notices) stop them
2031/2051 answer from the logger's own records whose period starts in [BeginTime, EndTime]
/2061     (same QN, no answer asked, encrypted like any data upload); ExeRtn=100 when none
3011-3024 acknowledged (calibration, sampling ... are not simulated beyond the answer)
other     QnRtn=2 (refused)
========  =====================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envtrace.hj212 import (
    MIN_INTERVALS,
    ExeRtn,
    Packet,
    QnRtn,
    data_upload,
    encode,
    exe_answer,
    make_flag,
    notice_answer,
    parse_time,
    qn_answer,
    upload_time,
)
from envtrace.sim.logger import DataLogger

__all__ = ["Outcome", "answer_request"]

_ACKNOWLEDGED = frozenset({3011, 3012, 3013, 3020, 3021, 3022, 3024})
_HISTORY = frozenset({2011, 2013, 2031, 2041, 2051, 2061})


@dataclass(frozen=True, slots=True)
class Outcome:
    """Frames to write in order, and what the connection must change."""

    frames: list[bytes] = field(default_factory=list)
    timeout: tuple[float, int] | None = None
    key_adopted: bool = False


def answer_request(
    lg: DataLogger, pkt: Packet, *, now: float, wall: float, cipher_form: str, key_overlap: float
) -> Outcome:
    """Carry out the centre's request ``pkt`` on logger ``lg`` (``now`` simulated, ``wall`` loop time)."""
    cn = pkt.cn_code
    if cn in (2012, 2022):
        if cn == 2012:
            lg.realtime_on = False
        else:
            lg.status_on = False
        return Outcome([notice_answer(pkt)])
    rtn, exe, extra, effect = _execute(lg, pkt, cn, now, wall, cipher_form, key_overlap)
    frames = [qn_answer(pkt, rtn)]
    if rtn == QnRtn.READY:
        frames.extend(extra)
        frames.append(exe_answer(pkt, exe))
    return Outcome(frames, effect.timeout, effect.key_adopted)


def _execute(
    lg: DataLogger, pkt: Packet, cn: int, now: float, wall: float, cipher_form: str, key_overlap: float
) -> tuple[int, int, list[bytes], Outcome]:
    """(QnRtn, ExeRtn, frames between the two answers, side effects for the connection)."""
    fields = pkt.cp_map
    ready, ok, bad = QnRtn.READY, ExeRtn.SUCCESS, ExeRtn.CONDITION_ERROR
    none = Outcome()
    qn = pkt.qn or lg.next_qn(now)
    if cn == 1000:
        over, count = fields.get("OverTime", ""), fields.get("ReCount", "")
        if not (_int_in(over, 1, 99) and _int_in(count, 1, 99)):
            return ready, bad, [], none
        return ready, ok, [], Outcome(timeout=(float(over), int(count)))
    if cn == 1011:
        clock = lg.local_text(lg.logger_time(now))
        return (
            ready,
            ok,
            [upload_time(lg.station, qn=qn, system_time=clock, pol_id=fields.get("PolId"))],
            none,
        )
    if cn == 1012:
        moment = parse_time(fields.get("SystemTime"))
        if moment is None:
            return ready, bad, [], none
        lg.set_clock(moment, now)
        return ready, ok, [], none
    if cn in (1061, 1063):
        key = "RtdInterval" if cn == 1061 else "MinInterval"
        header = {"QN": qn, "ST": lg.st, "CN": str(cn), "PW": lg.pw, "MN": lg.mn}
        header["Flag"] = str(make_flag(lg.station.edition))
        return ready, ok, [encode(header, [(key, lg.settings()[key])])], none
    if cn == 1062:
        value = fields.get("RtdInterval", "")
        if not _int_in(value, 30, 3600):
            return ready, bad, [], none
        lg.realtime_interval = float(value)
        return ready, ok, [], none
    if cn == 1064:
        value = fields.get("MinInterval", "")
        if not (value.isdigit() and int(value) in MIN_INTERVALS):
            return ready, bad, [], none
        lg.min_interval_min = lg.aggregator.min_interval_min = int(value)
        return ready, ok, [], none
    if cn in (1072, 1002):
        name, size = ("NewPW", 6) if cn == 1072 else ("i23005-Info", 24)
        value = fields.get(name, "")
        if len(value) != size:
            return ready, bad, [], none
        if cn == 1072:
            lg.pw = value
        else:
            lg.mn = value
        return ready, ok, [], none
    if cn == 1014:
        new_key = fields.get("NewSK", "")
        if len(new_key) != 16 or not new_key.isascii() or lg.edition != "2025":
            return ready, bad, [], none
        lg.adopt_key(new_key, parse_time(fields.get("SKCreateTime")), wall, key_overlap)
        return ready, ok, [], Outcome(key_adopted=True)
    if cn in (2011, 2021) and "BeginTime" not in fields:
        if cn == 2011:
            lg.realtime_on = True
        else:
            lg.status_on = lg.config.kind != "ambient"
        return ready, ok, [], none
    if cn in _HISTORY:
        begin, end = pkt.time_range
        if begin is None or end is None:
            return ready, bad, [], none
        frames: list[bytes] = []
        for u in lg.history_uploads(cn, begin, end):
            frames.extend(
                data_upload(
                    lg.station,
                    qn=qn,
                    cn=cn,
                    data_time=lg.local_text(u.data_time),
                    items=u.items,
                    ack=False,
                    key=lg.key,
                    cipher_form="text" if cipher_form == "text" else "raw",
                )
            )
        return ready, (ok if frames else ExeRtn.NO_DATA), frames, none
    if cn in _ACKNOWLEDGED:
        return ready, ok, [], none
    return QnRtn.REFUSED, ok, [], none


def _int_in(text: str, lo: int, hi: int) -> bool:
    return text.isdigit() and lo <= int(text) <= hi
