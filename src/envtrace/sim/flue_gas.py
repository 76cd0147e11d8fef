"""A flue-gas CEMS at a coal power unit or an industrial coal boiler, as a pure function of time.

The unit follows a load curve (daily demand with morning and evening peaks, weekly and seasonal
terms, AGC wander; boilers run shifts and some stop on Sundays), with random outages preceded by a
ramp-down and followed by a start-up. What the CEMS reads follows from the load:

- **O2** (dry) rises as load falls (more excess air at part load), approaches 17-19 % during
  start-up and reads ambient air (20.9 %) while the unit is stopped.
- **CO2** (dry) is tied to O2 by coal's combustion relation ``CO2 = CO2max (21 - O2) / 21``
  (:func:`envtrace.sim.physics.co2_from_o2`), with analyser noise.
- **Flow** (standard, dry) is proportional to load and to the excess-air ratio ``21 / (21 - O2)``;
  velocity is the actual wet flow over the duct area (HJ 212-2017 appendix D turned round).
- **SO2, NOx, particulates**: the control systems (FGD, SCR, ESP/bag filter) hold the *corrected*
  concentration near a set point below the limit; excursions follow load ramps (control lag), low
  load (SCR below its temperature window), soot blowing, and rare control upsets that may exceed the
  limit; start-ups are dirty (controls not yet in service). The measured value is the corrected value
  turned back with the actual O2, plus analyser noise; above the analyser span it reads the span
  with flag T.
- **Flags**: N normally; F for every factor while the unit is stopped; C for the gas analysers
  during the daily automatic zero/span calibration (zero gas, then span gas); M during maintenance
  (probe out: ambient air); D when one analyser fails (it freezes); B when the analyser-logger link
  fails (everything repeats). Corrected values are absent under F, C and D.

Corrected values are computed from the reported (rounded) measured value and reported O2 by the
reference-O2 formula, then rounded (:func:`envtrace.sim.physics.with_correction`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from envtrace.sim.noise import Smooth, Stream
from envtrace.sim.physics import (
    FACTORS,
    O2_AIR,
    Sample,
    co2_from_o2,
    local_day_start,
    local_hour,
    round_half_up,
    weekday,
    with_correction,
    year_fraction,
)
from envtrace.sim.schedule import Episode, EpisodeSchedule, daily_window

__all__ = ["FLUE_GAS_CODES", "FlueGasModel", "FlueGasSpec"]

FLUE_GAS_CODES = (
    "a00000",
    "a01011",
    "a01012",
    "a01013",
    "a01014",
    "a19001",
    "a05001",
    "a21026",
    "a21002",
    "a34013",
    "a21005",
)
GAS_ANALYSERS = ("a21026", "a21002", "a19001", "a05001", "a21005")
PROBE_FACTORS = (*GAS_ANALYSERS, "a34013")
POLLUTANTS = ("a21026", "a21002", "a34013")

_HOUR = 3600.0
_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class FlueGasSpec:
    """The constants of one unit and its CEMS."""

    key: str
    """Seed of the unit's randomness (the station's MN is a good choice)."""
    unit_type: str  # "power" | "boiler"
    rated_mw: float
    o2_ref: float
    limits: dict[str, float]
    """Hourly limits of the corrected concentrations, mg/m3."""
    set_points: dict[str, float]
    """Corrected concentration the controls aim at, as a fraction of the limit."""
    spans: dict[str, float]
    """Analyser full ranges (measured concentration), mg/m3 (O2 and CO2 in %)."""
    o2_full_load: float = 5.8
    o2_part_load_rise: float = 4.0
    co2_max: float = 18.7
    flow_full: float = 500.0
    """Standard dry flow at full load, m3/s."""
    duct_area: float = 38.0
    stack_temp: float = 50.0
    moisture: float = 11.5
    calibration_hour: float = 2.0
    calibration_minutes: float = 15.0
    utc_offset_min: int = 480
    sunday_stop: bool = False
    outage_probability: float = 0.3
    """Chance of an outage in each 20-day block."""


class FlueGasModel:
    """``sample(t)``: what the unit's CEMS reports at Unix time ``t``."""

    STARTUP = 4.0 * _HOUR
    SHUTDOWN = 1.5 * _HOUR

    def __init__(self, spec: FlueGasSpec) -> None:
        self.spec = spec
        k = spec.key
        self.codes = FLUE_GAS_CODES
        self._white = Stream("white", k)
        self._agc = Smooth(900.0, "agc", k)
        self._drift = Smooth(6 * _HOUR, "load-drift", k)
        self._o2n = Smooth(1200.0, "o2", k)
        self._tn = Smooth(_HOUR, "temp", k)
        self._hn = Smooth(2 * _HOUR, "moisture", k)
        self._pn = Smooth(2 * _DAY, "baro", k)
        self._fn = Smooth(600.0, "flow", k)
        self._slow = {c: Smooth(2 * _HOUR, "slow", c, k) for c in POLLUTANTS}
        self._fast = {c: Smooth(1200.0, "fast", c, k) for c in POLLUTANTS}
        self._outages = EpisodeSchedule(
            "outage",
            k,
            block=20 * _DAY,
            probability=spec.outage_probability,
            min_len=8 * _HOUR,
            max_len=4 * _DAY,
        )
        self._upsets = EpisodeSchedule(
            "upset", k, block=_DAY, probability=0.07, min_len=1200.0, max_len=5400.0
        )
        self._soot = EpisodeSchedule("soot", k, block=_DAY / 2, probability=0.8, min_len=300, max_len=900)
        self._maint = EpisodeSchedule(
            "maintenance", k, block=30 * _DAY, probability=0.6, min_len=2 * _HOUR, max_len=5 * _HOUR
        )
        self._faults = EpisodeSchedule(
            "analyser-fault", k, block=45 * _DAY, probability=0.35, min_len=_HOUR, max_len=10 * _HOUR
        )
        self._comm = EpisodeSchedule(
            "comm-fault", k, block=60 * _DAY, probability=0.25, min_len=600.0, max_len=2 * _HOUR
        )

    # ------------------------------------------------------------------------------ operation

    def _stops(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """Stopped intervals overlapping [t0, t1): outages and (for some boilers) Sundays."""
        stops = [(e.start, e.end) for e in self._outages.between(t0, t1)]
        if self.spec.sunday_stop:
            off = self.spec.utc_offset_min
            day = local_day_start(t0, off)
            while day < t1:
                if weekday(day + 1.0, off) == 6:
                    stops.append((day, day + _DAY))
                day += _DAY
        return sorted(stops)

    def phase(self, t: float) -> tuple[str, float]:
        """('run' | 'startup' | 'shutdown' | 'stopped', progress in [0, 1])."""
        stops = self._stops(t - self.STARTUP - 5 * _DAY, t + self.SHUTDOWN)
        for a, b in stops:
            if a <= t < b:
                return "stopped", (t - a) / (b - a)
        ended = [b for a, b in stops if b <= t]
        if ended and t - ended[-1] < self.STARTUP:
            return "startup", (t - ended[-1]) / self.STARTUP
        coming = [a for a, b in stops if a > t]
        if coming and coming[0] - t < self.SHUTDOWN:
            return "shutdown", (coming[0] - t) / self.SHUTDOWN
        return "run", 1.0

    def demand(self, t: float) -> float:
        """Load the dispatcher asks for, fraction of rating, before start-ups and stops."""
        sp = self.spec
        h = local_hour(t, sp.utc_offset_min)
        yf = year_fraction(t)
        if sp.unit_type == "power":
            d = (
                0.74
                + 0.13 * _bump(h, 10.5, 2.2)
                + 0.16 * _bump(h, 19.5, 2.4)
                - 0.14 * _bump(h, 3.5, 2.6)
                + 0.05 * math.cos(2 * math.pi * (yf - 0.55))
                + 0.04 * math.cos(2 * math.pi * yf)
            )
            if weekday(t, sp.utc_offset_min) >= 5:
                d -= 0.06
            lo = 0.45
        else:  # an industrial boiler follows the shifts of its factory
            day_shift = _step(h, 6.5, 1.0) - _step(h, 22.0, 1.0)
            d = 0.45 + 0.4 * day_shift
            lo = 0.3
        d += 0.035 * self._agc(t) + 0.05 * self._drift(t)
        return min(1.0, max(lo, d))

    def load(self, t: float) -> float:
        ph, p = self.phase(t)
        if ph == "stopped":
            return 0.0
        d = self.demand(t)
        if ph == "startup":
            return max(0.08, d * _smoothstep(p))
        if ph == "shutdown":
            return max(0.05, d * p)
        return d

    # ------------------------------------------------------------------------------ values

    def _ambient_temp(self, t: float) -> float:
        return 15.0 - 12.0 * math.cos(2 * math.pi * (year_fraction(t) - 0.04))

    def _baro(self, t: float) -> float:
        return 101.3 + 0.8 * math.cos(2 * math.pi * year_fraction(t)) + 0.35 * self._pn(t)

    def _running(self, t: float, n: int) -> dict[str, float]:
        """True values while the unit burns coal (phase run, start-up or ramp-down)."""
        sp, w = self.spec, self._white
        ph, p = self.phase(t)
        load = self.load(t)
        o2 = sp.o2_full_load + sp.o2_part_load_rise * (1.0 - load) + 0.3 * self._o2n(t)
        dirty = 0.0  # 1 at light-off, 0 once controls are in service
        if ph == "startup":
            dirty = (1.0 - p) ** 2
            o2 = o2 + (17.5 - o2) * dirty
        elif ph == "shutdown":
            o2 = o2 + (17.0 - o2) * (1.0 - p) ** 2
        o2 = min(19.5, max(2.0, o2))
        alpha = 21.0 / (21.0 - o2)
        alpha_full = 21.0 / (21.0 - sp.o2_full_load)
        flow = sp.flow_full * load * alpha / alpha_full * (1.0 + 0.012 * self._fn(t))
        if sp.unit_type == "power":
            temp = sp.stack_temp - 4.0 * (1.0 - load) + 0.6 * self._tn(t)
        else:
            temp = sp.stack_temp - 30.0 * (1.0 - load) + 2.0 * self._tn(t)
        moist = sp.moisture * (0.85 + 0.15 * load) + 0.25 * self._hn(t)
        press = self._baro(t) + 0.15 + 0.35 * load
        # control: the corrected concentration sits near the set point
        slope = abs(self.load(t + 300.0) - self.load(t - 300.0)) * 6.0  # fraction of rating per hour
        ramp = min(1.5, slope / 0.25)
        upset = self._upsets.at(t)
        soot = self._soot.at(t)
        zs: dict[str, float] = {}
        for code in POLLUTANTS:
            limit = sp.limits[code]
            base = sp.set_points[code] * limit
            wander = 1.0 + 0.12 * self._slow[code](t) + 0.07 * self._fast[code](t)
            z = base * max(0.2, wander)
            if code == "a21026":
                z += 0.25 * limit * ramp
                z += dirty * 6.0 * limit
            elif code == "a21002":
                z += 0.3 * limit * ramp
                if sp.unit_type == "power":  # SCR below its temperature window at low load
                    z += 0.5 * limit * max(0.0, 0.55 - load) / 0.1
                z += dirty * 4.0 * limit
            else:
                z += dirty * 3.0 * limit
                if soot is not None:
                    z *= 1.8
            if upset is not None and (int(upset.draw * 3) == POLLUTANTS.index(code)):
                z *= 1.4 + 1.4 * math.sin(math.pi * (t - upset.start) / (upset.end - upset.start))
            zs[code] = z
        out = {
            "a00000": flow,
            "a01012": temp,
            "a01013": press,
            "a01014": moist,
            "a19001": o2 + 0.04 * w.normal(n * 16 + 1),
            "a05001": co2_from_o2(o2, sp.co2_max) * (1.0 + 0.004 * w.normal(n * 16 + 2)),
        }
        to_measured = (21.0 - o2) / (21.0 - sp.o2_ref)
        for code in POLLUTANTS:
            m = zs[code] * to_measured
            m += (0.012 * m + 0.04 * sp.spans[code] / 100.0) * w.normal(n * 16 + 3 + POLLUTANTS.index(code))
            out[code] = max(0.0, m)
        co = (
            (12.0 if sp.unit_type == "power" else 60.0) * (1.0 + 2.5 * max(0.0, 5.0 - o2)) * (1.0 + dirty * 4)
        )
        out["a21005"] = max(0.0, co * (1.0 + 0.08 * w.normal(n * 16 + 7)))
        out["a01011"] = self._velocity(flow, temp, moist, press)
        return out

    def _velocity(self, flow: float, temp: float, moist: float, press: float) -> float:
        actual = flow / (1.0 - moist / 100.0) * (273.15 + temp) / 273.15 * 101.325 / press
        return actual / self.spec.duct_area

    def _stopped(self, t: float, n: int, since: float) -> dict[str, float]:
        """A cold stack: ambient air through the probe, a trickle of draught."""
        sp, w = self.spec, self._white
        amb = self._ambient_temp(t)
        temp = amb + (sp.stack_temp + 20.0 - amb) * math.exp(-since / (6 * _HOUR)) + 0.3 * self._tn(t)
        o2 = O2_AIR - 0.25 * math.exp(-since / _HOUR) + 0.03 * w.normal(n * 16 + 1)
        flow = 0.004 * sp.flow_full * (1.0 + 0.3 * self._fn(t))
        press = self._baro(t) + 0.01
        out = {
            "a00000": flow,
            "a01012": temp,
            "a01013": press,
            "a01014": 1.5 + 0.2 * self._hn(t),
            "a19001": o2,
            "a05001": co2_from_o2(o2, sp.co2_max) + 0.04,
            "a21026": abs(0.3 * w.normal(n * 16 + 3)),
            "a21002": abs(1.0 * w.normal(n * 16 + 4)),
            "a34013": abs(0.2 * w.normal(n * 16 + 5)),
            "a21005": abs(0.5 * w.normal(n * 16 + 7)),
        }
        out["a01011"] = self._velocity(flow, temp, out["a01014"], press)
        return out

    def _true(self, t: float) -> tuple[dict[str, float], str]:
        n = _index(t)
        if self.phase(t)[0] == "stopped":
            a, _ = next((a, b) for a, b in self._stops(t - 6 * _DAY, t + 1.0) if a <= t < b)
            return self._stopped(t, n, t - a), "F"
        return self._running(t, n), "N"

    def sample(self, t: float) -> Sample:
        """The reported sample at ``t``: rounded values, per-factor flags, corrected values."""
        sp = self.spec
        values, base_flag = self._true(t)
        flags = dict.fromkeys(self.codes, base_flag)
        self._overlay(t, values, flags)
        for code in POLLUTANTS:
            span = sp.spans[code]
            if values[code] > span:
                values[code] = span
                if flags[code] == "N":
                    flags[code] = "T"
        rounded = {c: round_half_up(values[c], FACTORS[c].decimals) for c in self.codes}
        return with_correction(Sample(t, rounded, flags, load=self.load(t)), sp.o2_ref)

    def _overlay(self, t: float, values: dict[str, float], flags: dict[str, str]) -> None:
        """Calibration, maintenance and fault episodes on top of the process values."""
        sp, w = self.spec, self._white
        n = _index(t)
        comm = self._comm.at(t)
        if comm is not None:
            frozen, _ = self._true(comm.start)
            values.update(frozen)
            flags.update(dict.fromkeys(self.codes, "B"))
            return
        maint = self._maint.at(t)
        if maint is not None:
            values.update(
                {
                    "a19001": O2_AIR + 0.03 * w.normal(n * 16 + 8),
                    "a05001": 0.05,
                    "a21026": abs(0.3 * w.normal(n * 16 + 9)),
                    "a21002": abs(0.8 * w.normal(n * 16 + 10)),
                    "a34013": abs(0.2 * w.normal(n * 16 + 11)),
                    "a21005": abs(0.5 * w.normal(n * 16 + 12)),
                }
            )
            flags.update(dict.fromkeys(PROBE_FACTORS, "M"))
        cal = daily_window(t, sp.utc_offset_min, sp.calibration_hour, sp.calibration_minutes)
        if cal is not None and maint is None:
            zero = cal < 0.5
            for i, code in enumerate(GAS_ANALYSERS):
                if code == "a19001":
                    v = 0.05 if zero else O2_AIR
                elif code == "a05001":
                    v = 0.02 if zero else 12.0
                else:
                    v = 0.0 if zero else 0.8 * sp.spans.get(code, 200.0)
                values[code] = abs(v + (0.002 * v + 0.05) * w.normal(n * 16 + 12 + i))
                flags[code] = "C"
        fault = self._faults.at(t)
        if fault is not None and maint is None:
            code = POLLUTANTS[int(fault.draw * len(POLLUTANTS))]
            frozen, _ = self._true(fault.start)
            values[code] = frozen[code]
            flags[code] = "D"

    def fault_episodes(self, t0: float, t1: float) -> list[Episode]:
        """Analyser faults in [t0, t1) (for tests and documentation)."""
        return self._faults.between(t0, t1)


def _index(t: float) -> int:
    """Integer index of an instant for white noise (one draw per 10 ms)."""
    return round(t * 100.0)


def _bump(h: float, centre: float, width: float) -> float:
    d = (h - centre + 12.0) % 24.0 - 12.0
    return math.exp(-0.5 * (d / width) ** 2)


def _step(h: float, at: float, width: float) -> float:
    return 1.0 / (1.0 + math.exp(-(h - at) / (width / 4.0)))


def _smoothstep(p: float) -> float:
    p = min(1.0, max(0.0, p))
    return p * p * (3.0 - 2.0 * p)
