"""Falsification patterns: how a manipulated logger or analyser changes what a station reports.

Each pattern is implemented by its physics (``shared/bench/README.md`` names and describes them),
acting on the reported sample (rounded values, flags, corrected values) inside an injection window,
and touching nothing it does not describe. Corrected values are recomputed from the manipulated
measured values with the reference-O2 formula unless the pattern is about the correction itself.

Flue gas (``flue_gas``):

- ``dilution_after_o2``: the analysers' sample is diluted *after* the O2 cell: SO2, NOx and CO
  scaled by ``factor`` (measured and corrected alike); O2 and CO2 unchanged.
- ``diluent_tamper``: the sample is diluted with air by ``fraction`` but O2 is reported undiluted:
  SO2, NOx, CO and CO2 drop together, so O2 and CO2 no longer obey the coal relation.
- ``forged_correction``: corrected values reported at ``factor`` times what the reference-O2
  correction of the reported measured value and O2 gives.
- ``frozen_value``: one pollutant (``code``) repeats its value from the window's start, within
  ``jitter`` of the span; its corrected value then follows O2 only.
- ``ceiling_clip``: corrected values at or above ``threshold`` x limit are replaced by values
  between ``low`` and ``high`` x limit; the measured value is turned back to match.
- ``slope_tamper``: one pollutant (``code``) scaled by ``factor`` from the window's start.
- ``selective_deletion``: hours of high load (>= ``load``, 0.9) or high corrected pollutant
  (>= ``level`` x limit, 0.9) are deleted with probability ``p``; a share ``cover`` of them is
  sent instead with zero pollutants flagged D (a "fault" as cover).

Ambient air (``ambient``):

- ``sampler_interference``: PM2.5 and PM10 cut by a common factor during separate episodes
  (a few hours to a day) within the window; gases untouched.
- ``frozen_value``: one pollutant (``code``, PM2.5 by default) repeats its value from the start.
- ``threshold_shaving``: days whose PM2.5 daily mean would be between ``limit`` and ``band`` x limit
  are scaled to between ``low`` and ``high`` x limit.
- ``selective_deletion``: hours whose PM2.5 exceeds ``level`` are deleted (PM2.5 and PM10) with
  probability ``p``.
- ``copied_series``: PM2.5 and PM10 replaced by another station's values at the same instants
  (``source`` = its MN; by default the nearest other ambient station).
- ``ceiling_clip``: PM2.5 above ``cap`` replaced by values just below the cap.
- ``level_shift``: every pollutant scaled by ``factor``.

Wastewater (``water``) accepts ``frozen_value``, ``slope_tamper``, ``ceiling_clip`` and
``selective_deletion`` on ``code`` (COD by default), by the same physics.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from envtrace.sim.ambient import AmbientModel
from envtrace.sim.flue_gas import FlueGasModel
from envtrace.sim.noise import Stream
from envtrace.sim.physics import (
    AMBIENT_FACTORS,
    FACTORS,
    Sample,
    local_day_start,
    round_half_up,
    with_correction,
)
from envtrace.sim.province import Province, StationConfig
from envtrace.sim.timespec import TimeSpecError, parse_duration, parse_instant

__all__ = [
    "PATTERNS",
    "Injection",
    "InjectionError",
    "Injector",
    "parse_injection",
]

Params = Mapping[str, float | str]


class InjectionError(ValueError):
    """An ``--inject`` specification that cannot be applied (names the specification)."""


@dataclass(frozen=True, slots=True)
class Injection:
    """One pattern on one station for [start, end) (Unix seconds)."""

    pattern: str
    mn: str
    start: float
    end: float = math.inf
    params: Mapping[str, float | str] = field(default_factory=dict)

    def active(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(slots=True)
class _Ctx:
    inj: Injection
    station: StationConfig
    province: Province
    rand: Stream
    memo: dict[object, object]

    def num(self, name: str, default: float) -> float:
        return float(self.inj.params.get(name, default))

    def code(self, default: str) -> str:
        return str(self.inj.params.get("code", default))

    @property
    def o2_ref(self) -> float:
        return self.station.o2_ref or 0.0

    def limit(self, code: str) -> float:
        limits: dict[str, float] = getattr(self.station.spec, "limits", {})
        if code not in limits:
            raise InjectionError(f"{self.inj.pattern}: station {self.station.mn} has no limit for {code}")
        return limits[code]

    def decimals(self, code: str) -> int:
        table = AMBIENT_FACTORS if self.station.kind == "ambient" else FACTORS
        return table[code].decimals


Apply = Callable[[Sample, _Ctx], Sample | None]


def _scaled(sample: Sample, ctx: _Ctx, codes: Sequence[str], factor: float, skip: str = "C") -> Sample:
    values = dict(sample.values)
    for c in codes:
        if c in values and sample.flags.get(c, "N") not in skip:
            values[c] = round_half_up(values[c] * factor, ctx.decimals(c))
    return replace(sample, values=values)


def _recorrect(sample: Sample, ctx: _Ctx) -> Sample:
    return with_correction(sample, ctx.o2_ref) if ctx.station.kind == "flue_gas" else sample


# ---------------------------------------------------------------------------------- flue gas


def _dilution_after_o2(s: Sample, ctx: _Ctx) -> Sample:
    return _recorrect(_scaled(s, ctx, ("a21026", "a21002", "a21005"), ctx.num("factor", 0.55)), ctx)


def _diluent_tamper(s: Sample, ctx: _Ctx) -> Sample:
    keep = 1.0 - ctx.num("fraction", 0.35)
    return _recorrect(_scaled(s, ctx, ("a21026", "a21002", "a21005", "a05001"), keep), ctx)


def _forged_correction(s: Sample, ctx: _Ctx) -> Sample:
    k = ctx.num("factor", 0.7)
    return replace(s, zs={c: round_half_up(v * k, ctx.decimals(c)) for c, v in s.zs.items()})


def _frozen_value(s: Sample, ctx: _Ctx) -> Sample:
    default = {"flue_gas": "a21026", "ambient": "a34004", "water": "w01018"}[ctx.station.kind]
    code = ctx.code(default)
    if code not in s.values:
        return s
    base = ctx.memo.get("frozen")
    if not isinstance(base, float):
        base = ctx.province.sample(ctx.station.mn, ctx.inj.start).values.get(code, s.values[code])
        ctx.memo["frozen"] = base
    spans: dict[str, float] = getattr(ctx.station.spec, "spans", {})
    span = spans.get(code, 0.0)
    jitter = ctx.num("jitter", 0.001) * span * (2.0 * ctx.rand.uniform(round(s.time)) - 1.0)
    values = dict(s.values)
    values[code] = round_half_up(max(0.0, base + jitter), ctx.decimals(code))
    return _recorrect(replace(s, values=values), ctx)


def _slope_tamper(s: Sample, ctx: _Ctx) -> Sample:
    default = "w01018" if ctx.station.kind == "water" else "a21002"
    return _recorrect(_scaled(s, ctx, (ctx.code(default),), ctx.num("factor", 0.6)), ctx)


def _ceiling_clip(s: Sample, ctx: _Ctx) -> Sample:
    if ctx.station.kind == "ambient":
        cap = ctx.num("cap", 75.0)
        v = s.values.get("a34004")
        if v is None or v <= cap:
            return s
        new = round_half_up(cap * ctx.rand.between(round(s.time), 0.88, 0.99), 0)
        return replace(s, values={**s.values, "a34004": new})
    threshold, low, high = ctx.num("threshold", 0.85), ctx.num("low", 0.6), ctx.num("high", 0.8)
    values = dict(s.values)
    if ctx.station.kind == "water":
        code = ctx.code("w01018")
        limit = ctx.limit(code)
        v = values.get(code)
        if v is not None and v >= threshold * limit:
            values[code] = round_half_up(
                limit * ctx.rand.between(round(s.time), low, high), ctx.decimals(code)
            )
        return replace(s, values=values)
    o2 = s.values.get("a19001")
    for i, (code, zs) in enumerate(s.zs.items()):
        limit = ctx.limit(code)
        if o2 is None or zs < threshold * limit:
            continue
        target = limit * ctx.rand.between(round(s.time) * 4 + i, low, high)
        measured = target * (21.0 - o2) / (21.0 - ctx.o2_ref)
        values[code] = round_half_up(measured, ctx.decimals(code))
    return _recorrect(replace(s, values=values), ctx)


def _hour_high(s: Sample, ctx: _Ctx) -> tuple[bool, int]:
    """Whether the clock hour of ``s`` is a "high" hour for selective deletion, and its index."""
    hour = math.floor(s.time / 3600.0)
    hit = ctx.memo.get(hour)
    if not isinstance(hit, bool):
        mid = hour * 3600.0 + 1800.0
        model = ctx.province.models[ctx.station.mn]
        if isinstance(model, FlueGasModel):
            level = ctx.num("level", 0.9)
            ref = model.sample(mid)
            hit = model.load(mid) >= ctx.num("load", 0.9) or any(
                z >= level * ctx.limit(c) for c, z in ref.zs.items()
            )
        elif isinstance(model, AmbientModel):
            hit = model.true_values(mid)["a34004"] >= ctx.num("level", 75.0)
        else:
            code = ctx.code("w01018")
            hit = model.concentration(code, mid) >= ctx.num("level", 0.8) * ctx.limit(code)
        if len(ctx.memo) > 4096:
            ctx.memo.clear()
        ctx.memo[hour] = hit
    return hit, hour


def _selective_deletion(s: Sample, ctx: _Ctx) -> Sample | None:
    high, hour = _hour_high(s, ctx)
    if not high or not ctx.rand.chance(2 * hour, ctx.num("p", 0.85)):
        return s
    kind = ctx.station.kind
    if kind == "ambient":
        return s.drop(("a34004", "a34002"))
    if kind == "flue_gas" and ctx.rand.chance(2 * hour + 1, ctx.num("cover", 0.3)):
        values, flags = dict(s.values), dict(s.flags)
        for c in ("a21026", "a21002", "a34013"):
            values[c], flags[c] = 0.0, "D"
        return _recorrect(replace(s, values=values, flags=flags), ctx)
    if kind == "water":
        return s.drop((ctx.code("w01018"),))
    return None


# ---------------------------------------------------------------------------------- ambient


def _sampler_interference(s: Sample, ctx: _Ctx) -> Sample:
    """Episodes: each local day of the campaign starts one with probability ``p``."""
    off = ctx.station.utc_offset_min
    day = local_day_start(s.time, off)
    for d in (day - 86400.0, day):
        k = round(d / 86400.0)
        if not ctx.rand.chance(4 * k, ctx.num("p", 0.4)):
            continue
        start = d + ctx.rand.between(4 * k + 1, 0.0, 20.0) * 3600.0
        length = ctx.rand.between(4 * k + 2, 4.0, 24.0) * 3600.0
        if start <= s.time < start + length:
            factor = ctx.num("factor", 0.5) * ctx.rand.between(4 * k + 3, 0.85, 1.2)
            return _scaled(s, ctx, ("a34004", "a34002"), min(0.9, factor), skip="")
    return s


def _level_shift(s: Sample, ctx: _Ctx) -> Sample:
    pollutants = ("a34004", "a34002", "a21026", "a21004", "a21005", "a05024")
    return _scaled(s, ctx, pollutants, ctx.num("factor", 0.7), skip="")


def _copied_series(s: Sample, ctx: _Ctx) -> Sample:
    source = str(ctx.inj.params.get("source", "")) or _nearest_ambient(ctx)
    other = ctx.province.sample(source, s.time)
    values, flags = dict(s.values), dict(s.flags)
    for c in ("a34004", "a34002"):
        if c in other.values and c in values:
            values[c], flags[c] = other.values[c], other.flags.get(c, "N")
    return replace(s, values=values, flags=flags)


def _nearest_ambient(ctx: _Ctx) -> str:
    me = ctx.station
    others = [x for x in ctx.province.stations if x.kind == "ambient" and x.mn != me.mn]
    if not others:
        raise InjectionError(f"copied_series on {me.mn}: no other ambient station to copy from")
    return min(others, key=lambda x: (x.lat - me.lat) ** 2 + (x.lon - me.lon) ** 2).mn


def _threshold_shaving(s: Sample, ctx: _Ctx) -> Sample:
    model = ctx.province.models[ctx.station.mn]
    if "a34004" not in s.values or not isinstance(model, AmbientModel):
        return s
    day = local_day_start(s.time, ctx.station.utc_offset_min)
    mean = ctx.memo.get(day)
    if not isinstance(mean, float):
        mean = sum(model.true_values(day + (i + 0.5) * 1800.0)["a34004"] for i in range(48)) / 48.0
        ctx.memo[day] = mean
    limit = ctx.num("limit", 75.0 if s.time < _GB3095_2026 else 60.0)
    if not limit < mean <= ctx.num("band", 1.35) * limit:
        return s
    target = limit * ctx.rand.between(round(day / 86400.0), ctx.num("low", 0.9), ctx.num("high", 0.98))
    return _scaled(s, ctx, ("a34004",), target / mean, skip="")


_GB3095_2026 = datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=8))).timestamp()

PATTERNS: dict[str, tuple[Apply, tuple[str, ...]]] = {
    "dilution_after_o2": (_dilution_after_o2, ("flue_gas",)),
    "diluent_tamper": (_diluent_tamper, ("flue_gas",)),
    "forged_correction": (_forged_correction, ("flue_gas",)),
    "frozen_value": (_frozen_value, ("flue_gas", "ambient", "water")),
    "ceiling_clip": (_ceiling_clip, ("flue_gas", "ambient", "water")),
    "slope_tamper": (_slope_tamper, ("flue_gas", "water")),
    "selective_deletion": (_selective_deletion, ("flue_gas", "ambient", "water")),
    "sampler_interference": (_sampler_interference, ("ambient",)),
    "copied_series": (_copied_series, ("ambient",)),
    "threshold_shaving": (_threshold_shaving, ("ambient",)),
    "level_shift": (_level_shift, ("ambient",)),
}
"""Pattern name -> (implementation, station kinds it applies to)."""


class Injector:
    """The injections of one station, applied to each sample in turn."""

    def __init__(self, station: StationConfig, province: Province, injections: Sequence[Injection]) -> None:
        self.station = station
        self._items: list[tuple[Injection, Apply, _Ctx]] = []
        for inj in injections:
            if inj.mn != station.mn:
                continue
            if inj.pattern not in PATTERNS:
                raise InjectionError(f"unknown pattern {inj.pattern!r}; known: {', '.join(PATTERNS)}")
            fn, kinds = PATTERNS[inj.pattern]
            if station.kind not in kinds:
                raise InjectionError(
                    f"{inj.pattern} applies to {'/'.join(kinds)} stations, "
                    f"not to {station.mn} ({station.kind})"
                )
            rand = Stream("inject", inj.pattern, station.mn, inj.start)
            self._items.append((inj, fn, _Ctx(inj, station, province, rand, {})))

    def __bool__(self) -> bool:
        return bool(self._items)

    def apply(self, sample: Sample) -> Sample | None:
        """The sample as the manipulated station reports it (``None``: not reported at all)."""
        out: Sample | None = sample
        for inj, fn, ctx in self._items:
            if out is None:
                break
            if inj.active(out.time):
                out = fn(out, ctx)
        return out


# ---------------------------------------------------------------------------------- parsing

_SPEC_TAIL = re.compile(r"^(?P<start>.*?)(?::(?P<dur>\d+(?:\.\d+)?[smhdw]))?$")


def parse_injection(
    spec: str,
    stations: Sequence[StationConfig],
    *,
    origin: float,
    end: float = math.inf,
) -> Injection:
    """``PATTERN[:STATION[:START[:DURATION]]][@KEY=VALUE,...]`` -> an :class:`Injection`.

    STATION is an index into ``stations`` (0 = first) or an MN; empty means the first station of
    a kind the pattern applies to. START is an offset from ``origin`` (``+2h``) or an ISO 8601 time
    (local time when it has no offset); DURATION needs a unit (``6h``, ``3d``). Without START the
    pattern starts at ``origin``; without DURATION it runs until ``end``. Parameters after ``@``
    set the pattern's strength (``@factor=0.4``, ``@code=a21002``; see the module docstring).
    """
    spec_text, _, param_text = spec.partition("@")
    params: dict[str, float | str] = {}
    for item in filter(None, param_text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InjectionError(f"--inject {spec!r}: parameter {item!r} is not KEY=VALUE")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            params[key.strip()] = value.strip()
    pattern, _, rest = spec_text.partition(":")
    if pattern not in PATTERNS:
        raise InjectionError(f"--inject {spec!r}: unknown pattern {pattern!r}; known: {', '.join(PATTERNS)}")
    kinds = PATTERNS[pattern][1]
    who, _, tail = rest.partition(":")
    station = _pick_station(spec, who, kinds, stations)
    m = _SPEC_TAIL.match(tail)
    if m is None:  # pragma: no cover - the expression matches every string
        raise InjectionError(f"--inject {spec!r}: cannot read START:DURATION")
    try:
        start = parse_instant(m.group("start"), origin=origin, utc_offset_min=station.utc_offset_min)
        stop = start + parse_duration(m.group("dur")) if m.group("dur") else end
    except TimeSpecError as exc:
        raise InjectionError(f"--inject {spec!r}: {exc}") from None
    if stop <= start:
        raise InjectionError(f"--inject {spec!r}: the window ends before it starts")
    return Injection(pattern, station.mn, start, stop, params)


def _pick_station(
    spec: str, who: str, kinds: Sequence[str], stations: Sequence[StationConfig]
) -> StationConfig:
    if not who:
        for s in stations:
            if s.kind in kinds:
                return s
        raise InjectionError(f"--inject {spec!r}: no {'/'.join(kinds)} station in this run")
    if who.isdigit():
        i = int(who)
        if i >= len(stations):
            raise InjectionError(f"--inject {spec!r}: station index {i} but the run has {len(stations)}")
        chosen = stations[i]
    else:
        found = [s for s in stations if s.mn == who]
        if not found:
            raise InjectionError(f"--inject {spec!r}: no station with MN {who}")
        chosen = found[0]
    if chosen.kind not in kinds:
        raise InjectionError(
            f"--inject {spec!r}: station {chosen.mn} is {chosen.kind}, pattern needs {kinds}"
        )
    return chosen
