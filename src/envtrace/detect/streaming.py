"""Live detection for one station: a learned baseline and a rolling window of recent data.

The platform keeps one :class:`StationDetectorState` per station. ``update(rows)`` appends the
rows that have just arrived (the station's own and its neighbours'), runs the detector suite over
the rolling window with the fixed baseline, and returns the evidence that is new or has grown
since the last call. Nothing older than the window is re-read, and the state (baseline, window,
emitted keys) serialises to JSON or compressed bytes between calls.

Equivalence with the batch run
------------------------------
Every detector decides from data at most ``LOOKBACK_DAYS`` old (its rolling windows, slow
references and week blocks), and evidence is final once ``SETTLE_DAYS`` of later data have
arrived (centred windows and gap ranks look a few days ahead). A piece of evidence that starts
at least ``MARGIN_DAYS`` after the start of the window is therefore found exactly as
:func:`envtrace.detect.suite.scan_station` finds it over the whole history with the same baseline;
the live state reports it as soon as the data reveal it (``provisional``) and again with its final
span once it has settled. Until the window is first trimmed it still starts at the station's first
data (``origin``), exactly where the batch run starts, so no margin applies then: a state fitted on
a short history reports from its first update on.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from envtrace.detect.baseline import StationBaseline
from envtrace.detect.errors import StateError
from envtrace.detect.evidence import Evidence
from envtrace.detect.series import FlagArray, FloatArray, ParameterInfo, StationSeries, stations_from_frames
from envtrace.detect.suite import fit_station, scan_station

LOOKBACK_DAYS = 180
MARGIN_DAYS = 30
SETTLE_DAYS = 4
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Update:
    """What one call of :meth:`StationDetectorState.update` found.

    ``new`` are findings seen for the first time or grown since the last call (raise or update
    an alarm now); ``final`` are findings that have settled (their span will not change again).
    """

    new: tuple[Evidence, ...]
    final: tuple[Evidence, ...]


class _Buffer:
    """A growable, trimmable copy of one station's recent data on its grid."""

    def __init__(self, series: StationSeries) -> None:
        self.meta = series
        self.t0 = series.t0
        self.values: dict[str, FloatArray] = {k: v.copy() for k, v in series.values.items()}
        self.flags: dict[str, FlagArray] = {k: f.copy() for k, f in series.flags.items()}

    @property
    def n(self) -> int:
        for v in self.values.values():
            return len(v)
        return 0

    def series(self) -> StationSeries:
        m = self.meta
        return StationSeries(
            station_id=m.station_id,
            kind=m.kind,
            t0=self.t0,
            step=m.step,
            values=self.values,
            flags=self.flags,
            info=m.info,
            utc_offset_s=m.utc_offset_s,
            lat=m.lat,
            lon=m.lon,
        )

    def extend(self, part: StationSeries) -> None:
        step = self.meta.step
        if part.step != step:
            raise StateError(self.meta.station_id, f"rows on a {part.step} s grid, the state uses {step} s")
        start = (part.t0 - self.t0) // step
        if start < 0:
            raise StateError(self.meta.station_id, "rows older than the rolling window cannot be added")
        need = start + part.n
        for code in set(self.values) | set(part.values):
            if code not in self.values:
                self.values[code] = np.full(self.n, np.nan)
                self.flags[code] = np.zeros(self.n, dtype=np.uint8)
        grow = need - self.n
        if grow > 0:
            for code in self.values:
                self.values[code] = np.concatenate((self.values[code], np.full(grow, np.nan)))
                self.flags[code] = np.concatenate((self.flags[code], np.zeros(grow, dtype=np.uint8)))
        for code, v in part.values.items():
            seg = slice(start, start + part.n)
            known = np.isfinite(v) | (part.flags[code] != 0)
            self.values[code][seg] = np.where(known, v, self.values[code][seg])
            self.flags[code][seg] = np.where(known, part.flags[code], self.flags[code][seg])

    def trim(self, keep: int) -> None:
        drop = self.n - keep
        if drop <= 0:
            return
        self.t0 += drop * self.meta.step
        for code in self.values:
            self.values[code] = self.values[code][drop:]
            self.flags[code] = self.flags[code][drop:]

    def to_dict(self) -> dict[str, object]:
        m = self.meta
        return {
            "station": m.station_id,
            "kind": m.kind,
            "step": m.step,
            "t0": self.t0,
            "utc_offset_s": m.utc_offset_s,
            "lat": None if math.isnan(m.lat) else m.lat,
            "lon": None if math.isnan(m.lon) else m.lon,
            "info": {
                c: [i.unit, _num(i.limit), _num(i.span), _num(i.lod), _num(i.o2_ref)]
                for c, i in m.info.items()
            },
            "values": {c: _pack(v.astype("<f8").tobytes()) for c, v in self.values.items()},
            "flags": {c: _pack(f.astype(np.uint8).tobytes()) for c, f in self.flags.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> _Buffer:
        info_d = d["info"]
        info = {
            str(c): ParameterInfo(str(c), str(v[0]), *(_den(x) for x in v[1:5]))
            for c, v in (info_d.items() if isinstance(info_d, dict) else [])
        }
        vals_d = d["values"]
        flags_d = d["flags"]
        values = {
            str(c): np.frombuffer(_unpack(str(b)), dtype="<f8").astype(np.float64)
            for c, b in (vals_d.items() if isinstance(vals_d, dict) else [])
        }
        flags = {
            str(c): np.frombuffer(_unpack(str(b)), dtype=np.uint8).copy()
            for c, b in (flags_d.items() if isinstance(flags_d, dict) else [])
        }
        series = StationSeries(
            station_id=str(d["station"]),
            kind=str(d["kind"]),
            t0=int(str(d["t0"])),
            step=int(str(d["step"])),
            values=values,
            flags=flags,
            info=info,
            utc_offset_s=int(str(d["utc_offset_s"])),
            lat=_den(d.get("lat")),
            lon=_den(d.get("lon")),
        )
        return cls(series)


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x


def _den(x: object) -> float:
    return math.nan if x is None else float(str(x))


def _pack(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def _unpack(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text))


class StationDetectorState:
    """Live detector state of one station (see the module documentation).

    Create it with :meth:`fit` from a history, feed it with :meth:`update`, persist it with
    :meth:`to_bytes` / :meth:`from_bytes` (or the JSON variants).
    """

    def __init__(
        self,
        baseline: StationBaseline,
        buffers: Mapping[str, _Buffer],
        emitted: Mapping[tuple[str, tuple[str, ...], int], int] | None = None,
        final: Iterable[tuple[str, tuple[str, ...], int]] = (),
        *,
        lookback_days: int = LOOKBACK_DAYS,
        origin: int | None = None,
    ) -> None:
        if baseline.station not in buffers:
            raise StateError(baseline.station, "the state holds no data of its own station")
        self.baseline = baseline
        self._buffers = dict(buffers)
        self._emitted: dict[tuple[str, tuple[str, ...], int], int] = dict(emitted or {})
        self._final: set[tuple[str, tuple[str, ...], int]] = set(final or ())
        self.lookback_days = lookback_days
        #: start of the station's data when the state was fitted (None: unknown, the margin applies)
        self.origin = origin

    @property
    def station(self) -> str:
        return self.baseline.station

    @classmethod
    def fit(
        cls, network: Mapping[str, StationSeries], station: str, *, lookback_days: int = LOOKBACK_DAYS
    ) -> StationDetectorState:
        """Learn the station's baseline from ``network``'s history and keep its recent window.

        Evidence inside the history is not reported again: the returned state has already
        emitted everything the history shows.
        """
        if station not in network:
            raise StateError(station, "not in the network given")
        baseline = fit_station(network[station], network)
        wanted = {station, *baseline.neighbour_ids}
        buffers = {sid: _Buffer(s) for sid, s in network.items() if sid in wanted}
        state = cls(baseline, buffers, lookback_days=lookback_days)
        state._trim()
        state.origin = state._buffers[station].t0
        for e in state._scan():
            state._emitted[_key(e)] = e.end
            state._final.add(_key(e))
        return state

    def update(self, rows: pl.DataFrame | Iterable[StationSeries]) -> Update:
        """Add rows (long format ``station_id, parameter, time, value, flag``, or series) of this
        station and its neighbours; return what is new and what has settled."""
        parts = stations_from_frames(rows).values() if isinstance(rows, pl.DataFrame) else list(rows)
        for part in parts:
            buf = self._buffers.get(part.station_id)
            if buf is not None:
                buf.extend(part)
        self._trim()
        own = self._buffers[self.station]
        end = own.t0 + own.n * own.meta.step
        trimmed = self.origin is None or own.t0 > self.origin
        margin_start = own.t0 + MARGIN_DAYS * 86400 if trimmed else own.t0
        settled_before = end - SETTLE_DAYS * 86400
        new: list[Evidence] = []
        final: list[Evidence] = []
        for e in self._scan():
            key = _key(e)
            if e.start < margin_start or key in self._final:
                continue
            if self._emitted.get(key) != e.end:
                self._emitted[key] = e.end
                new.append(e)
            if e.end <= settled_before:
                self._final.add(key)
                final.append(e)
        self._forget(margin_start)
        return Update(tuple(new), tuple(final))

    # -- internals ---------------------------------------------------------------------------

    def _scan(self) -> list[Evidence]:
        own = self._buffers[self.station].series()
        others = {sid: b.series() for sid, b in self._buffers.items()}
        return scan_station(own, self.baseline, others)

    def _trim(self) -> None:
        """Keep the same absolute window, ``lookback_days`` up to the station's latest point,
        in every buffer."""
        own = self._buffers[self.station]
        end = own.t0 + own.n * own.meta.step
        start = end - self.lookback_days * 86400
        for buf in self._buffers.values():
            drop = (start - buf.t0) // buf.meta.step
            if drop > 0:
                buf.trim(max(0, buf.n - drop))

    def _forget(self, before: int) -> None:
        """Drop the keys of findings that started before the window (they cannot recur)."""
        for key in [k for k in self._emitted if k[2] < before]:
            del self._emitted[key]
        self._final = {k for k in self._final if k[2] >= before}

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> str:
        """The whole state as JSON text (baseline, window buffers, emitted keys)."""
        return json.dumps(
            {
                "version": STATE_VERSION,
                "lookback_days": self.lookback_days,
                "origin": self.origin,
                "baseline": self.baseline.to_dict(),
                "buffers": {sid: b.to_dict() for sid, b in self._buffers.items()},
                "emitted": [[d, list(p), s, e] for (d, p, s), e in self._emitted.items()],
                "final": [[d, list(p), s] for (d, p, s) in sorted(self._final)],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> StationDetectorState:
        """Restore a state written by :meth:`to_json`.

        Raises
        ------
        StateError
            when the text is not a state of a known version.
        """
        try:
            d = json.loads(text)
            if d.get("version") != STATE_VERSION:
                raise StateError(
                    str(d.get("baseline", {}).get("station", "?")),
                    f"unknown state version {d.get('version')!r}",
                )
            baseline = StationBaseline.from_dict(d["baseline"])
            buffers = {str(sid): _Buffer.from_dict(b) for sid, b in d["buffers"].items()}
            emitted = {(str(x[0]), tuple(str(p) for p in x[1]), int(x[2])): int(x[3]) for x in d["emitted"]}
            final = [(str(x[0]), tuple(str(p) for p in x[1]), int(x[2])) for x in d.get("final", [])]
            origin = d.get("origin")
            return cls(
                baseline,
                buffers,
                emitted,
                final,
                lookback_days=int(d["lookback_days"]),
                origin=None if origin is None else int(origin),
            )
        except (KeyError, TypeError, ValueError, zlib.error) as exc:
            raise StateError("?", f"corrupt state: {exc}") from exc

    def to_bytes(self) -> bytes:
        """The state as zlib-compressed JSON."""
        return zlib.compress(self.to_json().encode("utf-8"), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> StationDetectorState:
        """Restore a state written by :meth:`to_bytes`."""
        try:
            text = zlib.decompress(data).decode("utf-8")
        except (zlib.error, UnicodeDecodeError) as exc:
            raise StateError("?", f"corrupt state bytes: {exc}") from exc
        return cls.from_json(text)


def _key(e: Evidence) -> tuple[str, tuple[str, ...], int]:
    return (e.detector, e.parameters, e.start)
