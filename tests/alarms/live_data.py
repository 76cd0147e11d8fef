"""Synthetic data for the live-detection tests: a coal unit's hours as the roll-up would judge them,
and as the station would send them (HJ 212 2061 hour data).

The unit is ``tests.detect.conftest.flue_unit`` (load curve, O2/CO2, stops, calibrations, faults);
its flue-gas flow is made from the load and O2 (``Q = load x 1000 x 21 / (21 - O2)``, so the load
live detection derives from flow and O2 is the unit's load again, in other units).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from tests.detect.conftest import flue_unit

from envtrace.detect import StationSeries
from envtrace.standards.validity import Reason
from envtrace.store.hourly import ValueDraft

SOURCE_CODES = ("a19001", "a05001", "a21026", "a21002", "a34013", "a00000")
CORRECTED = ("a21026", "a21002", "a34013")
UNITS = {"a19001": "%", "a05001": "%", "a00000": "m3/h"}
REASONS = {ord("F"): Reason.STOPPED, ord("C"): Reason.CALIBRATION, ord("D"): Reason.FAULT}


def unit_with_flow(days: int, seed: int = 1) -> StationSeries:
    """``flue_unit`` with a flue-gas flow column ``a00000``."""
    unit = flue_unit(days=days, seed=seed)
    o2 = unit.values["a19001"]
    with np.errstate(invalid="ignore", divide="ignore"):
        flow = np.round(unit.values["load"] * 1000.0 * 21.0 / (21.0 - o2), 0)
    values = {**unit.values, "a00000": flow}
    flags = {**unit.flags, "a00000": unit.flags["load"].copy()}
    return StationSeries(unit.station_id, unit.kind, unit.t0, unit.step, values, flags, unit.info)


def _recorrected(values: dict[str, np.ndarray], codes: Iterable[str], sel: slice) -> None:
    """The logger's corrected values of the changed hours, by the formula (O2 reference 6 %)."""
    o2 = values["a19001"][sel]
    for code in codes:
        values[code + "-Zs"][sel] = np.round(values[code][sel] * (21.0 - 6.0) / (21.0 - o2), 2)


def diluted(unit: StationSeries, start: int, hours: int, keep: float = 0.65) -> StationSeries:
    """Air into the sample after the O2 cell, O2 reported undiluted (``diluent_tamper``): CO2 and the
    pollutants drop to ``keep``, the logger corrects the diluted values; O2 stays."""
    values = {c: v.copy() for c, v in unit.values.items()}
    sel = slice(start, start + hours)
    for code in ("a05001", *CORRECTED):
        values[code][sel] = np.round(values[code][sel] * keep, 2)
    _recorrected(values, CORRECTED, sel)
    return StationSeries(unit.station_id, unit.kind, unit.t0, unit.step, values, unit.flags, unit.info)


def frozen(unit: StationSeries, code: str, start: int, hours: int) -> StationSeries:
    """One pollutant repeats its value (its corrected value then follows O2 only)."""
    values = {c: v.copy() for c, v in unit.values.items()}
    sel = slice(start, start + hours)
    values[code][sel] = values[code][start]
    _recorrected(values, [code], sel)
    return StationSeries(unit.station_id, unit.kind, unit.t0, unit.step, values, unit.flags, unit.info)


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def judged(station_id: int, unit: StationSeries, start: int, stop: int) -> list[ValueDraft]:
    """Judged hourly values of grid points ``start .. stop-1``, as the roll-up stores them (the
    station's own corrected value beside each pollutant)."""
    out = []
    for i in range(max(0, start), min(unit.n, stop)):
        ts = int(unit.t0 + i * unit.step)
        for code in SOURCE_CODES:
            v = float(unit.values[code][i])
            f = int(unit.flags[code][i])
            if f == 0 and not math.isfinite(v):
                continue
            zs = float(unit.values[code + "-Zs"][i]) if code in CORRECTED else math.nan
            out.append(
                ValueDraft(
                    station_id=station_id,
                    granularity="hour",
                    parameter=code,
                    period_ts=ts,
                    kind="flue_gas",
                    source="hour",
                    valid=f == 0,
                    reason=int(REASONS.get(f, Reason.VALID if f == 0 else Reason.FAULT)),
                    flag="N" if f == 0 else chr(f),
                    n_total=60,
                    n_valid=60 if f == 0 else 0,
                    n_stopped=60 if f == ord("F") else 0,
                    unit=UNITS.get(code, "mg/m3"),
                    value=_num(v),
                    vmin=_num(v),
                    vmax=_num(v),
                    zs_value=_num(zs),
                    zs_reason=None,
                    o2_ref=6.0 if code in CORRECTED else None,
                    o2=None,
                    volume_m3=None,
                    mass_kg=None,
                    max_1h=None,
                    max_8h=None,
                    station_value=_num(v),
                    station_zs_value=_num(zs),
                    station_cou=None,
                    station_flag="N" if f == 0 else chr(f),
                    edition="HJ 212-2017",
                    flag_edition="2017",
                    rules="test",
                    detail="{}",
                )
            )
    return out


def hour_readings(unit: StationSeries, i: int) -> Iterable[tuple[str, float | None, str, float | None]]:
    """The 2061 items of grid point ``i``: (code, Avg, flag letter, ZsAvg)."""
    for code in SOURCE_CODES:
        v = float(unit.values[code][i])
        f = int(unit.flags[code][i])
        if f == 0 and not math.isfinite(v):
            continue
        zs = float(unit.values[code + "-Zs"][i]) if code in CORRECTED else math.nan
        yield code, _num(v), "N" if f == 0 else chr(f), _num(zs)
