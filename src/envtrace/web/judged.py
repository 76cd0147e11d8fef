"""Validity-judged hourly and daily values of one station-parameter, for the console's charts.

Everything comes from the roll-up (``envtrace.store.hourly``): the current version of each judged
value with its verdict and reason, the corrected value the platform recomputed beside the one the
station reported, the exceedances and disagreements recorded on them, and the limit that applies
(``envtrace.web.limits``). Reasons are given as codes with their words in Chinese and English.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import Connection

from envtrace.rollup.limits import StationLimits
from envtrace.standards import Reason
from envtrace.store.console import judged_points
from envtrace.store.hourly import DisagreementRecord, ExceedanceRecord, disagreements, exceedances
from envtrace.web.i18n import Translator
from envtrace.web.limits import LimitOut, resolve, station_limits

ZH, EN = Translator("zh"), Translator("en")


class ReasonText(BaseModel):
    zh: str
    en: str


class ExceedanceOut(BaseModel):
    period_ts: int
    period_end: int
    value: float
    limit_value: float
    unit: str
    ratio: float
    basis: str = Field(description="corrected (at the limit's reference O2) or measured")
    o2_ref: float | None
    limit_source: str
    current: bool = Field(description="False once the value it was judged on was superseded")


class DisagreementOut(BaseModel):
    period_ts: int
    field: str = Field(description="avg (Avg), zs_avg (ZsAvg: the corrected value), cou (Cou)")
    station_value: float
    platform_value: float
    platform_alt: float | None
    difference: float
    tolerance: float
    unit: str | None
    station_frame_id: int | None
    current: bool


class JudgedSeriesOut(BaseModel):
    """Columnar judged values: ``value`` is the mean of the period's valid data (an invalid period
    keeps it for display only), ``zs`` the platform's corrected value, ``station_zs`` the station's
    own (ZsAvg), ``station_value`` its own Avg."""

    station_id: int
    parameter: str
    granularity: str
    start: int
    end: int
    unit: str | None
    ts: list[int]
    valid: list[bool]
    reason: list[int]
    value: list[float | None]
    vmin: list[float | None]
    vmax: list[float | None]
    zs: list[float | None]
    zs_reason: list[int | None]
    station_value: list[float | None]
    station_zs: list[float | None]
    flag: list[str | None]
    n_valid: list[int | None]
    n_total: list[int | None]
    source: list[str]
    reasons: dict[str, ReasonText] = Field(description="words of every reason code used, zh and en")
    limit: LimitOut | None
    exceedances: list[ExceedanceOut]
    disagreements: list[DisagreementOut]


def reason_words(code: int) -> ReasonText:
    try:
        name = Reason(code).name.lower()
    except ValueError:
        return ReasonText(zh=f"原因 {code}", en=f"reason {code}")
    return ReasonText(zh=ZH.t(f"validity.{name}"), en=EN.t(f"validity.{name}"))


def judged_series(
    conn: Connection,
    station_id: int,
    parameter: str,
    granularity: str,
    start: int,
    end: int,
    *,
    kind: str,
    limits: StationLimits | None = None,
) -> JudgedSeriesOut:
    """``limits``: the station's limit rows when the caller has them (cached), else read here."""
    rows = judged_points(conn, station_id, parameter, granularity, start, end)
    used = {r.reason for r in rows} | {r.zs_reason for r in rows if r.zs_reason is not None}
    unit = next((r.unit for r in reversed(rows) if r.unit), None)
    at = rows[-1].period_ts if rows else end - 1
    rows_of_limits = limits if limits is not None else station_limits(conn, station_id)
    limit = resolve(rows_of_limits, parameter, at, granularity, kind=kind, value_unit=unit)
    exc = [
        e
        for e in exceedances(
            conn, station_id=station_id, parameter=parameter, start=start, end=end, current_only=True
        )
        if e.granularity == granularity
    ]
    dis = [
        d
        for d in disagreements(
            conn, station_id=station_id, parameter=parameter, start=start, end=end, current_only=True
        )
        if d.granularity == granularity
    ]
    return JudgedSeriesOut(
        station_id=station_id,
        parameter=parameter,
        granularity=granularity,
        start=start,
        end=end,
        unit=unit,
        ts=[r.period_ts for r in rows],
        valid=[bool(r.valid) for r in rows],
        reason=[int(r.reason) for r in rows],
        value=[r.value for r in rows],
        vmin=[r.vmin for r in rows],
        vmax=[r.vmax for r in rows],
        zs=[r.zs_value for r in rows],
        zs_reason=[None if r.zs_reason is None else int(r.zs_reason) for r in rows],
        station_value=[r.station_value for r in rows],
        station_zs=[r.station_zs_value for r in rows],
        flag=[r.flag for r in rows],
        n_valid=[r.n_valid for r in rows],
        n_total=[r.n_total for r in rows],
        source=[r.source for r in rows],
        reasons={str(c): reason_words(int(c)) for c in sorted(used)},
        limit=limit,
        exceedances=[
            ExceedanceOut(
                period_ts=e.period_ts,
                period_end=e.period_end,
                value=e.value,
                limit_value=e.limit_value,
                unit=e.unit,
                ratio=e.ratio,
                basis=e.basis,
                o2_ref=e.o2_ref,
                limit_source=e.limit_source,
                current=e.current,
            )
            for e in _distinct_exceedances(exc)
        ],
        disagreements=[disagreement_out(d) for d in _distinct_disagreements(dis)],
    )


def _distinct_exceedances(items: list[ExceedanceRecord]) -> list[ExceedanceRecord]:
    """The newest record of each period (a re-judgement repeats a fact)."""
    newest = {(e.parameter, e.granularity, e.period_ts): e for e in items}
    return sorted(newest.values(), key=lambda e: e.period_ts)


def _distinct_disagreements(items: list[DisagreementRecord]) -> list[DisagreementRecord]:
    newest = {(d.parameter, d.granularity, d.period_ts, d.field): d for d in items}
    return sorted(newest.values(), key=lambda d: (d.period_ts, d.field))


def disagreement_out(d: DisagreementRecord) -> DisagreementOut:
    return DisagreementOut(
        period_ts=d.period_ts,
        field=d.field,
        station_value=d.station_value,
        platform_value=d.platform_value,
        platform_alt=d.platform_alt,
        difference=d.difference,
        tolerance=d.tolerance,
        unit=d.unit,
        station_frame_id=d.station_frame_id,
        current=d.current,
    )
