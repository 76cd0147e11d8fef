"""Ambient air helpers: the *provisional* hourly AQI of a station the roll-up has not reached yet
(HJ 633 via ``envtrace.standards``; the published AQI is the roll-up's, ``envtrace.web.aqi``), and
GB 3095 limit lines for ambient charts.

HJ 212-2017 factor codes of the six AQI pollutants and the units the platform expects from ambient
stations (µg/m³, CO in mg/m³). The hourly AQI follows the national real-time release rule
(``Report.RELEASE``: the six 1-h means, PM on the 24-h breakpoints) under the edition in force at
the hour; a station missing a pollutant gets the AQI only when the standard allows (HJ 633-2026
§5.3, ``Missing.STANDARD``), else none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from envtrace.standards import (
    Family,
    Report,
    StandardsError,
    ambient_limit_at,
    aqi_table,
    edition_codes_at,
    editions,
)
from envtrace.store.console import HourValue

POLLUTANTS: dict[str, str] = {
    "a34004": "PM2.5",
    "a34002": "PM10",
    "a21026": "SO2",
    "a21004": "NO2",
    "a21005": "CO",
    "a05024": "O3",
}
AQI_PARAMETERS = tuple(POLLUTANTS)


@dataclass(frozen=True, slots=True)
class StationAqi:
    hour_ts: int
    aqi: int | None
    primary: list[str]
    level: int
    edition: str


def station_aqi(values: list[HourValue]) -> StationAqi | None:
    """AQI of the station's newest hour (only the values of that hour count)."""
    if not values:
        return None
    hour = max(v.hour_ts for v in values)
    items = {
        f"{POLLUTANTS[v.parameter]}_1h": [v.value]
        for v in values
        if v.hour_ts == hour and v.parameter in POLLUTANTS
    }
    if not items:
        return None
    try:
        codes = edition_codes_at(Family.AQI, np.asarray([hour], dtype=np.int64))
        table = aqi_table(items, edition=codes, report=Report.RELEASE)
    except StandardsError:
        return None
    aqi = int(table.aqi[0])
    primary = [p for p in table.primary_labels("code")[0].split(",") if p]
    return StationAqi(
        hour_ts=hour,
        aqi=aqi if aqi >= 0 else None,
        primary=primary,
        level=int(table.level[0]),
        edition=editions(Family.AQI)[int(table.edition_code[0])],
    )


def ambient_limit(parameter: str, at: int) -> float | None:
    """GB 3095 class-2 1-hour limit of an ambient pollutant at time ``at`` (None if there is none)."""
    name = POLLUTANTS.get(parameter)
    if name is None:
        return None
    try:
        value = ambient_limit_at(name, "1h", 2, at).value
    except StandardsError:
        return None
    return None if math.isnan(value) else value
