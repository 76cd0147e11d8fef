"""Where the station reported its own value for a period, does the platform's recomputation agree?

Compared, for each new version of a valid hour or day that carries the station's own value:

``avg``
    the station's Avg (2061 hourly, 2031 daily) against the platform's mean, only when the platform's
    data cover the whole period and all of it is valid (every minute of the hour; every hour of the
    day, each so), so that a minute lost in transmission, or a calibration minute the station may
    have averaged in, is not taken for a disagreement.
``zs_avg``
    the station's ZsAvg against the recomputed corrected value. For a period recomputed from minute
    or real-time data (complete, as above) the admissible band is the correction of the hour's means
    and the mean of the per-record corrections (the two readings of HJ 212-2017 appendix D); for a
    station that sent only its hourly values, the correction of its own Avg and O2 Avg. A ZsAvg
    outside the band is the signature of a forged correction (a wrong reference O2, a fixed factor).
``cou``
    the station's Cou against the platform's period total: the volume for a flow (m³), the emitted or
    discharged mass for a pollutant (kg); for flue gas the band spans the standard-dry and the
    as-reported flow, since stations differ in which they total. Complete periods only.

A station value disagrees when its distance from the band exceeds ``ulps`` units of its last
printed decimal (the decimals are read from the value as stored: a trailing zero the station sent is
not seen, which only widens the tolerance) plus ``rel`` of the platform's value (``RollupOptions``:
1 % for avg, 2 % for zs_avg, 3 % for cou by default).
"""

from __future__ import annotations

import json

from envtrace.rollup import rules
from envtrace.rollup.options import RollupOptions, Tolerance
from envtrace.store.hourly import DisagreementDraft, JudgedValue


def decimals(x: float) -> int:
    """Decimals of ``x`` as printed in its shortest form (at most 6)."""
    text = repr(float(x))
    if "e" in text or "E" in text:
        return 6
    if "." not in text:
        return 0
    return min(6, len(text.split(".", 1)[1].rstrip("0")))


def _check(
    value: JudgedValue,
    field: str,
    station: float | None,
    candidates: list[float | None],
    tolerance: Tolerance,
    frame_id: int | None,
    unit: str | None = None,
) -> DisagreementDraft | None:
    got = [c for c in candidates if c is not None]
    if station is None or not got:
        return None
    lo, hi = min(got), max(got)
    d = decimals(station)
    distance = max(lo - station, station - hi, 0.0)
    allowed = tolerance.allowed(got[0], d)
    if distance <= allowed:
        return None
    alt = next((c for c in got[1:] if c != got[0]), None)
    return DisagreementDraft(
        station_id=value.station_id,
        parameter=value.parameter,
        granularity=value.granularity,
        period_ts=value.period_ts,
        version=value.version,
        field=field,
        station_value=station,
        platform_value=got[0],
        platform_alt=alt,
        difference=round(distance, 9),
        tolerance=round(allowed, 9),
        decimals=d,
        unit=unit if unit is not None else value.unit,
        station_frame_id=frame_id,
    )


def _num(detail: dict[str, object], key: str) -> float | None:
    x = detail.get(key)
    return float(x) if isinstance(x, int | float) else None


def disagreements(value: JudgedValue, options: RollupOptions) -> list[DisagreementDraft]:
    """The disagreements of one judged value with the station's own figures (module docstring)."""
    if not value.valid:
        return []
    detail: dict[str, object] = json.loads(value.detail)
    frame = detail.get("station_frame_id")
    frame_id = int(frame) if isinstance(frame, int) else None
    recomputed = value.source in ("min", "rtd") or (value.granularity == "day" and value.source == "hour")
    complete = bool(detail.get("complete")) and recomputed
    found: list[DisagreementDraft | None] = []
    if complete:
        found.append(_check(value, "avg", value.station_value, [value.value], options.avg, frame_id))
        if value.parameter in (rules.FLUE_FLOW, rules.WATER_FLOW):
            totals, unit = [value.volume_m3, _num(detail, "volume_alt")], "m3"
        else:
            totals, unit = [value.mass_kg, _num(detail, "mass_alt")], "kg"
        found.append(_check(value, "cou", value.station_cou, totals, options.cou, frame_id, unit))
    if value.zs_value is not None and (complete or not recomputed):
        band = [value.zs_value, _num(detail, "zs_alt")]
        found.append(_check(value, "zs_avg", value.station_zs_value, band, options.zs, frame_id))
    return [d for d in found if d is not None]
