"""A wastewater outfall with online analysers, as a pure function of time.

- **Flow** (L/s) follows the daily pattern of the works it drains (a municipal plant: low before
  dawn, peaks late morning and evening; a factory: its shifts), with rain events that raise flow and
  dilute the effluent, and slow wander.
- **pH** drifts slowly around the plant's operating point, measured continuously.
- **COD, NH3-N, TP, TN** come from periodic analysers (one digestion/measurement cycle every hour,
  TN every two hours, at a station-specific minute): the real-time value is the last completed
  measurement, sent with ``-SampleTime`` (HJ 212-2017 table 4), so Min = Avg = Max within a short
  period is normal. Concentrations follow treatment performance (slow wander, diurnal loading,
  dilution by rain).
- **Flags**: N; C during each analyser's daily calibration cycle (a standard solution is measured and
  reported); M during the weekly maintenance hour.

Cumulative values (``-Cou``) are computed by the aggregator from flow and concentration: slice
discharge ``D = Q * T * 1e-3`` m3 and load ``G = D * C * 1e-3`` kg (HJ 212-2017 appendix D).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from envtrace.sim.noise import Smooth, Stream
from envtrace.sim.physics import FACTORS, Sample, local_hour, round_half_up, weekday
from envtrace.sim.schedule import EpisodeSchedule, daily_window

__all__ = ["WATER_CODES", "WastewaterModel", "WastewaterSpec"]

WATER_CODES = ("w00000", "w01001", "w01018", "w21003", "w21011", "w21001")
ANALYSERS = ("w01018", "w21003", "w21011", "w21001")
_CYCLE = {"w01018": 3600.0, "w21003": 3600.0, "w21011": 3600.0, "w21001": 7200.0}
_STANDARD = {"w01018": 50.0, "w21003": 5.0, "w21011": 0.5, "w21001": 15.0}
"""Concentration of the standard solution measured at calibration, mg/L."""
_HOUR = 3600.0
_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class WastewaterSpec:
    key: str
    works: str  # "municipal" | "industrial"
    design_flow: float
    """Mean dry-weather flow, L/s."""
    limits: dict[str, float]
    typical: dict[str, float]
    """Typical effluent concentration, mg/L (pH: operating point)."""
    cycle_offset_min: float = 7.0
    calibration_hour: float = 4.0
    maintenance_weekday: int = 2
    utc_offset_min: int = 480


class WastewaterModel:
    def __init__(self, spec: WastewaterSpec) -> None:
        self.spec = spec
        k = spec.key
        self.codes = WATER_CODES
        self._white = Stream("white", k)
        self._flow_n = Smooth(3 * _HOUR, "flow", k)
        self._ph_n = Smooth(8 * _HOUR, "ph", k)
        self._perf = {c: Smooth(10 * _HOUR, "perf", c, k) for c in ANALYSERS}
        self._rain = EpisodeSchedule(
            "rain", k, block=4 * _DAY, probability=0.45, min_len=3 * _HOUR, max_len=30 * _HOUR
        )

    def _diurnal(self, t: float) -> float:
        h = local_hour(t, self.spec.utc_offset_min)
        if self.spec.works == "municipal":
            return (
                1.0
                + 0.22 * math.sin(2 * math.pi * (h - 8.0) / 24.0)
                + 0.1 * math.sin(4 * math.pi * (h - 7.0) / 24.0)
            )
        shift = 1.0 / (1.0 + math.exp(-(h - 7.0) * 3.0)) - 1.0 / (1.0 + math.exp(-(h - 21.0) * 3.0))
        return 0.55 + 0.7 * shift

    def _rain_factor(self, t: float) -> float:
        ep = self._rain.at(t)
        if ep is None:
            return 1.0
        p = (t - ep.start) / (ep.end - ep.start)
        return 1.0 + (0.4 + 1.2 * ep.draw) * math.sin(math.pi * p)

    def flow(self, t: float) -> float:
        """True flow, L/s."""
        f = self.spec.design_flow * self._diurnal(t) * self._rain_factor(t) * (1.0 + 0.06 * self._flow_n(t))
        return max(0.0, f)

    def concentration(self, code: str, t: float) -> float:
        """True effluent concentration at ``t``, mg/L."""
        sp = self.spec
        dilution = 1.0 / math.pow(self._rain_factor(t), 0.6)
        h = local_hour(t, sp.utc_offset_min)
        loading = 1.0 + 0.12 * math.sin(2 * math.pi * (h - 13.0) / 24.0)
        c = sp.typical[code] * dilution * loading * math.exp(0.18 * self._perf[code](t))
        return max(0.0, c)

    def last_cycle(self, code: str, t: float) -> float:
        """Completion time of the latest measurement cycle of ``code`` at or before ``t``."""
        cycle = _CYCLE[code]
        off = self.spec.cycle_offset_min * 60.0 + 60.0 * ANALYSERS.index(code)
        return math.floor((t - off) / cycle) * cycle + off

    def sample(self, t: float) -> Sample:
        sp, w = self.spec, self._white
        n = round(t * 100.0)
        values: dict[str, float] = {}
        flags: dict[str, str] = {}
        sample_times: dict[str, float] = {}
        values["w00000"] = self.flow(t) * (1.0 + 0.015 * w.normal(n * 8 + 1))
        values["w01001"] = sp.typical["w01001"] + 0.25 * self._ph_n(t) + 0.03 * w.normal(n * 8 + 2)
        flags["w00000"] = flags["w01001"] = "N"
        for i, code in enumerate(ANALYSERS):
            done = self.last_cycle(code, t)
            m = round(done * 100.0)
            cal = daily_window(done - 1.0, sp.utc_offset_min, sp.calibration_hour, _CYCLE[code] / 60.0)
            if cal is not None:
                v = _STANDARD[code] * (1.0 + 0.01 * w.normal(m * 8 + 3 + i))
                flags[code] = "C"
            else:
                c = self.concentration(code, done)
                v = c * (1.0 + 0.03 * w.normal(m * 8 + 3 + i))
                flags[code] = "N"
            values[code] = max(0.0, v)
            sample_times[code] = done
        if (
            weekday(t, sp.utc_offset_min) == sp.maintenance_weekday
            and 10.0 <= local_hour(t, sp.utc_offset_min) < 11.0
        ):
            for code in ANALYSERS:
                flags[code] = "M"
        rounded = {c: round_half_up(v, FACTORS[c].decimals) for c, v in values.items()}
        return Sample(t, rounded, flags, sample_times=sample_times)
