"""Flue-gas conversions: reference-O2 correction, dry basis, standard state, ppm <-> mg/m³, emission rate.

Implements the formulas of HJ 212-2017 appendix D (informative, citing HJ/T 75-2007 and HJ/T 76-2007):

* reference-O2 (折算) concentration ``C = C_meas * (21 - O2_ref) / (21 - O2)`` and the excess-air
  form ``C = C_meas * alpha / alpha_s`` with ``alpha = 21 / (21 - O2)``; O2 is the dry-basis volume %;
* dry basis ``C_dry = C_wet / (1 - Xsw)`` (Xsw the moisture volume fraction, 0-1), same for O2;
* standard state ``Csn = Cs * (273 + ts) / 273 * 101325 / (Ba + Ps)`` (ts in °C, Ba + Ps in Pa);
* ``C_mass = M / 22.4 * C_ppm`` (mg/m³ from µmol/mol), NOx expressed as NO2;
* standard dry flow ``Qsn = Q * 273 / (273 + ts) * (Ba + Ps) / 101325 * (1 - Xsw)`` and emission rate
  ``G = C * Qsn * 1e-6`` kg/h, totals in tonnes.

Constants (273, 101325 Pa, 22.4 L/mol, 21 % O2, the O2 cap) are in ``tables/conversion_constants.csv``,
molar masses in ``tables/molar_masses.csv``, reference O2 per industry in ``tables/reference_o2.csv``.

The O2 guard: ``O2 >= 21 %`` makes the correction undefined (reason O2_AT_OR_ABOVE_AMBIENT); O2 above the
cap (19 % by default, UNVERIFIED practice, configurable) makes it unsuitable: the reading is flue gas so
diluted that the corrected value multiplies noise (reason O2_ABOVE_CAP). Such values are invalid by
default; ``above_cap="stopped"`` marks them STOPPED instead, as platforms do that treat near-ambient O2
as "not firing". Negative O2 is invalid.

Flow units: HJ 212 sends ``a00000`` in m³/s, while some devices and files use m³/h; :func:`flow_m3_per_h`
converts and the unit must be configured per station (never inferred).

Leaves out: velocity-to-flow from pitot readings (``Vs = Kv * Vp``), the sampling-point area, and any
moisture estimate; the callers pass measured values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import numpy.typing as npt

from envtrace.standards import tables
from envtrace.standards.errors import InvalidInput, TableError, UnknownItem
from envtrace.standards.validity import Reason, Validity

FloatArray = npt.NDArray[np.float64]


@cache
def constant(name: str) -> float:
    """A constant from ``tables/conversion_constants.csv``."""
    for row in tables.load("conversion_constants"):
        if row["name"] == name:
            return tables.number("conversion_constants", row, "value")
    raise TableError("conversion_constants", f"no constant {name!r}")


@cache
def molar_mass(substance: str) -> float:
    """Molar mass in g/mol (``tables/molar_masses.csv``)."""
    known = {row["substance"]: row for row in tables.load("molar_masses")}
    if substance not in known:
        raise UnknownItem("substance", substance, list(known))
    return tables.number("molar_masses", known[substance], "molar_mass_g_mol")


@dataclass(frozen=True, slots=True)
class ReferenceO2:
    industry: str
    facility: str
    o2_ref_pct: float
    standard: str
    source: str
    status: str


def reference_o2(industry: str, facility: str) -> ReferenceO2:
    """The reference O2 of an emission standard for a kind of plant (``tables/reference_o2.csv``)."""
    rows = tables.load("reference_o2")
    for row in rows:
        if row["industry"] == industry and row["facility"] == facility:
            return ReferenceO2(
                industry,
                facility,
                tables.number("reference_o2", row, "o2_ref_pct"),
                row["standard"],
                row["source"],
                row["status"],
            )
    raise UnknownItem(
        "industry/facility", f"{industry}/{facility}", [f"{r['industry']}/{r['facility']}" for r in rows]
    )


@dataclass(frozen=True, slots=True)
class Corrected:
    """Corrected values (NaN where not valid) with their validity."""

    values: FloatArray
    validity: Validity


def _o2_guard(
    o2: FloatArray, cap: float | None, above_cap: Literal["invalid", "stopped"]
) -> npt.NDArray[np.int16]:
    ambient = constant("ambient_o2")
    reason = np.full(o2.shape, Reason.VALID, dtype=np.int16)
    limit = constant("o2_cap") if cap is None else cap
    if not 0 < limit <= ambient:
        raise InvalidInput(f"O2 cap must be in (0, {ambient}] %, got {limit}", limit)
    over = o2 > limit
    reason[over] = Reason.STOPPED if above_cap == "stopped" else Reason.O2_ABOVE_CAP
    reason[o2 >= ambient] = Reason.O2_AT_OR_ABOVE_AMBIENT
    reason[o2 < 0] = Reason.OUT_OF_PHYSICAL_RANGE
    reason[np.isnan(o2)] = Reason.MISSING
    return reason


def correct_to_reference_o2(
    concentration: npt.ArrayLike,
    o2_pct: npt.ArrayLike,
    o2_ref_pct: float | npt.ArrayLike,
    *,
    o2_cap_pct: float | None = None,
    above_cap: Literal["invalid", "stopped"] = "invalid",
) -> Corrected:
    """``C * (21 - O2_ref) / (21 - O2)`` with the O2 guard (module docstring). Dry-basis O2 expected.

    >>> correct_to_reference_o2([100.0], [9.0], 6.0).values.tolist()
    [125.0]
    """
    c = np.asarray(concentration, dtype=np.float64)
    o2 = np.broadcast_to(np.asarray(o2_pct, dtype=np.float64), c.shape)
    ref = np.broadcast_to(np.asarray(o2_ref_pct, dtype=np.float64), c.shape)
    ambient = constant("ambient_o2")
    reason = _o2_guard(o2, o2_cap_pct, above_cap)
    reason[np.isnan(c) & (reason == Reason.VALID)] = Reason.MISSING
    ok = reason == Reason.VALID
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ok, c * (ambient - ref) / (ambient - o2), np.nan)
    return Corrected(out, Validity(ok, reason))


def correct_by_excess_air(
    concentration: npt.ArrayLike,
    o2_pct: npt.ArrayLike,
    alpha_ref: float,
    *,
    o2_cap_pct: float | None = None,
    above_cap: Literal["invalid", "stopped"] = "invalid",
) -> Corrected:
    """``C * alpha / alpha_s`` with ``alpha = 21 / (21 - O2)`` (HJ 212-2017 appendix D), O2 guarded.

    >>> correct_by_excess_air([100.0], [9.0], 1.4).values.round(4).tolist()
    [125.0]
    """
    if alpha_ref <= 0:
        raise InvalidInput(f"reference excess-air coefficient must be positive, got {alpha_ref}", alpha_ref)
    c = np.asarray(concentration, dtype=np.float64)
    o2 = np.broadcast_to(np.asarray(o2_pct, dtype=np.float64), c.shape)
    ambient = constant("ambient_o2")
    reason = _o2_guard(o2, o2_cap_pct, above_cap)
    reason[np.isnan(c) & (reason == Reason.VALID)] = Reason.MISSING
    ok = reason == Reason.VALID
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = ambient / (ambient - o2)
        out = np.where(ok, c * alpha / alpha_ref, np.nan)
    return Corrected(out, Validity(ok, reason))


def to_dry_basis(wet: npt.ArrayLike, moisture_fraction: npt.ArrayLike) -> Corrected:
    """``C_dry = C_wet / (1 - Xsw)``; Xsw is a fraction (a01014 sends %: divide by 100 first)."""
    c = np.asarray(wet, dtype=np.float64)
    x = np.broadcast_to(np.asarray(moisture_fraction, dtype=np.float64), c.shape)
    reason = np.full(c.shape, Reason.VALID, dtype=np.int16)
    reason[~((x >= 0) & (x < 1))] = Reason.MOISTURE_INVALID
    reason[np.isnan(c)] = Reason.MISSING
    ok = reason == Reason.VALID
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ok, c / (1.0 - x), np.nan)
    return Corrected(out, Validity(ok, reason))


def to_standard_state(
    concentration: npt.ArrayLike, temperature_c: npt.ArrayLike, pressure_pa: npt.ArrayLike
) -> FloatArray:
    """Actual-state to standard-state (273 K, 101325 Pa) concentration; pressure = Ba + Ps in Pa."""
    c = np.asarray(concentration, dtype=np.float64)
    t = np.asarray(temperature_c, dtype=np.float64)
    p = np.asarray(pressure_pa, dtype=np.float64)
    t0 = constant("standard_temperature_formula")
    p0 = constant("standard_pressure")
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(p > 0, c * (t0 + t) / t0 * p0 / p, np.nan)
    return out


def ppm_to_mg_m3(ppm: npt.ArrayLike, substance: str) -> FloatArray:
    """µmol/mol to mg/m³ at standard state: ``M / 22.4 * ppm``."""
    out: FloatArray = np.asarray(ppm, dtype=np.float64) * molar_mass(substance) / constant("molar_volume")
    return out


def mg_m3_to_ppm(mg_m3: npt.ArrayLike, substance: str) -> FloatArray:
    """mg/m³ at standard state to µmol/mol: ``22.4 / M * C``."""
    out: FloatArray = np.asarray(mg_m3, dtype=np.float64) * constant("molar_volume") / molar_mass(substance)
    return out


def nox_as_no2_mg_m3(no_mg_m3: npt.ArrayLike, no2_mg_m3: npt.ArrayLike) -> FloatArray:
    """NOx expressed as NO2 from NO and NO2 mass concentrations: ``C_NO * M_NO2 / M_NO + C_NO2``."""
    no = np.asarray(no_mg_m3, dtype=np.float64)
    out: FloatArray = no * molar_mass("NO2") / molar_mass("NO") + np.asarray(no2_mg_m3, dtype=np.float64)
    return out


FlowUnit = Literal["m3/s", "m3/h"]


def flow_m3_per_h(flow: npt.ArrayLike, unit: FlowUnit) -> FloatArray:
    """Flue-gas flow in m³/h from the unit the station sends (HJ 212 a00000: m³/s)."""
    f = np.asarray(flow, dtype=np.float64)
    if unit == "m3/s":
        out: FloatArray = f * 3600.0
        return out
    if unit == "m3/h":
        return f.copy()
    raise UnknownItem("flow unit", str(unit), ["m3/s", "m3/h"])


def standard_dry_flow_m3_per_h(
    flow_m3_h: npt.ArrayLike,
    temperature_c: npt.ArrayLike,
    pressure_pa: npt.ArrayLike,
    moisture_fraction: npt.ArrayLike,
) -> FloatArray:
    """Actual wet flow to standard dry flow: ``Q * 273/(273+ts) * (Ba+Ps)/101325 * (1-Xsw)``."""
    q = np.asarray(flow_m3_h, dtype=np.float64)
    t = np.asarray(temperature_c, dtype=np.float64)
    p = np.asarray(pressure_pa, dtype=np.float64)
    x = np.asarray(moisture_fraction, dtype=np.float64)
    t0 = constant("standard_temperature_formula")
    p0 = constant("standard_pressure")
    out: FloatArray = q * t0 / (t0 + t) * p / p0 * (1.0 - x)
    return out


def emission_rate_kg_h(
    concentration_mg_m3: npt.ArrayLike, standard_dry_flow_m3_h: npt.ArrayLike
) -> FloatArray:
    """``G = C * Qsn * 1e-6`` kg/h (C: standard dry mg/m³, not O2-corrected; Qsn: standard dry m³/h)."""
    out: FloatArray = (
        np.asarray(concentration_mg_m3, dtype=np.float64)
        * np.asarray(standard_dry_flow_m3_h, dtype=np.float64)
        * 1e-6
    )
    return out


def emission_total_t(rates_kg_h: npt.ArrayLike, hours: float | npt.ArrayLike = 1.0) -> float:
    """Total emission in tonnes from hourly rates (NaN hours skipped: substitute them first)."""
    r = np.asarray(rates_kg_h, dtype=np.float64) * np.asarray(hours, dtype=np.float64)
    return float(np.nansum(r) / 1000.0)
