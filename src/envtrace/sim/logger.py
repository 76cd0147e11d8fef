"""One data logger, without its network: sampling, period data, history, clock, settings, key.

The logger samples its monitor (the physics model, through the injector when a falsification
pattern is active) at the real-time interval, turns samples into 2011 real-time uploads and closed
periods into 2051 / 2061 / 2031 uploads (plus a 2021 equipment-status upload with each minute
period at sources), keeps its own history to answer history requests, and holds the settings the
platform may change (clock offset, intervals, password, MN, SM4 key). It never touches a socket:
:mod:`envtrace.sim.link` moves what it produces.

Item layout follows the standard's appendix C: ``SampleTime, Rtd, ZsRtd, Flag`` for real-time data
and ``Cou, Min, Avg, Max, ZsMin, ZsAvg, ZsMax, Flag`` for period data.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from envtrace.hj212 import Station, format_qn, format_time
from envtrace.sim.aggregate import PeriodAggregator, PeriodRecord
from envtrace.sim.faults import Injector
from envtrace.sim.physics import Factor, Sample
from envtrace.sim.province import Model, StationConfig

__all__ = ["DataLogger", "Upload"]

Items = dict[str, dict[str, str]]
_EPOCH = datetime(1970, 1, 1)


@dataclass(slots=True, eq=False)
class Upload:
    """A data upload waiting to be sent, or in flight, or in the backlog."""

    cn: int
    data_time: float
    """Logger time of the data (sampling instant, or period start), Unix seconds."""
    items: Items
    qns: tuple[str, ...] = ()
    pending: set[str] = field(default_factory=set)
    attempts: int = 0
    rounds: int = 0
    """0 while the upload is live; n after it went to the backlog n times (resent with RF=1)."""
    deadline: float = math.inf
    not_before: float = 0.0
    """Wall time before which a backlog upload is not tried again."""
    frames: int = 1


def fmt(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text


class DataLogger:
    """The station-side state of one simulated logger."""

    def __init__(
        self,
        config: StationConfig,
        model: Model,
        injector: Injector,
        *,
        realtime_interval: float,
        min_interval_min: int,
        sim_start: float,
        status: bool = True,
        history_days: float = 1.0,
    ) -> None:
        self.config = config
        self.model = model
        self.injector = injector
        self.mn = config.mn
        self.pw = config.pw
        self.edition = config.edition
        self.st = config.st
        self.factors: dict[str, Factor] = config.factors
        self.realtime_interval = realtime_interval
        self.min_interval_min = min_interval_min
        self.realtime_on = True
        self.status_on = status and config.kind != "ambient"
        self.clock_offset = 0.0
        """Seconds the logger's clock is ahead of true (simulated) time (set by CN 1012)."""
        self.utc_offset_min = config.utc_offset_min
        self.aggregator = PeriodAggregator(
            self.factors,
            kind=config.kind,
            utc_offset_min=config.utc_offset_min,
            min_interval_min=min_interval_min,
            o2_ref=config.o2_ref,
        )
        self.history: dict[str, deque[PeriodRecord]] = {
            "2051": deque(maxlen=max(1, math.ceil(history_days * 1440 / min_interval_min))),
            "2061": deque(maxlen=24 * 62),
            "2031": deque(maxlen=400),
        }
        self.key: bytes | None = config.key.encode("ascii") if config.encrypted else None
        self.key_created = sim_start - config.key_age_days * 86400.0
        self.old_key: bytes | None = None
        self.old_key_until = 0.0
        self._last_qn_ms = 0
        self.samples = 0
        self.deleted = 0

    # ------------------------------------------------------------------------------ identity

    @property
    def station(self) -> Station:
        return Station(self.mn, self.pw, self.st, "2025" if self.edition == "2025" else "2017")

    # ------------------------------------------------------------------------------ clock

    def logger_time(self, t: float) -> float:
        return t + self.clock_offset

    def local(self, t: float) -> datetime:
        """Naive local wall-clock time of logger time ``t``."""
        return _EPOCH + timedelta(seconds=t + self.utc_offset_min * 60)

    def local_text(self, t: float) -> str:
        return format_time(self.local(t))

    def from_local(self, moment: datetime) -> float:
        """Logger Unix time of a naive local time."""
        return moment.replace(tzinfo=UTC).timestamp() - self.utc_offset_min * 60

    def set_clock(self, moment: datetime, true_now: float) -> None:
        """CN 1012: the platform sets the logger's clock to ``moment`` (local)."""
        self.clock_offset = self.from_local(moment) - true_now

    def next_qn(self, true_now: float, parts: int = 1) -> str:
        """A QN (logger local time, ms) later than every QN used so far; reserves ``parts`` ms."""
        ms = max(math.floor(self.logger_time(true_now) * 1000.0), self._last_qn_ms + 1)
        self._last_qn_ms = ms + parts - 1
        return format_qn(self.local(ms / 1000.0))

    def sk_create_time(self) -> str:
        """SKCreateTime of the current key: 17 digits, local time."""
        return format_qn(self.local(self.key_created))

    # ------------------------------------------------------------------------------ data

    def next_sample_time(self, t: float) -> float:
        """The next instant after ``t`` on the real-time grid (multiples of the interval)."""
        step = self.realtime_interval
        return (math.floor(t / step) + 1) * step

    def collect(self, t: float) -> list[Upload]:
        """Sample at true time ``t``; the uploads this produces (closed periods first)."""
        sample: Sample | None = self.model.sample(t)
        if self.injector:
            sample = self.injector.apply(sample) if sample is not None else None
        lt = self.logger_time(t)
        self.samples += 1
        if sample is None:
            self.deleted += 1
            closed = self.aggregator.close(lt)
        else:
            sample = replace(sample, time=lt)
            closed = self.aggregator.add(sample, self.realtime_interval)
        out = []
        for rec in closed:
            self.history[rec.cn].append(rec)
            out.append(Upload(int(rec.cn), rec.start, self.period_items(rec)))
            if rec.cn == "2051" and self.status_on:
                out.append(Upload(2021, rec.start, self.status_items(rec)))
        if sample is not None and self.realtime_on:
            out.append(Upload(2011, lt, self.realtime_items(sample)))
        return out

    def realtime_items(self, s: Sample) -> Items:
        items: Items = {}
        for code, value in s.values.items():
            d = self.factors[code].decimals
            item: dict[str, str] = {}
            st = s.sample_times.get(code)
            if st is not None:
                item["SampleTime"] = self.local_text(st + self.clock_offset)
            item["Rtd"] = fmt(value, d)
            zs = s.zs.get(code)
            if zs is not None:
                item["ZsRtd"] = fmt(zs, d)
            item["Flag"] = s.flags.get(code, "N")
            items[code] = item
        return items

    def period_items(self, rec: PeriodRecord) -> Items:
        items: Items = {}
        for v in rec.values:
            d = self.factors[v.code].decimals
            item: dict[str, str] = {}
            if v.cou is not None:
                item["Cou"] = fmt(v.cou, 4 if self.factors[v.code].cou_unit == "kg" else 2)
            item["Min"] = fmt(v.min, d)
            item["Avg"] = fmt(v.avg, d)
            item["Max"] = fmt(v.max, d)
            if v.zs_avg is not None and v.zs_min is not None and v.zs_max is not None:
                item["ZsMin"] = fmt(v.zs_min, d)
                item["ZsAvg"] = fmt(v.zs_avg, d)
                item["ZsMax"] = fmt(v.zs_max, d)
            item["Flag"] = v.flag
            items[v.code] = item
        return items

    def status_items(self, rec: PeriodRecord) -> Items:
        """2021: treatment facilities' state (``SBx-RS``: 0 off, 1 run, 3 maintenance)."""
        flags = {v.code: v.flag for v in rec.values}
        if self.config.kind == "flue_gas":
            stopped = flags.get("a00000") == "F" or flags.get("a21026") == "F"
            state = "0" if stopped else "1"
            return {"SB1": {"RS": state}, "SB2": {"RS": state}, "SB3": {"RS": state}}
        maint = any(f == "M" for f in flags.values())
        return {"SB1": {"RS": "1"}, "SB2": {"RS": "3" if maint else "1"}}

    def history_uploads(self, cn: int, begin: datetime, end: datetime) -> list[Upload]:
        """Uploads answering a history request: records whose period starts in [begin, end]."""
        records: Iterable[PeriodRecord] = self.history.get(str(cn), ())
        lo, hi = self.from_local(begin), self.from_local(end)
        return [Upload(cn, r.start, self.period_items(r)) for r in records if lo <= r.start <= hi]

    def adopt_key(self, new_key: str, created: datetime | None, wall_now: float, overlap: float) -> None:
        """CN 1014 from the centre: use ``new_key`` from now on; accept the old one for ``overlap`` s."""
        self.old_key, self.old_key_until = self.key, wall_now + overlap
        self.key = new_key.encode("ascii")
        if created is not None:
            self.key_created = self.from_local(created) - self.clock_offset

    def keys(self, wall_now: float) -> list[bytes | None]:
        """Keys to try on a received frame, current first."""
        out: list[bytes | None] = [self.key]
        if self.old_key is not None and wall_now < self.old_key_until:
            out.append(self.old_key)
        return out

    def settings(self) -> Mapping[str, str]:
        return {"RtdInterval": str(int(self.realtime_interval)), "MinInterval": str(self.min_interval_min)}
