"""Judged hourly values as the series the detectors read (``envtrace.detect.StationSeries``).

The roll-up judges each station-hour by the national rules (``envtrace.store.hourly``); live
detection gives the detectors what a benchmark case gives them, one grid point per hour, for the
parameters of :data:`DETECTED`:

- ``value``: what the station reported for the hour (its 2061 ``Avg``, kept beside the platform's
  recomputation), else the platform's hourly mean of its minute or real-time data. The detectors
  model what a data logger reports, and the reported average is what its reported corrected value
  belongs to; whether the reported hour agrees with the station's own minute data is the roll-up's
  comparison (``avg`` / ``zs_avg`` disagreements). Valid hours carry the normal flag, invalid ones
  the HJ 212 flag letter of the platform's reason (stopped F, maintenance M, calibration C, fault D,
  communication B, manual S, over range T); an hour without enough data (missing, too few minutes)
  is absent, like a gap in a case file;
- ``CODE-Zs``: the **station's own** corrected hourly value (``ZsAvg``): the reported correction is
  what a forged correction changes, so the detectors must see it, not the platform's formula;
- ``load`` of a flue-gas unit: HJ 212 carries no unit load, so the oxygen-free dry flue-gas flow
  ``Q x (21 - O2) / 21`` stands for it (proportional to the fuel burned; scale-free, which is all the
  load curves need). A stopped unit's hours (flag F) have load 0.

Parameter metadata: unit, analyser span and detection limit from the station's parameter registry;
the reference O2 of each corrected value as the roll-up applied it; limits from the station's own
hourly value rows in ``limit_rule`` (corrected flue-gas values), and for ambient PM2.5 and PM10 the
GB 3095 grade II 24-h limit in force (what ``threshold_shaving`` tests). National-table assignments
and selector rules are not resolved here (the roll-up's exceedances use them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from envtrace.detect import ParameterInfo, StationSeries
from envtrace.standards import ambient_limit_at
from envtrace.standards.validity import Reason
from envtrace.store.detect_state import ParameterFacts, StationFacts
from envtrace.store.hourly import JudgedValue, LimitRule

HOUR = 3600
CORRECTED = "-Zs"
LOAD = "load"
FLOW = "a00000"
O2 = "a19001"
AIR_O2 = 21.0

#: Station kinds of the registry -> the kind the detector suite knows (others keep their name and get
#: the detectors that need no kind-specific model: still values, quality, deletion).
DETECTOR_KIND = {"flue_gas": "source", "ambient": "ambient"}

#: HJ 212 flag letter (as its code) for each invalid-hour reason; reasons left out mean "absent".
REASON_FLAG: Mapping[int, int] = {
    Reason.STOPPED: ord("F"),
    Reason.INSTRUMENT_STOPPED: ord("F"),
    Reason.MAINTENANCE: ord("M"),
    Reason.CALIBRATION: ord("C"),
    Reason.FAULT: ord("D"),
    Reason.COMMS: ord("B"),
    Reason.MANUAL_VALUE: ord("S"),
    Reason.POWER_FAILURE: ord("D"),
    Reason.INSTRUMENT_ABNORMAL: ord("D"),
    Reason.OVER_RANGE: ord("T"),
    Reason.UNKNOWN_FLAG: ord("D"),
    Reason.NEGATIVE_VALUE: ord("D"),
    Reason.ZERO_FLOW: ord("D"),
    Reason.OUT_OF_PHYSICAL_RANGE: ord("D"),
    Reason.O2_AT_OR_ABOVE_AMBIENT: ord("D"),
    Reason.O2_ABOVE_CAP: ord("D"),
    Reason.MOISTURE_INVALID: ord("D"),
}
#: The parameters the detectors are given, by station kind (HJ 212-2017 codes): the pollutants, the
#: diluent gases and the process values the detector suite models. Weather, flue pressure, moisture
#: and velocity move slowly and would only add still-value look-alikes.
DETECTED: Mapping[str, frozenset[str]] = {
    "flue_gas": frozenset({"a21026", "a21002", "a34013", "a19001", "a05001", "a01012", FLOW}),
    "ambient": frozenset({"a34004", "a34002", "a21026", "a21004", "a21005", "a05024"}),
    "water": frozenset({"w01018", "w21003", "w21011", "w21001", "w01001", "w00000"}),
}
#: Ambient particulates whose 24-h limit the daily-mean detectors test (GB 3095 names).
AMBIENT_LIMITED = {"a34004": "PM2.5", "a34002": "PM10"}
SCOPE_RANK = {"permit": 0, "local": 1, "national": 2}


def detector_kind(kind: str) -> str:
    return DETECTOR_KIND.get(kind, kind)


def point(value: JudgedValue) -> tuple[float, int] | None:
    """The grid point of one judged hour: (value, flag code), or None when the hour is absent."""
    reported = value.station_value if value.station_value is not None else value.value
    x = math.nan if reported is None else float(reported)
    if value.valid:
        return (x, 0) if math.isfinite(x) else None
    flag = REASON_FLAG.get(value.reason)
    if flag is None:
        return None
    return x, flag


def station_limits(rules: Iterable[LimitRule], station_id: int, at: int) -> dict[str, float]:
    """The station's own hourly limit of each parameter in force at ``at`` (permit > local >
    national, then the latest effective-from)."""
    best: dict[str, tuple[tuple[int, int], float]] = {}
    for r in rules:
        if r.station_id != station_id or r.parameter is None or r.value is None or r.averaging != "1h":
            continue
        if (r.effective_from is not None and r.effective_from > at) or (
            r.effective_to is not None and r.effective_to <= at
        ):
            continue
        rank = (SCOPE_RANK.get(r.scope, 3), -(r.effective_from or 0))
        if r.parameter not in best or rank < best[r.parameter][0]:
            best[r.parameter] = (rank, float(r.value))
    return {code: value for code, (_, value) in best.items()}


def _num(x: float | None) -> float:
    return math.nan if x is None else float(x)


def parameter_info(
    facts: StationFacts,
    codes: Iterable[str],
    registry: Mapping[str, ParameterFacts],
    limits: Mapping[str, float],
    o2_refs: Mapping[str, float],
    *,
    at: int,
) -> dict[str, ParameterInfo]:
    """Metadata of each code (see the module docstring)."""
    out: dict[str, ParameterInfo] = {}
    for code in codes:
        base = code.removesuffix(CORRECTED)
        reg = registry.get(base)
        unit = (reg.unit if reg is not None else None) or ""
        if code.endswith(CORRECTED):
            o2_ref = o2_refs.get(base, _num(reg.o2_ref) if reg is not None else math.nan)
            out[code] = ParameterInfo(code, unit, limit=limits.get(base, math.nan), o2_ref=o2_ref)
            continue
        limit = math.nan
        if facts.kind == "ambient" and code in AMBIENT_LIMITED:
            limit = ambient_limit_at(AMBIENT_LIMITED[code], "24h", 2, at).value
        span = lod = math.nan
        if reg is not None:
            span, lod = _num(reg.span), _num(reg.lod)
        out[code] = ParameterInfo(code, unit, limit=limit, span=span, lod=lod)
    return out


def build_series(
    facts: StationFacts,
    rows: Sequence[JudgedValue],
    *,
    start: int,
    end: int,
    registry: Mapping[str, ParameterFacts],
    limits: Mapping[str, float],
) -> StationSeries | None:
    """The station's hours ``[start, end)`` (whole hours) as a series; None when no hour is present."""
    n = (end - start) // HOUR
    if n <= 0:
        return None
    values: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {}
    o2_refs: dict[str, float] = {}

    def column(code: str) -> tuple[np.ndarray, np.ndarray]:
        if code not in values:
            values[code] = np.full(n, np.nan)
            flags[code] = np.zeros(n, dtype=np.uint8)
        return values[code], flags[code]

    present = False
    wanted = DETECTED.get(facts.kind)
    for row in rows:
        if wanted is not None and row.parameter not in wanted:
            continue
        i = (row.period_ts - start) // HOUR
        if not 0 <= i < n or (row.period_ts - start) % HOUR:
            continue
        got = point(row)
        if got is None:
            continue
        present = True
        v, f = column(row.parameter)
        v[i], f[i] = got
        if row.station_zs_value is not None or (f[i] and row.o2_ref is not None):
            zv, zf = column(row.parameter + CORRECTED)
            zv[i] = math.nan if row.station_zs_value is None else float(row.station_zs_value)
            zf[i] = f[i]
        if row.o2_ref is not None:
            o2_refs.setdefault(row.parameter, float(row.o2_ref))
    if not present:
        return None
    kind = detector_kind(facts.kind)
    if kind == "source" and FLOW in values and O2 in values:
        _add_load(values, flags)
    return StationSeries(
        station_id=facts.mn,
        kind=kind,
        t0=start,
        step=HOUR,
        values=values,
        flags=flags,
        info=parameter_info(facts, values, registry, limits, o2_refs, at=end),
        utc_offset_s=facts.utc_offset_min * 60,
        lat=_num(facts.lat),
        lon=_num(facts.lon),
    )


def _add_load(values: dict[str, np.ndarray], flags: dict[str, np.ndarray]) -> None:
    flow, flow_flag = values[FLOW], flags[FLOW]
    o2 = values[O2]
    with np.errstate(invalid="ignore"):
        load = flow * (AIR_O2 - np.clip(o2, 0.0, AIR_O2)) / AIR_O2
    stopped = flow_flag == ord("F")
    load = np.where(stopped, 0.0, load)
    flag = np.where(stopped | (flow_flag == 0), 0, flow_flag).astype(np.uint8)
    values[LOAD] = np.where(np.isfinite(load) | stopped, load, np.nan)
    flags[LOAD] = flag


def hour_floor(ts: int) -> int:
    return ts - ts % HOUR


def distance_km(a: StationFacts, b: StationFacts) -> float:
    """Great-circle distance; infinite when a position is unknown."""
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return math.inf
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def neighbour_candidates(
    me: StationFacts, stations: Iterable[StationFacts], count: int
) -> list[StationFacts]:
    """The stations the detector suite may pick neighbours from (it picks by correlation): the
    ``count`` nearest enabled stations of the same kind in the province; without positions, those
    of the same city first."""
    if me.kind != "ambient" or count <= 0:
        return []
    others = [s for s in stations if s.kind == me.kind and s.enabled and s.id != me.id]
    others.sort(key=lambda s: (distance_km(me, s), s.city != me.city, s.id))
    return others[:count]
