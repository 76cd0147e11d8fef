"""Which rules a period is judged by: parameter roles, editions, and the digest of the rule tables.

Parameter roles (HJ 212-2017 appendix B codes): in flue gas, ``a19001`` is O2, ``a00000`` the flow,
``a01012``/``a01013``/``a01014`` temperature, pressure and moisture (the standard-dry conversion of
the flow), and every code outside :data:`FLUE_GAS_AUXILIARY` a pollutant concentration; in
wastewater ``w00000`` is the flow and pH (``w01001``) and temperature (``w01010``) are averaged
arithmetically, every other code flow-weighted. Ambient codes of the six AQI pollutants are those
the web portal uses (``a05024`` for O3, the HJ 524 practice).

The digest (:data:`RULES`) is the SHA-256 of every ``envtrace.standards`` table and of
:data:`COMPUTATION_VERSION`; a value computed under other rules differs from one computed now, so a
recomputation after a rule-table correction appends new versions.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

from envtrace.standards import Family, edition_at

COMPUTATION_VERSION = "rollup-2"  # 2: CN 2062 standard-sample checks in the hourly verdict

O2 = "a19001"
FLUE_FLOW = "a00000"
FLUE_TEMPERATURE = "a01012"
FLUE_PRESSURE = "a01013"
FLUE_MOISTURE = "a01014"
FLUE_GAS_AUXILIARY = frozenset(
    {
        FLUE_FLOW,
        "a01011",
        FLUE_TEMPERATURE,
        FLUE_PRESSURE,
        FLUE_MOISTURE,
        "a01015",
        "a01016",
        "a01017",
        O2,
        "a01901",
        "a01902",
    }
)
WATER_FLOW = "w00000"
WATER_PH = "w01001"
WATER_ARITHMETIC = frozenset({WATER_PH, "w01010"})

AMBIENT_POLLUTANTS: dict[str, str] = {
    "a21026": "SO2",
    "a21004": "NO2",
    "a21005": "CO",
    "a05024": "O3",
    "a34002": "PM10",
    "a34004": "PM2.5",
}
AQI_UNITS: dict[str, str] = {
    p: ("mg/m3" if name == "CO" else "ug/m3") for p, name in AMBIENT_POLLUTANTS.items()
}

# Units the HJ 212 tables give when a station has none configured (appendix B).
DEFAULT_UNITS: dict[str, str] = {FLUE_FLOW: "m3/s", WATER_FLOW: "L/s", O2: "%", FLUE_PRESSURE: "kPa"}

KINDS = ("flue_gas", "water", "ambient")
SYSTEM_OF_KIND = {"flue_gas": "flue_gas", "water": "wastewater", "ambient": "ambient"}

_PROTOCOL = {"2005": "HJ/T 212-2005", "2017": "HJ 212-2017", "2025": "HJ 212-2025"}


def flag_edition(station_edition: str, ts: int) -> str:
    """The HJ 212 edition whose flag meanings apply: the protocol the station speaks (registry), or
    the edition in force at the data time when the registry names none we know."""
    return _PROTOCOL.get(station_edition.strip(), edition_at(Family.HJ212, ts))


def rule_edition(kind: str, ts: int) -> str:
    """The edition of the validity rules in force at a period's start (by data time)."""
    if kind == "ambient":
        return edition_at(Family.GB3095, ts)
    return edition_at(Family.HJ212, ts)


def _digest() -> str:
    h = hashlib.sha256(COMPUTATION_VERSION.encode())
    folder = files("envtrace.standards").joinpath("tables")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".csv"):
            h.update(entry.name.encode())
            h.update(entry.read_bytes())
    return h.hexdigest()[:16]


RULES = _digest()
