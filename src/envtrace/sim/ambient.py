"""Ambient air-quality stations of one region, as pure functions of time and place.

One :class:`AmbientRegion` holds the weather every station shares; stations in the same city share
the city's own variation. So neighbours are informative, as a cross-station detector assumes:

- **Synoptic cycle**: a stagnation index (value noise, 3-day and 1-day scales) drifts over the
  region from west to east at about 25 km/h, so a city 200 km east sees the same episode some 8 h
  later. Stagnation builds particulate episodes, lowers wind speed, raises humidity; a cold front
  (the index falling) clears them.
- **PM2.5** is lognormal around the city's base level, higher in the heating season and at night
  (shallow boundary layer); **PM10** is PM2.5 over a fine fraction of 0.5-0.7 (lower in dust
  episodes). **CO** and **SO2** follow combustion (episodes, heating season).
- **NO2** follows traffic (morning and evening peaks), is lower at midday (photolysis) and higher
  in stagnant air. **O3** is the oxidant ``Ox`` (regional background plus daytime photochemical
  production that grows with sun and temperature) minus the NO2 that titration moved out of it:
  O3 and NO2 are anti-correlated, O3 peaks in summer afternoons and falls at night in cities.
- **Flags**: N; C while the gas analysers run their daily zero/span check (HJ 818 practice); M
  during monthly maintenance (particulate sampler filter change: PM reads near zero).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from envtrace.sim.noise import Smooth, Stream
from envtrace.sim.physics import (
    AMBIENT_FACTORS,
    Sample,
    local_hour,
    round_half_up,
    solar_elevation,
    year_fraction,
)
from envtrace.sim.schedule import EpisodeSchedule, daily_window

__all__ = ["AMBIENT_CODES", "AmbientModel", "AmbientRegion", "AmbientSpec"]

AMBIENT_CODES = (
    "a34004",
    "a34002",
    "a21026",
    "a21004",
    "a21005",
    "a05024",
    "a01001",
    "a01002",
    "a01006",
    "a01007",
    "a01008",
)
POLLUTANTS = ("a34004", "a34002", "a21026", "a21004", "a21005", "a05024")
GASES = ("a21026", "a21004", "a21005", "a05024")
_HOUR = 3600.0
_DAY = 86400.0
_FRONT_SPEED_KM_H = 25.0


@dataclass(frozen=True, slots=True)
class AmbientSpec:
    key: str
    city: str
    lat: float
    lon: float
    pm25_base: float = 40.0
    """Median PM2.5 in spring/autumn, ug/m3."""
    no2_base: float = 32.0
    so2_base: float = 9.0
    co_base: float = 0.7
    check_hour: float = 1.0
    utc_offset_min: int = 480


class AmbientRegion:
    """The weather and background pollution a province's stations share."""

    def __init__(self, seed: object, lon0: float = 116.0) -> None:
        self.lon0 = lon0
        self._synoptic = Smooth(3 * _DAY, "synoptic", seed)
        self._daily = Smooth(_DAY, "daily", seed)
        self._wind_dir = Smooth(1.5 * _DAY, "wind-dir", seed)
        self._temp = Smooth(2 * _DAY, "temp", seed)
        self._dust = EpisodeSchedule(
            "dust", seed, block=20 * _DAY, probability=0.3, min_len=6 * _HOUR, max_len=40 * _HOUR
        )
        self._cities: dict[str, Smooth] = {}

    def lag(self, lat: float, lon: float) -> float:
        """Seconds by which weather at (lat, lon) follows weather at the reference meridian."""
        km = (lon - self.lon0) * 111.32 * math.cos(math.radians(lat))
        return km / _FRONT_SPEED_KM_H * _HOUR

    def stagnation(self, t: float, lat: float, lon: float) -> float:
        """Regional stagnation index at a place (about standard normal)."""
        u = t - self.lag(lat, lon)
        return 0.8 * self._synoptic(u) + 0.6 * self._daily(u)

    def city(self, name: str) -> Smooth:
        if name not in self._cities:
            self._cities[name] = Smooth(12 * _HOUR, "city", name)
        return self._cities[name]

    def wind_dir(self, t: float, lat: float, lon: float) -> float:
        return (200.0 + 140.0 * self._wind_dir(t - self.lag(lat, lon))) % 360.0

    def temp_anomaly(self, t: float, lat: float, lon: float) -> float:
        return 3.0 * self._temp(t - self.lag(lat, lon))

    def dust(self, t: float, lat: float, lon: float) -> float:
        """0 normally; up to 1 in a dust episode (coarse particles)."""
        ep = self._dust.at(t - self.lag(lat, lon))
        if ep is None:
            return 0.0
        return ep.draw * math.sin(math.pi * (t - self.lag(lat, lon) - ep.start) / (ep.end - ep.start))


class AmbientModel:
    def __init__(self, spec: AmbientSpec, region: AmbientRegion) -> None:
        self.spec = spec
        self.region = region
        self.codes = AMBIENT_CODES
        k = spec.key
        self._city = region.city(spec.city)
        self._local = Smooth(2 * _HOUR, "local", k)
        self._traffic = Smooth(3 * _HOUR, "traffic", k)
        self._hum = Smooth(6 * _HOUR, "hum", k)
        self._white = Stream("white", k)
        self._maint = EpisodeSchedule(
            "maintenance", k, block=30 * _DAY, probability=0.7, min_len=_HOUR, max_len=3 * _HOUR
        )

    def true_values(self, t: float) -> dict[str, float]:
        """Concentrations and weather at ``t`` before the instruments' noise and flags."""
        sp, rg = self.spec, self.region
        h = local_hour(t, sp.utc_offset_min)
        yf = year_fraction(t)
        winter = 0.5 + 0.5 * math.cos(2 * math.pi * (yf - 0.03))  # 1 in mid-January, 0 in July
        heating = 1.0 if yf < 0.21 or yf > 0.87 else 0.0  # 15 Nov - 15 Mar in the north
        s = rg.stagnation(t, sp.lat, sp.lon)
        c = self._city(t)
        loc = self._local(t)
        elev = solar_elevation(t, sp.lat, sp.lon)
        sun = max(0.0, math.sin(math.radians(elev)))
        temp = (
            17.0
            - 13.0 * math.cos(2 * math.pi * (yf - 0.04))
            + 4.0 * math.cos(2 * math.pi * (h - 15.0) / 24.0)
            + rg.temp_anomaly(t, sp.lat, sp.lon)
            - 1.5 * s
        )
        night = math.cos(2 * math.pi * (h - 3.0) / 24.0)  # +1 at 03:00, -1 at 15:00
        pm25 = (
            sp.pm25_base
            * (0.65 + 0.9 * winter + 0.25 * heating)
            * math.exp(0.75 * s + 0.3 * c + 0.1 * loc)
            * (1.0 + 0.15 * night)
        )
        dust = rg.dust(t, sp.lat, sp.lon)
        fine = 0.62 - 0.35 * dust + 0.04 * self._hum(t)
        pm10 = pm25 / max(0.2, fine) + 120.0 * dust
        rush = _bump(h, 8.0, 1.3) + 1.2 * _bump(h, 18.5, 1.6)
        no2 = (
            sp.no2_base
            * (0.55 + 0.55 * rush)
            * (1.0 - 0.35 * sun)
            * (1.0 + 0.3 * winter)
            * math.exp(0.35 * s + 0.12 * self._traffic(t) + 0.1 * c)
        )
        background = 55.0 + 20.0 * math.sin(2 * math.pi * (yf - 0.2))
        production = (45.0 + 110.0 * (1.0 - winter)) * sun * max(0.2, 1.0 + (temp - 20.0) / 25.0)
        ox = background + production * math.exp(-0.15 * s)
        o3 = max(2.0, ox - 0.9 * no2)  # titration: NO + O3 -> NO2 moves oxidant from O3 to NO2
        so2 = sp.so2_base * (0.8 + 1.2 * heating) * math.exp(0.4 * s + 0.15 * c)
        co = sp.co_base * (0.8 + 0.7 * winter) * (pm25 / sp.pm25_base) ** 0.45
        wind = max(0.2, 2.4 * math.exp(-0.35 * s) * (1.0 + 0.35 * sun) * (1.0 + 0.15 * loc))
        hum = min(99.0, max(12.0, 58.0 + 12.0 * s - 14.0 * math.cos(2 * math.pi * (h - 15.0) / 24.0) - 8 * c))
        press = 101.3 + 1.0 * math.cos(2 * math.pi * yf) + 0.3 * s
        return {
            "a34004": pm25,
            "a34002": pm10,
            "a21026": so2,
            "a21004": no2,
            "a21005": co,
            "a05024": o3,
            "a01001": temp,
            "a01002": hum,
            "a01006": press,
            "a01007": wind,
            "a01008": rg.wind_dir(t, sp.lat, sp.lon),
        }

    def sample(self, t: float) -> Sample:
        sp, w = self.spec, self._white
        n = round(t * 100.0)
        v = self.true_values(t)
        v["a34004"] *= 1.0 + 0.03 * w.normal(n * 16 + 1)
        v["a34004"] += 1.5 * w.normal(n * 16 + 2)
        v["a34002"] *= 1.0 + 0.04 * w.normal(n * 16 + 3)
        v["a34002"] += 2.0 * w.normal(n * 16 + 4)
        for i, code in enumerate(("a21026", "a21004", "a05024")):
            v[code] = v[code] * (1.0 + 0.02 * w.normal(n * 16 + 5 + i)) + 1.0 * w.normal(n * 16 + 8 + i)
        v["a21005"] *= 1.0 + 0.03 * w.normal(n * 16 + 11)
        flags = dict.fromkeys(self.codes, "N")
        check = daily_window(t, sp.utc_offset_min, sp.check_hour, 20.0)
        if check is not None:
            span = {"a21026": 400.0, "a21004": 200.0, "a21005": 8.0, "a05024": 400.0}
            for code in GASES:
                v[code] = 0.0 if check < 0.5 else span[code] * (1.0 + 0.005 * w.normal(n * 16 + 12))
                flags[code] = "C"
        if self._maint.at(t) is not None:
            v["a34004"] = abs(0.8 * w.normal(n * 16 + 13))
            v["a34002"] = abs(1.5 * w.normal(n * 16 + 14))
            flags["a34004"] = flags["a34002"] = "M"
        out = {}
        for code in self.codes:
            x = v[code] if code in ("a01001",) else max(0.0, v[code])
            out[code] = round_half_up(x, AMBIENT_FACTORS[code].decimals)
        return Sample(t, out, flags)


def _bump(h: float, centre: float, width: float) -> float:
    d = (h - centre + 12.0) % 24.0 - 12.0
    return math.exp(-0.5 * (d / width) ** 2)
