"""Units as stations configure them, reduced to a few canonical spellings, and their factors.

``station_parameter.unit`` is free text (``mg/m³``, ``mg/Nm3``, ``µg/m3``, ``ug/m3``, ``L/s`` ...).
:func:`canonical` folds it to ``mg/m3``, ``ug/m3``, ``ng/m3``, ``mg/L``, ``ug/L``, ``L/s``, ``m3/s``,
``m3/h``, ``%``, ``kPa``, ``Pa``, ``degC``, ``ppm``; anything else is kept as written. Conversions are
offered only inside one family (mass per volume of gas, mass per volume of water, flow).
"""

from __future__ import annotations

_ALIASES = {
    "mg/m3": "mg/m3",
    "mg/nm3": "mg/m3",
    "ug/m3": "ug/m3",
    "ug/nm3": "ug/m3",
    "ng/m3": "ng/m3",
    "mg/l": "mg/L",
    "ug/l": "ug/L",
    "l/s": "L/s",
    "m3/s": "m3/s",
    "m3/h": "m3/h",
    "%": "%",
    "kpa": "kPa",
    "pa": "Pa",
    "°c": "degC",
    "℃": "degC",
    "degc": "degC",
    "c": "degC",
    "ppm": "ppm",
    "umol/mol": "ppm",
}

_FAMILIES: dict[str, dict[str, float]] = {
    "gas_concentration": {"mg/m3": 1.0, "ug/m3": 1e-3, "ng/m3": 1e-6},
    "water_concentration": {"mg/L": 1.0, "ug/L": 1e-3},
    "flow": {"m3/s": 3600.0, "m3/h": 1.0, "L/s": 3.6},
    "pressure": {"kPa": 1000.0, "Pa": 1.0},
}


def canonical(unit: str | None) -> str | None:
    """The canonical spelling of a unit, or None when none is given."""
    if unit is None or not unit.strip():
        return None
    key = unit.strip().lower().replace(" ", "").replace("³", "3").replace("µ", "u").replace("μ", "u")
    return _ALIASES.get(key, unit.strip())


def factor(from_unit: str | None, to_unit: str | None) -> float | None:
    """Multiply a value in ``from_unit`` by this to get ``to_unit``; None when not convertible."""
    a, b = canonical(from_unit), canonical(to_unit)
    if a is None or b is None:
        return None
    if a == b:
        return 1.0
    for family in _FAMILIES.values():
        if a in family and b in family:
            return family[a] / family[b]
    return None
