"""A station's hour: every parameter judged, then what needs several parameters (HJ 212-2017 appendix D).

Sources, per parameter: the station's minute data (2051) when it sent any for the hour, else its
real-time data (2011), else only its own hourly value (2061), judged by its flag. The station's own
hourly Avg, ZsAvg, Cou and flag are copied beside the platform's values, never used for them.

Flue gas
    The corrected value is recomputed from the hour's mean pollutant and mean O2,
    ``C * (21 - O2ref) / (21 - O2)`` (``standards.correct_to_reference_o2``, O2 guard included), for
    valid hours, with the reference O2 from the station's parameter registry, else the applicable
    limit, else the industry table (``envtrace.rollup.limits``). The mean of the per-record corrected
    values is kept as the admissible alternative (``detail.zs_alt``). The flow becomes m³/h
    (``flow_m3_per_h``) and, when the hour has valid temperature, absolute pressure (>= 50 kPa) and
    moisture, standard dry m³/h (``standard_dry_flow_m3_per_h``); the emission rate is
    ``emission_rate_kg_h`` of the measured (not corrected) mean and that flow, i.e. the hour's kg.
    Concentrations are taken as the dry standard values a CEMS reports (HJ 76); O2 as dry.
Wastewater
    Concentrations are flow-weighted over the hour's valid records (``wastewater.flow_weighted_mean``,
    each record weighted by its discharge ``Q * T``), pH and temperature arithmetically; the load is
    the hour's kg and the flow row's volume the hour's discharge (m³).
Ambient air
    Each pollutant on its own (GB 3095 Table 4); AQI in ``envtrace.rollup.air``.
Standard-sample checks (HJ 212-2025 CN 2062)
    For the station kinds of ``RollupOptions.standard_check_kinds`` (flue gas), a parameter's hour
    that overlaps a period in which its analyser was out of control after a failed check is invalid
    (``STANDARD_CHECK_FAILED``), before the corrections and emissions are worked out, so an
    out-of-control O2 or flow hour also withholds the corrected values and masses it feeds; the
    checks of the hour are listed in ``detail.standard_check`` (``envtrace.rollup.checks``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from envtrace.rollup import checks as standard_checks
from envtrace.rollup import rules, units
from envtrace.rollup.limits import StationLimits
from envtrace.rollup.minutes import (
    RTD_COVER_S,
    Judged,
    Records,
    judge_minutes,
    judge_reported,
    judge_water,
)
from envtrace.rollup.options import RollupOptions
from envtrace.standards import (
    Reason,
    correct_to_reference_o2,
    emission_rate_kg_h,
    flow_m3_per_h,
    ppm_to_mg_m3,
    standard_dry_flow_m3_per_h,
    wastewater,
)
from envtrace.store.hourly import PrimaryReading, StationContext, ValueDraft, canonical, clean

_PPM_SUBSTANCE = {"a21026": "SO2", "a21002": "NO2", "a21003": "NO", "a21004": "NO2", "a21005": "CO"}
MIN_ABSOLUTE_PRESSURE_PA = 50_000.0


@dataclass(slots=True)
class HourData:
    """Everything read for one station-hour: records by parameter and granularity."""

    hour_ts: int
    by_parameter: dict[str, dict[str, list[PrimaryReading]]] = field(default_factory=dict)


def unit_of(ctx: StationContext, parameter: str) -> str | None:
    """The unit a station sends a parameter in: configured, else (ambient) the AQI unit, else the
    registry's HJ 212 unit, else the HJ 212 appendix B default (flows, O2, mg/m³ for flue-gas and
    mg/L for wastewater concentrations)."""
    configured = ctx.configured_units.get(parameter)
    if configured:
        return units.canonical(configured)
    if ctx.kind == "ambient" and parameter in rules.AQI_UNITS:
        return rules.AQI_UNITS[parameter]
    found = units.canonical(ctx.registry_units.get(parameter) or rules.DEFAULT_UNITS.get(parameter))
    if found is not None:
        return found
    if ctx.kind == "flue_gas" and parameter not in rules.FLUE_GAS_AUXILIARY:
        return "mg/m3"  # HJ 212-2017 table B.2: the default unit of flue-gas concentrations
    if ctx.kind == "water" and parameter not in (rules.WATER_FLOW, *rules.WATER_ARITHMETIC):
        return "mg/L"  # HJ 212-2017 table B.1
    return None


def _judge_all(
    ctx: StationContext, data: HourData, cover_min_s: int, options: RollupOptions
) -> dict[str, Judged]:
    edition = rules.flag_edition(ctx.edition, data.hour_ts)
    out: dict[str, Judged] = {}
    water_flow = _water_flow_by_time(ctx, data, cover_min_s) if ctx.kind == "water" else {}
    for parameter, grans in sorted(data.by_parameter.items()):
        source = (
            "min"
            if grans.get("min")
            else "rtd"
            if grans.get("rtd")
            else "hour"
            if grans.get("hour")
            else None
        )
        if source is None:
            continue
        if source == "hour":
            out[parameter] = judge_reported(
                grans["hour"][0], kind=ctx.kind, edition=edition, is_ph=parameter == rules.WATER_PH
            )
            continue
        rec = Records.of(source, grans[source])
        cover = cover_min_s if source == "min" else RTD_COVER_S
        if ctx.kind == "water":
            flows = np.array([water_flow.get(int(t), np.nan) for t in rec.times]) if water_flow else None
            out[parameter] = judge_water(
                rec,
                data.hour_ts,
                cover,
                edition=edition,
                flow_lps=None if parameter == rules.WATER_FLOW else flows,
                is_flow=parameter == rules.WATER_FLOW,
                is_ph=parameter == rules.WATER_PH,
            )
        else:
            out[parameter] = judge_minutes(
                rec,
                data.hour_ts,
                cover,
                kind=ctx.kind,
                edition=edition,
                pollutant=rules.AMBIENT_POLLUTANTS.get(parameter),
                over_range_valid=options.over_range_valid,
            )
    return out


def _water_flow_by_time(ctx: StationContext, data: HourData, cover_min_s: int) -> dict[int, float]:
    grans = data.by_parameter.get(rules.WATER_FLOW, {})
    source = "min" if grans.get("min") else "rtd" if grans.get("rtd") else None
    if source is None:
        return {}
    f = units.factor(unit_of(ctx, rules.WATER_FLOW), "L/s")
    if f is None:
        return {}
    return {r.data_ts: r.value * f for r in grans[source] if r.value is not None}


def _valid_mean(j: Judged | None) -> float | None:
    return j.value if j is not None and j.valid and j.value is not None else None


@dataclass(frozen=True, slots=True)
class Flow:
    as_reported_m3_h: float | None
    standard_dry_m3_h: float | None
    basis: str

    @property
    def used(self) -> float | None:
        return self.standard_dry_m3_h if self.standard_dry_m3_h is not None else self.as_reported_m3_h


def flue_flow(ctx: StationContext, judged: Mapping[str, Judged], options: RollupOptions) -> Flow:
    q = _valid_mean(judged.get(rules.FLUE_FLOW))
    unit = unit_of(ctx, rules.FLUE_FLOW)
    if q is None or unit not in ("m3/s", "m3/h"):
        return Flow(None, None, "none")
    q_h = float(flow_m3_per_h([q], "m3/s" if unit == "m3/s" else "m3/h")[0])
    if options.flow_basis != "auto":
        return Flow(q_h, None, "as_reported")
    t = _valid_mean(judged.get(rules.FLUE_TEMPERATURE))
    p = _valid_mean(judged.get(rules.FLUE_PRESSURE))
    x = _valid_mean(judged.get(rules.FLUE_MOISTURE))
    pf = units.factor(unit_of(ctx, rules.FLUE_PRESSURE), "Pa")
    if t is None or p is None or x is None or pf is None:
        return Flow(q_h, None, "as_reported")
    p_pa = p * pf
    xsw = x / 100.0
    if p_pa < MIN_ABSOLUTE_PRESSURE_PA or not 0.0 <= xsw < 1.0:
        return Flow(q_h, None, "as_reported")
    qsn = float(standard_dry_flow_m3_per_h([q_h], [t], [p_pa], [xsw])[0])
    return Flow(q_h, qsn, "standard_dry")


def to_mg_m3(ctx: StationContext, parameter: str, value: float) -> float | None:
    unit = unit_of(ctx, parameter)
    if unit == "ppm" and parameter in _PPM_SUBSTANCE:
        return float(ppm_to_mg_m3([value], _PPM_SUBSTANCE[parameter])[0])
    f = units.factor(unit, "mg/m3")
    return None if f is None else value * f


def _zs_alt(pollutant: Judged, o2: Judged | None, o2_ref: float) -> float | None:
    """Mean of the per-record corrected values (records of both at the same instants)."""
    if o2 is None or pollutant.records is None or o2.records is None:
        return None
    if pollutant.source != o2.source:
        return None
    o2_at = {
        int(t): float(v) for t, v, u in zip(o2.records.times, o2.records.values, o2.used, strict=True) if u
    }
    pairs = [
        (float(v), o2_at[int(t)])
        for t, v, u in zip(pollutant.records.times, pollutant.records.values, pollutant.used, strict=True)
        if u and int(t) in o2_at
    ]
    if not pairs:
        return None
    c = correct_to_reference_o2([p[0] for p in pairs], [p[1] for p in pairs], o2_ref)
    good = c.values[c.validity.valid]
    return float(good.mean()) if good.size else None


@dataclass(frozen=True, slots=True)
class Extra:
    """What a draft adds to a parameter's own judgement."""

    zs_value: float | None = None
    zs_reason: int | None = None
    o2_ref: float | None = None
    o2: float | None = None
    volume_m3: float | None = None
    mass_kg: float | None = None
    detail: Mapping[str, object] = field(default_factory=dict)


def _flue_extras(
    ctx: StationContext,
    hour_ts: int,
    judged: Mapping[str, Judged],
    limits: StationLimits,
    options: RollupOptions,
) -> dict[str, Extra]:
    out: dict[str, Extra] = {}
    flow = flue_flow(ctx, judged, options)
    o2j = judged.get(rules.O2)
    if rules.FLUE_FLOW in judged:
        alt = flow.as_reported_m3_h if flow.standard_dry_m3_h is not None else None
        out[rules.FLUE_FLOW] = Extra(
            volume_m3=flow.used, detail={"flow_basis": flow.basis, "volume_alt": alt}
        )
    for parameter, j in judged.items():
        if parameter in rules.FLUE_GAS_AUXILIARY:
            continue
        ref, ref_source = limits.o2_ref(ctx, parameter, hour_ts, "1h")
        detail: dict[str, object] = {"o2_ref_source": ref_source}
        zs = zs_reason = o2_used = None
        if ref is not None and j.valid and j.value is not None:
            if o2j is None:
                zs_reason = int(Reason.MISSING)
            elif not o2j.valid or o2j.value is None:
                zs_reason = o2j.reason if o2j.reason else int(Reason.MISSING)
            else:
                o2_used = o2j.value
                c = correct_to_reference_o2([j.value], [o2j.value], ref)
                zs_reason = int(c.validity.reason[0])
                zs = float(c.values[0]) if c.validity.valid[0] else None
                detail["zs_alt"] = clean(_zs_alt(j, o2j, ref))
        mass = None
        if j.valid and j.value is not None and flow.used is not None:
            c_mg = to_mg_m3(ctx, parameter, j.value)
            if c_mg is not None:
                mass = float(emission_rate_kg_h([c_mg], [flow.used])[0])
                if flow.standard_dry_m3_h is not None and flow.as_reported_m3_h is not None:
                    detail["mass_alt"] = clean(float(emission_rate_kg_h([c_mg], [flow.as_reported_m3_h])[0]))
                detail["flow_basis"] = flow.basis
        out[parameter] = Extra(zs, zs_reason, ref, o2_used, None, mass, detail)
    return out


def _water_extras(ctx: StationContext, judged: Mapping[str, Judged], data: HourData) -> dict[str, Extra]:
    out: dict[str, Extra] = {}
    flow = judged.get(rules.WATER_FLOW)
    f = units.factor(unit_of(ctx, rules.WATER_FLOW), "L/s")
    flows: dict[int, float] = {}
    volume = None
    if flow is not None and f is not None:
        if flow.records is not None:
            q = flow.records.values * f
            ok = flow.used
            volume = float(wastewater.discharge_m3(q[ok], flow.cover_s).sum()) if ok.any() else None
            flows = {int(t): float(v) for t, v, u in zip(flow.records.times, q, ok, strict=True) if u}
        elif flow.valid and flow.value is not None:
            volume = float(wastewater.discharge_m3([flow.value * f], 3600)[0])
        out[rules.WATER_FLOW] = Extra(volume_m3=volume)
    for parameter, j in judged.items():
        if parameter == rules.WATER_FLOW or parameter in rules.WATER_ARITHMETIC:
            continue
        if j.records is None:
            mass = None
            if (
                j.valid
                and j.value is not None
                and flow is not None
                and flow.valid
                and flow.value is not None
                and f
            ):
                d = wastewater.discharge_m3([flow.value * f], 3600)
                mass = float(wastewater.load_kg([j.value], d)[0])
            out[parameter] = Extra(mass_kg=mass)
            continue
        if not flows:
            out[parameter] = Extra(detail={"mean": "arithmetic"})
            continue
        rec = j.records
        q = np.array([flows.get(int(t), np.nan) for t in rec.times])
        mean, _, load = wastewater.flow_weighted_mean(
            rec.values, np.where(np.isnan(q), 0.0, q), float(j.cover_s), j.used & ~np.isnan(q)
        )
        weighted = float(mean) if not math.isnan(float(mean)) else None
        out[parameter] = Extra(
            mass_kg=float(load) if j.used.any() else None,
            detail={"mean": "flow_weighted", "weighted_value": clean(weighted)},
        )
    return out


def station_hour(
    ctx: StationContext,
    data: HourData,
    *,
    cover_min_s: int,
    limits: StationLimits,
    options: RollupOptions,
    checks: standard_checks.StationChecks | None = None,
) -> list[ValueDraft]:
    """The drafts of every parameter the station has data for in the hour; ``checks``: the station's
    standard-sample checks deciding the hour (none: not judged by checks)."""
    judged, check_details = standard_checks.apply(
        _judge_all(ctx, data, cover_min_s, options), data.hour_ts, checks
    )
    if ctx.kind == "flue_gas":
        extras = _flue_extras(ctx, data.hour_ts, judged, limits, options)
    elif ctx.kind == "water":
        extras = _water_extras(ctx, judged, data)
    else:
        extras = {}
    edition = rules.rule_edition(ctx.kind, data.hour_ts)
    flag_ed = rules.flag_edition(ctx.edition, data.hour_ts)
    drafts = []
    for parameter, j in sorted(judged.items()):
        extra = extras.get(parameter, Extra())
        reported = data.by_parameter[parameter].get("hour", [None])[0]
        value = j.value
        weighted = extra.detail.get("weighted_value")
        if isinstance(weighted, float):
            value = weighted
        detail: dict[str, object] = {k: v for k, v in extra.detail.items() if k != "weighted_value"}
        # complete: every minute of the hour present and valid (the only hours compared with the station)
        detail.update(
            cover_s=j.cover_s, complete=j.complete and (j.source == "hour" or j.n_valid == j.n_total)
        )
        if reported is not None:
            detail["station_frame_id"] = reported.frame_id
        if parameter in check_details:
            detail["standard_check"] = check_details[parameter]
        if ctx.kind == "ambient" and parameter in rules.AMBIENT_POLLUTANTS:
            detail["pollutant"] = rules.AMBIENT_POLLUTANTS[parameter]
        drafts.append(
            ValueDraft(
                station_id=ctx.id,
                granularity="hour",
                parameter=parameter,
                period_ts=data.hour_ts,
                kind=ctx.kind,
                source=j.source,
                valid=j.valid,
                reason=j.reason,
                flag=j.flag,
                n_total=j.n_total,
                n_valid=j.n_valid,
                n_stopped=j.n_stopped,
                unit=unit_of(ctx, parameter),
                value=clean(value),
                vmin=clean(j.vmin),
                vmax=clean(j.vmax),
                zs_value=clean(extra.zs_value),
                zs_reason=extra.zs_reason,
                o2_ref=clean(extra.o2_ref),
                o2=clean(extra.o2),
                volume_m3=clean(extra.volume_m3),
                mass_kg=clean(extra.mass_kg),
                max_1h=None,
                max_8h=None,
                station_value=None if reported is None else clean(reported.value),
                station_zs_value=None if reported is None else clean(reported.zs_value),
                station_cou=None if reported is None else clean(reported.cou),
                station_flag=None if reported is None else reported.flag,
                edition=edition,
                flag_edition=flag_ed,
                rules=rules.RULES,
                detail=canonical({k: v for k, v in detail.items() if v is not None}),
            )
        )
    return drafts


def split_readings(hour_ts: int, readings: Sequence[PrimaryReading]) -> HourData:
    """The readings of one hour (``hour_ts <= data_ts < hour_ts + 3600``) grouped for :func:`station_hour`."""
    data = HourData(hour_ts)
    for r in readings:
        if hour_ts <= r.data_ts < hour_ts + 3600:
            data.by_parameter.setdefault(r.parameter, {}).setdefault(r.granularity, []).append(r)
    return data
