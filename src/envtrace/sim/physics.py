"""What every simulated monitor shares: factor codes, samples, the O2 correction, day and year cycles.

Pure: no I/O, no clock. Times are Unix seconds (UTC); ``local`` helpers apply the station's UTC
offset (HJ 212 ``DataTime`` is local wall-clock time, China Standard Time by default).

Sources:
- Factor codes, units and value types: HJ 212-2017 appendix B (B.1 water, B.2 gas), as summarised in
  shared/specs/hj-standards.md §1.10; O3 as ``a05024`` (HJ 524 code used in practice, §1.10); CO2
  ``a05001`` (B.2, as in the falsification benchmark).
- Corrected (折算) concentration: HJ 212-2017 appendix D, reference-O2 form
  ``C = Csn_dry * (21 - O2s) / (21 - O2_dry)`` (hj-standards.md §1.11).
- Coal combustion: the dry CO2 of complete combustion falls linearly with excess O2,
  ``CO2 = CO2max * (21 - O2) / 21`` (CO2max about 18.5-19 % for bituminous coal). This is the
  relation a diluent (air) tamper breaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

__all__ = [
    "AMBIENT_FACTORS",
    "FACTORS",
    "NO_CORRECTION_FLAGS",
    "O2_AIR",
    "Factor",
    "Sample",
    "co2_from_o2",
    "corrected",
    "day_fraction",
    "local_day_start",
    "local_hour",
    "round_half_up",
    "solar_elevation",
    "weekday",
    "with_correction",
    "year_fraction",
]

O2_AIR = 20.9
"""O2 in dry ambient air, % (what a stopped stack and a probe in open air read)."""


@dataclass(frozen=True, slots=True)
class Factor:
    """One HJ 212 factor as the simulator reports it."""

    code: str
    name: str
    unit: str
    decimals: int
    cou_unit: str = ""
    """Unit of ``-Cou`` in period data ('' = the factor has no cumulative value)."""
    corrected: bool = False
    """True when the factor carries ``-ZsRtd`` / ``-ZsAvg`` (reference-O2 correction)."""


FACTORS: dict[str, Factor] = {
    f.code: f
    for f in (
        # Flue gas (HJ 212-2017 B.2). Flow is standard dry flow in m3/s; Cou in m3.
        Factor("a00000", "flue-gas flow", "m3/s", 2, cou_unit="m3"),
        Factor("a01011", "flue-gas velocity", "m/s", 2),
        Factor("a01012", "flue-gas temperature", "°C", 1),
        Factor("a01013", "flue-gas pressure (absolute)", "kPa", 2),
        Factor("a01014", "flue-gas moisture", "%", 2),
        Factor("a19001", "O2 (dry)", "%", 2),
        Factor("a05001", "CO2 (dry)", "%", 2),
        Factor("a21026", "SO2", "mg/m3", 2, cou_unit="kg", corrected=True),
        Factor("a21002", "NOx (as NO2)", "mg/m3", 1, cou_unit="kg", corrected=True),
        Factor("a34013", "particulate matter", "mg/m3", 2, cou_unit="kg", corrected=True),
        Factor("a21005", "CO", "mg/m3", 1, cou_unit="kg"),
        # Wastewater (B.1). Flow in L/s; Cou of flow in m3, of pollutants in kg.
        Factor("w00000", "wastewater flow", "L/s", 2, cou_unit="m3"),
        Factor("w01001", "pH", "", 2),
        Factor("w01018", "COD", "mg/L", 1, cou_unit="kg"),
        Factor("w21003", "NH3-N", "mg/L", 3, cou_unit="kg"),
        Factor("w21011", "total phosphorus", "mg/L", 3, cou_unit="kg"),
        Factor("w21001", "total nitrogen", "mg/L", 2, cou_unit="kg"),
        # Ambient air (B.2 + HJ 524 O3). Particulates in ug/m3 (configure per station, §1.10).
        Factor("a34004", "PM2.5", "ug/m3", 0),
        Factor("a34002", "PM10", "ug/m3", 0),
        Factor("a21004", "NO2", "ug/m3", 0),
        Factor("a05024", "O3", "ug/m3", 0),
        Factor("a01001", "air temperature", "°C", 1),
        Factor("a01002", "relative humidity", "%", 1),
        Factor("a01006", "air pressure", "kPa", 2),
        Factor("a01007", "wind speed", "m/s", 1),
        Factor("a01008", "wind direction", "°", 0),
    )
}

AMBIENT_FACTORS: dict[str, Factor] = {
    **{c: FACTORS[c] for c in ("a34004", "a34002", "a21004", "a05024", "a01001", "a01002", "a01006")},
    **{c: FACTORS[c] for c in ("a01007", "a01008")},
    # Ambient SO2 and CO share the source codes but not their units (hj-standards.md §5.3 item 6).
    "a21026": Factor("a21026", "SO2", "ug/m3", 0),
    "a21005": Factor("a21005", "CO", "mg/m3", 3),
}
"""Factors of an ambient station (units as the benchmark and the national release use them)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """What a data logger reports for one instant: values, flags, corrected values.

    ``values`` may lack a factor the logger did not report at that instant (deleted, or an analyser
    without a reading). ``zs`` holds the corrected values; ``sample_times`` the instant a periodic
    analyser (COD, NH3-N ...) took the sample behind its current value. ``load`` is the unit load as
    a fraction of rating (flue gas only; not sent, kept for the patterns and the tests).
    """

    time: float
    values: dict[str, float]
    flags: dict[str, str]
    zs: dict[str, float] = field(default_factory=dict)
    sample_times: dict[str, float] = field(default_factory=dict)
    load: float | None = None

    def drop(self, codes: tuple[str, ...]) -> Sample:
        """The same sample without the given factors."""
        keep = {c: v for c, v in self.values.items() if c not in codes}
        return replace(
            self,
            values=keep,
            flags={c: f for c, f in self.flags.items() if c in keep},
            zs={c: v for c, v in self.zs.items() if c in keep},
            sample_times={c: v for c, v in self.sample_times.items() if c in keep},
        )


def round_half_up(x: float, decimals: int) -> float:
    """Round as loggers print numbers (half away from zero), not banker's rounding."""
    scale = 10.0**decimals
    return math.copysign(math.floor(abs(x) * scale + 0.5 + 1e-9), x) / scale


def corrected(c: float, o2: float, o2_ref: float) -> float:
    """Reference-O2 correction ``c * (21 - o2_ref) / (21 - o2)`` (HJ 212-2017 appendix D)."""
    if o2 >= 21.0:
        raise ValueError(f"no O2 correction at O2 = {o2} % (>= 21)")
    return c * (21.0 - o2_ref) / (21.0 - o2)


def co2_from_o2(o2: float, co2_max: float) -> float:
    """Dry CO2 of complete coal combustion at dry O2 ``o2`` (CO2max at zero excess air)."""
    return co2_max * (21.0 - o2) / 21.0


NO_CORRECTION_FLAGS = frozenset("FCD")
"""No corrected value while the source is stopped (F), the analysers calibrate (C) or fail (D)."""


def with_correction(sample: Sample, o2_ref: float) -> Sample:
    """The sample with ``zs`` recomputed from its own (already rounded) values and O2.

    A factor gets a corrected value when it is a corrected factor, its flag and the O2 flag are not
    F, C or D, and O2 is below 20 %. The result is rounded to the factor's decimals, so it equals the
    formula on the reported numbers to within half a unit of the last digit.
    """
    o2 = sample.values.get("a19001")
    zs: dict[str, float] = {}
    if o2 is not None and o2 < 20.0 and sample.flags.get("a19001", "N") not in NO_CORRECTION_FLAGS:
        for code, value in sample.values.items():
            fac = FACTORS.get(code)
            if fac is None or not fac.corrected:
                continue
            if sample.flags.get(code, "N") in NO_CORRECTION_FLAGS:
                continue
            zs[code] = round_half_up(corrected(value, o2, o2_ref), fac.decimals)
    return replace(sample, zs=zs)


# ------------------------------------------------------------------------------ calendar and sun

_DAY = 86400.0


def local_hour(t: float, utc_offset_min: int) -> float:
    """Local clock hour in [0, 24)."""
    return ((t + utc_offset_min * 60) % _DAY) / 3600.0


def local_day_start(t: float, utc_offset_min: int) -> float:
    """Unix time of the local midnight that starts the day containing ``t``."""
    off = utc_offset_min * 60
    return math.floor((t + off) / _DAY) * _DAY - off


def day_fraction(t: float, utc_offset_min: int) -> float:
    return local_hour(t, utc_offset_min) / 24.0


def year_fraction(t: float) -> float:
    """Fraction of the year since 1 January (365.25-day years; 0 = early January)."""
    return ((t / _DAY - 0.5) % 365.25) / 365.25


def weekday(t: float, utc_offset_min: int) -> int:
    """0 = Monday ... 6 = Sunday, local time (1970-01-01 was a Thursday)."""
    return int((math.floor((t + utc_offset_min * 60) / _DAY) + 3) % 7)


def solar_elevation(t: float, lat: float, lon: float) -> float:
    """Solar elevation in degrees (declination and equation of time ignored beyond first order)."""
    doy = year_fraction(t) * 365.25
    decl = math.radians(-23.44 * math.cos(2.0 * math.pi * (doy + 10.0) / 365.25))
    solar_hour = ((t % _DAY) / 3600.0 + lon / 15.0) % 24.0
    ha = math.radians(15.0 * (solar_hour - 12.0))
    la = math.radians(lat)
    s = math.sin(la) * math.sin(decl) + math.cos(la) * math.cos(decl) * math.cos(ha)
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))
