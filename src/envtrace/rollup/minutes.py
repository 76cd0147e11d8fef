"""One parameter's hour judged on its own: which minutes its data cover, which are valid, its mean.

Minute data (HJ 212 CN 2051) are stamped with the start of their period and each covers the station's
minute interval (MinInterval: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30 minutes, HJ 212-2017 table 4),
inferred as the commonest step between consecutive records and rounded down to an allowed value: a
10-minute record vouches for 10 minutes of the hour, so that the 45-minute rule counts minutes, not
records. A real-time value (CN 2011) vouches for its own minute only (the HJ 212 appendix D minute
rule of 12 five-second readings cannot be checked on values sent every 30 s or more: envtrace rule).
When several values fall in one minute the most severe flag wins, so a minute is valid only if all
its values are. The hour's verdict then comes from ``envtrace.standards``: the CEMS rule for flue gas
(``cems_hourly_validity``), GB 3095 Table 4 for ambient air (``ambient_hourly_validity_from_flags``),
and the wastewater value and period rules (``standards.wastewater``).

A station that sends only its own hourly data (CN 2061) is judged by the flag it gave the hour.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from envtrace.standards import (
    FlagStatus,
    Reason,
    Validity,
    aggregate_flags,
    ambient_hourly_validity_from_flags,
    cems_hourly_validity,
    flag_rules,
    flag_status,
    flag_validity,
    wastewater,
)
from envtrace.store.hourly import PrimaryReading

MIN_INTERVALS_S = (60, 120, 180, 240, 300, 360, 600, 720, 900, 1200, 1800)
RTD_COVER_S = 60
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Records:
    """One parameter's records of one granularity within one hour, by time (NaN = no value)."""

    granularity: str
    times: npt.NDArray[np.int64]
    values: FloatArray
    mins: FloatArray
    maxs: FloatArray
    cous: FloatArray
    zs: FloatArray
    flags: tuple[str, ...]

    @classmethod
    def of(cls, granularity: str, readings: Sequence[PrimaryReading]) -> Records:
        def col(name: str) -> FloatArray:
            return np.array([_nan(getattr(r, name)) for r in readings], dtype=np.float64)

        return cls(
            granularity,
            np.array([r.data_ts for r in readings], dtype=np.int64),
            col("value"),
            col("min"),
            col("max"),
            col("cou"),
            col("zs_value"),
            tuple((r.flag or "").strip() or "N" for r in readings),
        )

    def __len__(self) -> int:
        return len(self.times)


def _nan(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def infer_interval(series_times: Iterable[npt.NDArray[np.int64]]) -> int:
    """The minute-data interval in seconds: the commonest step between consecutive records of the
    station's series, rounded down to an allowed MinInterval (60 s when there is no step to see)."""
    steps: Counter[int] = Counter()
    for t in series_times:
        d = np.diff(np.unique(t))
        steps.update(int(x) for x in d[d > 0])
    if not steps:
        return MIN_INTERVALS_S[0]
    top = max(steps.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    allowed = [s for s in MIN_INTERVALS_S if s <= top]
    return allowed[-1] if allowed else MIN_INTERVALS_S[0]


@dataclass(frozen=True, slots=True)
class Judged:
    """A parameter's hour on its own. ``used`` marks the records that enter the mean."""

    source: str
    valid: bool
    reason: int
    flag: str | None
    n_total: int | None
    n_valid: int | None
    n_stopped: int | None
    value: float | None
    vmin: float | None
    vmax: float | None
    records: Records | None
    used: npt.NDArray[np.bool_]
    cover_s: int

    @property
    def complete(self) -> bool:
        """Whether the data cover every minute of the hour (the station's own hourly value counts)."""
        return self.source == "hour" or self.n_total == 60


def _slots(rec: Records, hour_ts: int, cover_s: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(minute slot, record index) pairs of the minutes each record with a value covers."""
    present = np.flatnonzero(~np.isnan(rec.values))
    k = max(1, cover_s // 60)
    start = (rec.times[present] - hour_ts) // 60
    slot = (start[:, None] + np.arange(k)[None, :]).ravel()
    idx = np.repeat(present, k)
    keep = (slot >= 0) & (slot < 60)
    return slot[keep], idx[keep]


def minute_flags(
    rec: Records, hour_ts: int, cover_s: int, severity: dict[str, int]
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The flag of each minute of the hour (``""`` = no value; the most severe flag of the values that
    cover it), and the (slot, record) pairs."""
    slot, idx = _slots(rec, hour_ts, cover_s)
    names = sorted(set(rec.flags))
    rank = np.array([severity.get(f, 99) * 1000 + names.index(f) for f in rec.flags], dtype=np.int64)
    best = np.full(60, -1, dtype=np.int64)
    np.maximum.at(best, slot, rank[idx])
    grid = np.full(60, "", dtype="<U4")
    have = best >= 0
    grid[have] = [names[int(b % 1000)] for b in best[have]]
    return grid, slot, idx


def _severity(edition: str, system: str) -> dict[str, int]:
    return {f: rule.severity for f, rule in flag_rules(edition, system).items()}


def _spread(rec: Records, used: npt.NDArray[np.bool_]) -> tuple[float | None, float | None, float | None]:
    if not used.any():
        return None, None, None
    v = rec.values[used]
    lo = np.where(np.isnan(rec.mins[used]), v, rec.mins[used])
    hi = np.where(np.isnan(rec.maxs[used]), v, rec.maxs[used])
    return float(v.mean()), float(lo.min()), float(hi.max())


def judge_minutes(
    rec: Records,
    hour_ts: int,
    cover_s: int,
    *,
    kind: str,
    edition: str,
    pollutant: str | None = None,
    over_range_valid: bool = True,
) -> Judged:
    """A flue-gas or ambient parameter's hour from its minute or real-time data."""
    system = "ambient" if kind == "ambient" else "flue_gas"
    grid, slot, idx = minute_flags(rec, hour_ts, cover_s, _severity(edition, system))
    present = grid != ""
    status, reason = flag_status(np.where(present, grid, "N"), edition=edition, system=system)
    ok_slot = present & (
        (status == FlagStatus.VALID) | (over_range_valid & (status == FlagStatus.OVER_RANGE))
    )
    verdict: Validity
    if kind == "ambient":
        verdict = ambient_hourly_validity_from_flags(
            grid[None, :], edition=edition, pollutant=pollutant, over_range_valid=over_range_valid
        )
    else:
        verdict = cems_hourly_validity(
            grid[None, :], edition=edition, system=system, over_range_valid=over_range_valid
        )
    used = np.zeros(len(rec), dtype=bool)
    used[np.unique(idx)] = True
    bad = np.zeros(len(rec), dtype=bool)
    np.logical_or.at(bad, idx, ~ok_slot[slot])
    used &= ~bad
    mean, lo, hi = _spread(rec, used)
    flag = None
    if kind != "ambient" and len(rec):
        flag = str(aggregate_flags(np.array([rec.flags]), edition=edition, system=system)[0]) or None
    return Judged(
        source=rec.granularity,
        valid=bool(verdict.valid[0]),
        reason=int(verdict.reason[0]),
        flag=flag,
        n_total=int(present.sum()),
        n_valid=int(ok_slot.sum()),
        n_stopped=int((present & (reason == Reason.STOPPED)).sum()),
        value=mean,
        vmin=lo,
        vmax=hi,
        records=rec,
        used=used,
        cover_s=cover_s,
    )


def commonest_reason(reasons: npt.NDArray[np.int16]) -> int:
    """The commonest non-valid reason (ties to the higher code); MISSING when there is none."""
    bad = [int(r) for r in reasons if r != Reason.VALID]
    if not bad:
        return int(Reason.MISSING)
    counts = Counter(bad)
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def judge_water(
    rec: Records,
    hour_ts: int,
    cover_s: int,
    *,
    edition: str,
    flow_lps: FloatArray | None,
    is_flow: bool,
    is_ph: bool,
) -> Judged:
    """A wastewater parameter's hour: each value judged by ``standards.wastewater`` (flags, negative,
    zero flow, pH range; flow values by the flow rule), the hour by its count of valid values."""
    flags = np.array(rec.flags)
    if is_flow:
        v = wastewater.flow_validity(rec.values, flags, edition=edition)
    else:
        v = wastewater.value_validity(rec.values, flow_lps, flags, edition=edition, is_ph=is_ph)
    used = v.valid & ~np.isnan(rec.values)
    verdict = wastewater.period_validity([int(used.sum())], period="hourly")
    reason = int(verdict.reason[0])
    if not verdict.valid[0] and len(rec):
        reason = commonest_reason(v.reason)
    slot, idx = _slots(rec, hour_ts, cover_s)
    covered = np.unique(slot)
    valid_slots = np.unique(slot[used[idx]])
    stopped_slots = np.unique(slot[v.reason[idx] == Reason.STOPPED])
    mean, lo, hi = _spread(rec, used)
    flag = str(aggregate_flags(np.array([rec.flags]), edition=edition, system="wastewater")[0]) or None
    return Judged(
        source=rec.granularity,
        valid=bool(verdict.valid[0]),
        reason=reason,
        flag=flag,
        n_total=len(covered),
        n_valid=len(valid_slots),
        n_stopped=len(stopped_slots),
        value=mean,
        vmin=lo,
        vmax=hi,
        records=rec,
        used=used,
        cover_s=cover_s,
    )


def judge_reported(reported: PrimaryReading, *, kind: str, edition: str, is_ph: bool = False) -> Judged:
    """A parameter's hour (or day) when only the station's own period value exists: its flag decides."""
    flag = (reported.flag or "").strip() or "N"
    value = reported.value
    if kind == "water":
        v = wastewater.value_validity([_nan(value)], None, [flag], edition=edition, is_ph=is_ph)
    else:
        v = flag_validity([flag], edition=edition, system="ambient" if kind == "ambient" else "flue_gas")
        if value is None:
            v = Validity(np.array([False]), np.array([Reason.MISSING], dtype=np.int16))
    return Judged(
        source=reported.granularity,
        valid=bool(v.valid[0]),
        reason=int(v.reason[0]),
        flag=flag,
        n_total=None,
        n_valid=None,
        n_stopped=None,
        value=value,
        vmin=reported.min if reported.min is not None else value,
        vmax=reported.max if reported.max is not None else value,
        records=None,
        used=np.zeros(0, dtype=bool),
        cover_s=3600,
    )
