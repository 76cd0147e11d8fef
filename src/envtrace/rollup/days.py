"""A station's day (its local calendar day) from the current judged hours of that day.

Flue gas
    valid from 20 valid hours (``standards.cems_daily_validity``, HJ 212-2017 appendix D); an invalid
    day's reason is STOPPED when stopped hours outnumber the other hours that are not valid, else
    INSUFFICIENT_HOURS (envtrace rule, as for hours). Mean, corrected mean and O2 are the means of the
    valid hours; the volume and the emission (kg, ``mass_t`` in tonnes) are sums over valid hours:
    invalid hours are not substituted (the HJ 75 substitution rules are UNVERIFIED and would make an
    estimate look like a measurement).
Wastewater
    valid from one valid hour (``standards.wastewater.period_validity``, UNVERIFIED reading of
    appendix D); concentrations flow-weighted over the hours valid for both the concentration and
    the flow (``wastewater.flow_weighted_mean`` on hourly means and volumes), loads and volume summed.
Ambient air
    the daily mean from 20 valid hourly means (``standards.daily_mean``, GB 3095 Table 4); for O3
    also the maximum 1-h mean and the daily maximum 8-h mean (``standards.daily_report_inputs``,
    HJ 663: 8-h means from 6 hours, the day's maximum from 14 of its 17 windows).

The station's own daily values (2031) are copied beside; a day with no judged hour but a station
daily value is judged by that value's flag.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from envtrace.rollup import rules
from envtrace.rollup.hours import unit_of
from envtrace.rollup.minutes import judge_reported
from envtrace.standards import (
    Reason,
    aggregate_flags,
    cems_daily_validity,
    daily_mean,
    daily_report_inputs,
    wastewater,
)
from envtrace.store.hourly import JudgedValue, PrimaryReading, StationContext, ValueDraft, canonical, clean

DAY_S = 86400


def local_day(ts: int, utc_offset_min: int) -> int:
    """Unix second of the local midnight that starts the day containing ``ts``."""
    off = utc_offset_min * 60
    return (ts + off) // DAY_S * DAY_S - off


def _mean(xs: Sequence[float]) -> float | None:
    return float(np.mean(xs)) if xs else None


def _valid(hours: Sequence[JudgedValue]) -> list[JudgedValue]:
    return [h for h in hours if h.valid and h.value is not None]


def _flue_reason(hours: Sequence[JudgedValue], n_valid: int) -> int:
    stopped = sum(1 for h in hours if h.reason == Reason.STOPPED)
    other = 24 - n_valid - stopped
    return int(Reason.STOPPED) if stopped > other else int(Reason.INSUFFICIENT_HOURS)


def _complete(hours: Sequence[JudgedValue]) -> bool:
    """Every hour of the day present, valid and complete (the only days compared with the station)."""
    return len(hours) == 24 and all(h.valid and bool(_detail(h).get("complete")) for h in hours)


def _detail(h: JudgedValue) -> dict[str, object]:
    out: dict[str, object] = json.loads(h.detail)
    return out


def _sum(xs: Sequence[float | None]) -> float | None:
    got = [x for x in xs if x is not None]
    return float(sum(got)) if got else None


@dataclass(slots=True)
class Fields:
    """The computed fields of one parameter's day."""

    valid: bool = False
    reason: int = int(Reason.MISSING)
    flag: str | None = None
    n_total: int | None = None
    n_valid: int | None = None
    n_stopped: int | None = None
    value: float | None = None
    vmin: float | None = None
    vmax: float | None = None
    zs_value: float | None = None
    o2_ref: float | None = None
    o2: float | None = None
    volume_m3: float | None = None
    mass_kg: float | None = None
    max_1h: float | None = None
    max_8h: float | None = None
    detail: dict[str, object] = field(default_factory=dict)


def _aggregate(hours: Sequence[JudgedValue], system: str) -> str | None:
    flags = np.array([[h.flag or "" for h in hours]])
    edition = hours[0].flag_edition or "HJ 212-2017"
    return str(aggregate_flags(flags, edition=edition, system=system)[0]) or None


def _day_of(
    ctx: StationContext, day_ts: int, parameter: str, hours: Sequence[JudgedValue], flows: dict[int, float]
) -> Fields:
    """One parameter's day from its judged hours (at least one)."""
    good = _valid(hours)
    n_valid = len(good)
    f = Fields(
        n_total=len(hours),
        n_valid=n_valid,
        n_stopped=sum(1 for h in hours if h.reason == Reason.STOPPED),
        value=_mean([h.value for h in good if h.value is not None]),
        vmin=min((h.vmin if h.vmin is not None else h.value or 0.0) for h in good) if good else None,
        vmax=max((h.vmax if h.vmax is not None else h.value or 0.0) for h in good) if good else None,
        detail={"complete": _complete(hours)},
    )
    if ctx.kind == "flue_gas":
        v = cems_daily_validity([n_valid])
        f.valid = bool(v.valid[0])
        f.reason = 0 if f.valid else _flue_reason(hours, n_valid)
        f.flag = _aggregate(hours, "flue_gas")
        zs = [h for h in good if h.zs_value is not None]
        f.zs_value = _mean([h.zs_value for h in zs if h.zs_value is not None])
        f.o2 = _mean([h.o2 for h in zs if h.o2 is not None])
        refs = {h.o2_ref for h in zs}
        f.o2_ref = refs.pop() if len(refs) == 1 else None
        f.volume_m3 = _sum([h.volume_m3 for h in good])
        f.mass_kg = _sum([h.mass_kg for h in good])
    elif ctx.kind == "water":
        v = wastewater.period_validity([n_valid], period="daily")
        f.valid, f.reason = bool(v.valid[0]), int(v.reason[0])
        f.flag = _aggregate(hours, "wastewater")
        f.volume_m3 = _sum([h.volume_m3 for h in good])
        f.mass_kg = _sum([h.mass_kg for h in good])
        both = [h for h in good if flows.get(h.period_ts) is not None]
        if parameter not in rules.WATER_ARITHMETIC and parameter != rules.WATER_FLOW and both:
            conc = np.array([h.value for h in both], dtype=np.float64)
            lps = np.array([flows[h.period_ts] / 3.6 for h in both])
            mean, _, _ = wastewater.flow_weighted_mean(conc, lps, 3600.0, np.ones(len(both), dtype=bool))
            if not math.isnan(float(mean)):
                f.value = float(mean)
                f.detail["mean"] = "flow_weighted"
    else:
        grid = np.full(24, np.nan)
        for h in good:
            grid[(h.period_ts - day_ts) // 3600] = h.value
        mean, v = daily_mean(grid[None, :])
        f.valid, f.reason = bool(v.valid[0]), int(v.reason[0])
        if f.valid:
            f.value = float(mean[0])
            f.max_1h = f.vmax
        if rules.AMBIENT_POLLUTANTS.get(parameter) == "O3":
            o3 = daily_report_inputs({"O3": grid[None, :]})
            max_1h, max_8h = float(o3["O3_1h_max"][0]), float(o3["O3_8h_max"][0])
            f.max_1h = None if math.isnan(max_1h) else max_1h
            f.max_8h = None if math.isnan(max_8h) else max_8h
        if parameter in rules.AMBIENT_POLLUTANTS:
            f.detail["pollutant"] = rules.AMBIENT_POLLUTANTS[parameter]
    return f


def station_day(
    ctx: StationContext,
    day_ts: int,
    hours: Sequence[JudgedValue],
    reported: Sequence[PrimaryReading],
) -> list[ValueDraft]:
    """Drafts of every parameter with a judged hour or a station daily value in the day."""
    by_param: dict[str, list[JudgedValue]] = {}
    for h in hours:
        if day_ts <= h.period_ts < day_ts + DAY_S:
            by_param.setdefault(h.parameter, []).append(h)
    own = {r.parameter: r for r in reported if r.granularity == "day" and r.data_ts == day_ts}
    flows: dict[int, float] = {}
    if ctx.kind == "water":
        for h in by_param.get(rules.WATER_FLOW, []):
            if h.valid and h.volume_m3 is not None:
                flows[h.period_ts] = h.volume_m3
    edition = rules.rule_edition(ctx.kind, day_ts)
    flag_ed = rules.flag_edition(ctx.edition, day_ts)
    drafts = []
    for parameter in sorted(set(by_param) | set(own)):
        mine = sorted(by_param.get(parameter, []), key=lambda h: h.period_ts)
        rep = own.get(parameter)
        source = "hour"
        if mine:
            f = _day_of(ctx, day_ts, parameter, mine, flows)
        elif rep is not None:
            j = judge_reported(rep, kind=ctx.kind, edition=flag_ed, is_ph=parameter == rules.WATER_PH)
            f = Fields(valid=j.valid, reason=j.reason, flag=j.flag, value=j.value, vmin=j.vmin, vmax=j.vmax)
            f.detail["complete"] = False
            source = "day"
        else:
            continue
        if rep is not None:
            f.detail["station_frame_id"] = rep.frame_id
        drafts.append(
            ValueDraft(
                station_id=ctx.id,
                granularity="day",
                parameter=parameter,
                period_ts=day_ts,
                kind=ctx.kind,
                source=source,
                valid=f.valid,
                reason=f.reason,
                flag=f.flag,
                n_total=f.n_total,
                n_valid=f.n_valid,
                n_stopped=f.n_stopped,
                unit=unit_of(ctx, parameter),
                value=clean(f.value),
                vmin=clean(f.vmin),
                vmax=clean(f.vmax),
                zs_value=clean(f.zs_value),
                zs_reason=None,
                o2_ref=clean(f.o2_ref),
                o2=clean(f.o2),
                volume_m3=clean(f.volume_m3),
                mass_kg=clean(f.mass_kg),
                max_1h=clean(f.max_1h),
                max_8h=clean(f.max_8h),
                station_value=None if rep is None else clean(rep.value),
                station_zs_value=None if rep is None else clean(rep.zs_value),
                station_cou=None if rep is None else clean(rep.cou),
                station_flag=None if rep is None else rep.flag,
                edition=edition,
                flag_edition=flag_ed,
                rules=rules.RULES,
                detail=canonical({k: v for k, v in f.detail.items() if v is not None}),
            )
        )
    return drafts
