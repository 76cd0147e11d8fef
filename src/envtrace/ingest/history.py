"""History requests: the platform asks a station for the minute / hour data it missed.

The writer notices a gap when live minute (2051) or hour (2061) data jumps further than the
station's interval (learnt from its data, 10 min / 1 h until then) past the newest data time
stored; after commit the gateway sends the station, over its current connection, a request of the
same CN with ``BeginTime`` / ``EndTime`` (HJ 212-2017 table 9: 2051 / 2061 "get history"). The
station answers 9011 (QnRtn), uploads the data with the request's QN, and ends with 9012 (ExeRtn);
answers are matched by QN. Data that answers a request (or carries the 2025 resend marker RF=1)
never triggers a request itself. A request unanswered within ``history_timeout_s`` is dropped (the
gap is noticed again by the next live jump, if the data are still missing).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from envtrace.ingest.work import Gap

log = logging.getLogger("envtrace.ingest.history")

MAX_SPAN_S = {"2051": 86_400, "2061": 7 * 86_400}


@dataclass(slots=True)
class Request:
    qn: str
    station_id: int
    cn: str
    begin_ts: int
    end_ts: int
    sent_at: float
    qn_rtn: str | None = None
    exe_rtn: str | None = None
    frames: int = 0
    done: bool = False


@dataclass(slots=True)
class HistoryRequests:
    """Requests in flight, by QN."""

    timeout_s: float
    pending: dict[str, Request] = field(default_factory=dict)
    by_series: dict[tuple[int, str], str] = field(default_factory=dict)
    sent: int = 0
    completed: int = 0
    _last_ms: int = 0

    def new_qn(self) -> str:
        """A QN (yyyyMMddHHmmsszzz, China Standard Time) unique in this process."""
        ms = max(time.time_ns() // 1_000_000, self._last_ms + 1)
        self._last_ms = ms
        t = time.gmtime(ms // 1000 + 8 * 3600)
        return time.strftime("%Y%m%d%H%M%S", t) + f"{ms % 1000:03d}"

    def clip(self, gap: Gap) -> Gap:
        span = MAX_SPAN_S.get(gap.cn, 86_400)
        return Gap(gap.station_id, gap.cn, max(gap.begin_ts, gap.end_ts - span), gap.end_ts)

    def open(self, gap: Gap, now: float) -> Request | None:
        """Register a request for ``gap`` unless one is already out for that series."""
        key = (gap.station_id, gap.cn)
        if key in self.by_series and self.by_series[key] in self.pending:
            return None
        req = Request(self.new_qn(), gap.station_id, gap.cn, gap.begin_ts, gap.end_ts, now)
        self.pending[req.qn] = req
        self.by_series[key] = req.qn
        self.sent += 1
        return req

    def answer(self, qn: str | None, cn: str | None, code: str | None) -> Request | None:
        """Record a 9011 / 9012 answer or a data frame carrying one of our QNs."""
        req = self.pending.get(qn or "")
        if req is None:
            return None
        if cn == "9011":
            req.qn_rtn = code
            if code not in (None, "1"):
                self._finish(req)
        elif cn == "9012":
            req.exe_rtn = code
            self._finish(req)
        else:
            req.frames += 1
        return req

    def _finish(self, req: Request) -> None:
        req.done = True
        self.pending.pop(req.qn, None)
        self.by_series.pop((req.station_id, req.cn), None)
        self.completed += 1
        log.info(
            "history request %s (station %d, CN %s) ended: QnRtn=%s ExeRtn=%s, %d frames",
            req.qn, req.station_id, req.cn, req.qn_rtn, req.exe_rtn, req.frames,
        )  # fmt: skip

    def expire(self, now: float) -> list[Request]:
        old = [r for r in self.pending.values() if now - r.sent_at > self.timeout_s]
        for req in old:
            self.pending.pop(req.qn, None)
            self.by_series.pop((req.station_id, req.cn), None)
        return old
