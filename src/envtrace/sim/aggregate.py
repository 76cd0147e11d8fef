"""Minute, hour and day data made from the real-time stream, as a data logger makes them.

Each period (HJ 212 2051 minute data at ``MinInterval``, 2061 hour, 2031 day; aligned to the
station's local clock and stamped with the period's **start**, hj-standards.md §1.9) is built from the
real-time samples that fall in it:

- **Flag** (HJ 212-2017 notes to tables C.16-C.18): flue gas and ambient air are N when at least 75 %
  of the samples are N, otherwise they carry the most frequent other flag; wastewater is abnormal as
  soon as one sample is (the most frequent abnormal flag).
- **Min / Avg / Max** over the valid (N) samples when the period is N, over all samples otherwise,
  so Min <= Avg <= Max always holds (rounding is monotonic).
- **Cou**: flow totals over every sample, ``sum(Q * dt)`` (m3; L/s times 1e-3 for wastewater);
  pollutant loads over samples with a valid (N or T) measurement, ``sum(Q * dt * C)`` in kg
  (1e-6 for mg/m3 with m3/s, 1e-6 for mg/L with L/s), HJ 212-2017 appendix D.
- **ZsAvg** is the reference-O2 formula on the period's own Avg and O2 Avg (so a platform can check it
  exactly); ZsMin / ZsMax are the extremes of the real-time corrected values, widened to include
  ZsAvg. No corrected values when the factor's or O2's period flag is F, C or D.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from envtrace.sim.physics import (
    NO_CORRECTION_FLAGS,
    Factor,
    Sample,
    corrected,
    local_day_start,
    round_half_up,
)

__all__ = ["PERIOD_CNS", "PeriodAggregator", "PeriodRecord", "PeriodValue", "period_start"]

PERIOD_CNS = ("2051", "2061", "2031")
_FLAG_ORDER = "FCMDBTS"
_COU_DECIMALS = {"m3": 2, "kg": 4}


@dataclass(frozen=True, slots=True)
class PeriodValue:
    code: str
    min: float
    avg: float
    max: float
    flag: str
    cou: float | None = None
    zs_min: float | None = None
    zs_avg: float | None = None
    zs_max: float | None = None


@dataclass(frozen=True, slots=True)
class PeriodRecord:
    """One 2051 / 2061 / 2031 upload: the period's start (Unix s) and its values."""

    cn: str
    start: float
    values: tuple[PeriodValue, ...]
    samples: int

    def value(self, code: str) -> PeriodValue:
        for v in self.values:
            if v.code == code:
                return v
        raise KeyError(code)


def period_start(cn: str, t: float, utc_offset_min: int, min_interval_min: int) -> float:
    """Start (Unix s) of the ``cn`` period containing ``t`` on the local clock."""
    if cn == "2031":
        return local_day_start(t, utc_offset_min)
    length = 3600.0 if cn == "2061" else min_interval_min * 60.0
    off = utc_offset_min * 60
    return math.floor((t + off) / length) * length - off


def period_length(cn: str, start: float, min_interval_min: int) -> float:
    if cn == "2031":
        return 86400.0
    return 3600.0 if cn == "2061" else min_interval_min * 60.0


class _Stats:
    __slots__ = ("cou", "flags", "n_all", "n_ok", "s_all", "s_ok", "v_all", "v_ok", "z_all", "z_ok")

    def __init__(self) -> None:
        self.flags: Counter[str] = Counter()
        self.n_all = self.n_ok = 0
        self.s_all = self.s_ok = 0.0
        self.v_all: list[float] = [math.inf, -math.inf]
        self.v_ok: list[float] = [math.inf, -math.inf]
        self.z_all: list[float] = [math.inf, -math.inf]
        self.z_ok: list[float] = [math.inf, -math.inf]
        self.cou = 0.0

    def add(self, value: float, flag: str, zs: float | None) -> None:
        self.flags[flag] += 1
        self.n_all += 1
        self.s_all += value
        _extend(self.v_all, value)
        if zs is not None:
            _extend(self.z_all, zs)
        if flag == "N":
            self.n_ok += 1
            self.s_ok += value
            _extend(self.v_ok, value)
            if zs is not None:
                _extend(self.z_ok, zs)


def _extend(mm: list[float], v: float) -> None:
    if v < mm[0]:
        mm[0] = v
    if v > mm[1]:
        mm[1] = v


class _Period:
    __slots__ = ("samples", "start", "stats")

    def __init__(self, start: float) -> None:
        self.start = start
        self.stats: dict[str, _Stats] = {}
        self.samples = 0


class PeriodAggregator:
    """Feed real-time samples in time order; get the periods they close."""

    def __init__(
        self,
        factors: dict[str, Factor],
        *,
        kind: str,
        utc_offset_min: int = 480,
        min_interval_min: int = 10,
        o2_ref: float | None = None,
    ) -> None:
        self.factors = factors
        self.kind = kind
        self.utc_offset_min = utc_offset_min
        self.min_interval_min = min_interval_min
        self.o2_ref = o2_ref
        self._open: dict[str, _Period] = {}
        self._flow_code = {"flue_gas": "a00000", "water": "w00000"}.get(kind)
        self._flow_scale = 1e-3 if kind == "water" else 1.0  # to m3 per s
        self._load_scale = 1e-6  # mg/m3 * m3 -> kg; mg/L * L -> kg

    def close(self, t: float) -> list[PeriodRecord]:
        """Close every open period that ends at or before ``t``; their records, in CN order."""
        out = []
        for cn in PERIOD_CNS:
            p = self._open.get(cn)
            if p is not None and p.start + period_length(cn, p.start, self.min_interval_min) <= t:
                del self._open[cn]
                if p.samples:
                    out.append(self._record(cn, p))
        return out

    def flush(self) -> list[PeriodRecord]:
        """Records of the periods still open (for a final partial period)."""
        out = [self._record(cn, p) for cn, p in self._open.items() if p.samples]
        self._open.clear()
        return out

    def add(self, sample: Sample, dt: float) -> list[PeriodRecord]:
        """Account ``sample`` (standing for ``dt`` seconds); first closes the periods it ends."""
        closed = self.close(sample.time)
        flow = sample.values.get(self._flow_code) if self._flow_code else None
        for cn in PERIOD_CNS:
            p = self._open.get(cn)
            if p is None:
                start = period_start(cn, sample.time, self.utc_offset_min, self.min_interval_min)
                p = self._open[cn] = _Period(start)
            p.samples += 1
            for code, value in sample.values.items():
                st = p.stats.get(code)
                if st is None:
                    st = p.stats[code] = _Stats()
                flag = sample.flags.get(code, "N")
                st.add(value, flag, sample.zs.get(code))
                fac = self.factors.get(code)
                if fac is None or not fac.cou_unit:
                    continue
                if code == self._flow_code:
                    st.cou += value * self._flow_scale * dt
                elif flow is not None and flag in ("N", "T"):
                    st.cou += (
                        flow
                        * self._flow_scale
                        * dt
                        * value
                        * self._load_scale
                        * (1e3 if self.kind == "water" else 1.0)
                    )
        return closed

    def _flag(self, st: _Stats) -> str:
        n_ok = st.flags.get("N", 0)
        if self.kind == "water":
            if n_ok == st.n_all:
                return "N"
        elif n_ok >= 0.75 * st.n_all:
            return "N"
        others = [(c, -_FLAG_ORDER.find(f), f) for f, c in st.flags.items() if f != "N"]
        return max(others)[2]

    def _record(self, cn: str, p: _Period) -> PeriodRecord:
        values: dict[str, PeriodValue] = {}
        for code, st in p.stats.items():
            d = self.factors[code].decimals if code in self.factors else 3
            flag = self._flag(st)
            if flag == "N":
                n, s, (lo, hi), z = st.n_ok, st.s_ok, st.v_ok, st.z_ok
            else:
                n, s, (lo, hi), z = st.n_all, st.s_all, st.v_all, st.z_all
            fac = self.factors.get(code)
            cou = None
            if fac is not None and fac.cou_unit:
                cou = round_half_up(st.cou, _COU_DECIMALS[fac.cou_unit])
            values[code] = PeriodValue(
                code,
                round_half_up(lo, d),
                round_half_up(s / n, d),
                round_half_up(hi, d),
                flag,
                cou,
                zs_min=z[0] if z[0] <= z[1] else None,
                zs_max=z[1] if z[0] <= z[1] else None,
            )
        if self.o2_ref is not None:
            self._correct(values)
        return PeriodRecord(cn, p.start, tuple(values.values()), p.samples)

    def _correct(self, values: dict[str, PeriodValue]) -> None:
        o2 = values.get("a19001")
        o2_ok = o2 is not None and o2.flag not in NO_CORRECTION_FLAGS and o2.avg < 20.0
        for code, v in list(values.items()):
            fac = self.factors.get(code)
            if fac is None or not fac.corrected:
                continue
            if not o2_ok or o2 is None or v.flag in NO_CORRECTION_FLAGS or self.o2_ref is None:
                values[code] = PeriodValue(code, v.min, v.avg, v.max, v.flag, v.cou)
                continue
            zs_avg = round_half_up(corrected(v.avg, o2.avg, self.o2_ref), fac.decimals)
            lo = zs_avg if v.zs_min is None else min(v.zs_min, zs_avg)
            hi = zs_avg if v.zs_max is None else max(v.zs_max, zs_avg)
            values[code] = PeriodValue(code, v.min, v.avg, v.max, v.flag, v.cou, lo, zs_avg, hi)
