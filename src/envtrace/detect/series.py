"""Station series on a regular time grid: the input every detector works on.

A :class:`StationSeries` holds one station's parameters as float64 arrays on one regular grid
(hourly for automatic monitors, daily for daily means), with NaN for a missing value, the HJ 212
data flag of every value and the metadata of each parameter (limit, analyser span, detection
limit, reference O2). :func:`stations_from_frames` builds them from the long tables of a benchmark
case or of the store (``station_id, parameter, time, value, flag``).

Notes
-----
Parameter codes follow HJ 212-2017 (``a34004`` PM2.5, ``a21026`` SO2 ...); a corrected flue-gas
value carries the suffix ``-Zs`` (HJ 212 ``ZsRtd``/``ZsAvg``) and the unit load the code ``load``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from envtrace.detect.errors import SeriesError

FloatArray = npt.NDArray[np.float64]
FlagArray = npt.NDArray[np.uint8]

#: Flag code of a normal value (HJ 212 ``N``) and of a row that is absent altogether.
FLAG_NORMAL = 0

# HJ 212 data flags (HJ 212-2017 Table 7 / HJ 75-2017 9.x): the letters a detector treats alike.
FLAG_STOPPED = ord("F")
FLAG_MAINTENANCE = ord("M")
FLAG_CALIBRATION = ord("C")
FLAG_FAULT = ord("D")
FLAG_OVER_RANGE = ord("T")
FLAG_COMM_FAULT = ord("B")
FLAG_MANUAL = ord("S")

# Parameter codes used by the detectors (HJ 212-2017 factor codes; ``load`` is a process value).
PM25 = "a34004"
PM10 = "a34002"
SO2 = "a21026"
NO2 = "a21004"
NOX = "a21002"
CO = "a21005"
O3 = "a05024"
DUST = "a34013"
O2 = "a19001"
CO2 = "a05001"
FLUE_TEMP = "a01012"
FLUE_FLOW = "a00000"
LOAD = "load"
CORRECTED_SUFFIX = "-Zs"

#: Ambient pollutants, in the order the detectors report them.
AMBIENT_POLLUTANTS: tuple[str, ...] = (PM25, PM10, SO2, NO2, CO, O3)
#: Flue-gas pollutants measured "as is" (their corrected twins carry ``-Zs``).
SOURCE_POLLUTANTS: tuple[str, ...] = (SO2, NOX, DUST)
#: Gaseous pollutants measured by the extractive gas analyser (after the O2 cell).
SOURCE_GASES: tuple[str, ...] = (SO2, NOX)


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    """Metadata of one parameter at one station (NaN when unknown)."""

    code: str
    unit: str = ""
    limit: float = math.nan
    span: float = math.nan
    lod: float = math.nan
    o2_ref: float = math.nan


@dataclass(frozen=True)
class StationSeries:
    """One station's parameters on a regular grid ``t0 + step * i`` (Unix seconds, UTC).

    ``values[code]`` is float64 with NaN for a missing value; ``flags[code]`` is uint8, 0 for a
    normal value (or an absent row), otherwise the ASCII code of the HJ 212 flag letter.
    """

    station_id: str
    kind: str
    t0: int
    step: int
    values: Mapping[str, FloatArray]
    flags: Mapping[str, FlagArray]
    info: Mapping[str, ParameterInfo] = field(default_factory=dict)
    utc_offset_s: int = 8 * 3600
    lat: float = math.nan
    lon: float = math.nan

    def __post_init__(self) -> None:
        if self.step <= 0:
            raise SeriesError(self.station_id, f"step={self.step} s must be positive")
        lengths = {len(v) for v in self.values.values()} | {len(f) for f in self.flags.values()}
        if len(lengths) > 1:
            raise SeriesError(self.station_id, f"parameters have different lengths {sorted(lengths)}")

    @property
    def n(self) -> int:
        """Number of grid points."""
        for v in self.values.values():
            return len(v)
        return 0

    @property
    def times(self) -> npt.NDArray[np.int64]:
        """Grid instants, Unix seconds (UTC), period start."""
        return self.t0 + self.step * np.arange(self.n, dtype=np.int64)

    @property
    def per_day(self) -> int:
        """Grid points per day (24 for hourly data, 1 for daily data)."""
        return max(1, 86400 // self.step)

    def has(self, code: str) -> bool:
        """True when the parameter exists and has at least one value."""
        v = self.values.get(code)
        return v is not None and bool(np.isfinite(v).any())

    def valid(self, code: str) -> FloatArray:
        """The values with flagged (non-``N``) values set to NaN; all-NaN if the code is absent."""
        v = self.values.get(code)
        if v is None:
            return np.full(self.n, np.nan)
        f = self.flags.get(code)
        if f is None:
            return v.copy()
        return np.where(f == FLAG_NORMAL, v, np.nan)

    def flag(self, code: str) -> FlagArray:
        """The flag codes of one parameter (all normal when the code is absent)."""
        f = self.flags.get(code)
        return f if f is not None else np.zeros(self.n, dtype=np.uint8)

    def param(self, code: str) -> ParameterInfo:
        """The metadata of one parameter (all unknown when not given)."""
        return self.info.get(code, ParameterInfo(code))

    def slice(self, start: int, stop: int) -> StationSeries:
        """The grid points ``start .. stop-1`` as a new series."""
        start = max(0, start)
        stop = min(self.n, stop)
        return StationSeries(
            station_id=self.station_id,
            kind=self.kind,
            t0=self.t0 + self.step * start,
            step=self.step,
            values={k: v[start:stop] for k, v in self.values.items()},
            flags={k: f[start:stop] for k, f in self.flags.items()},
            info=self.info,
            utc_offset_s=self.utc_offset_s,
            lat=self.lat,
            lon=self.lon,
        )


def align(values: FloatArray, src: StationSeries, dst: StationSeries) -> FloatArray:
    """Place ``values`` of series ``src`` on the grid of ``dst`` (NaN where ``src`` has none)."""
    out = np.full(dst.n, np.nan)
    if src.step != dst.step:
        return out
    shift, rem = divmod(src.t0 - dst.t0, dst.step)
    if rem:
        return out
    lo = max(0, shift)
    hi = min(dst.n, shift + len(values))
    if hi > lo:
        out[lo:hi] = values[lo - shift : hi - shift]
    return out


_FLAG_CODES: dict[str, int] = {chr(c): c for c in range(ord("A"), ord("Z") + 1)} | {"N": 0, "": 0}


def _float_or_nan(x: object) -> float:
    if x is None:
        return math.nan
    try:
        return float(str(x))
    except ValueError:
        return math.nan


def _offset_seconds(text: str) -> int:
    """UTC offset of an ISO 8601 time such as ``2014-03-01T05:00:00+08:00`` (or ``+0800``,
    ``Z``) in seconds; 0 when there is none."""
    text = text.strip()
    if text.endswith("Z"):
        return 0
    tail = text[-6:] if len(text) >= 6 and text[-6] in "+-" and text[-3] == ":" else text[-5:]
    if len(tail) < 5 or tail[0] not in "+-":
        return 0
    digits = tail[1:].replace(":", "")
    sign = -1 if tail[0] == "-" else 1
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


def stations_from_frames(
    data: pl.DataFrame, stations: pl.DataFrame | None = None, parameters: pl.DataFrame | None = None
) -> dict[str, StationSeries]:
    """Build one :class:`StationSeries` per station from the long tables of a case.

    ``data`` has ``station_id, parameter, time, value, flag`` (``time`` ISO 8601 with an offset);
    ``stations`` has ``station_id, kind, lat, lon``; ``parameters`` has
    ``station_id, parameter, unit, limit, span, lod, o2_ref``. The grid step of a station is the
    most common spacing of its time stamps.

    Raises
    ------
    SeriesError
        when a station's time stamps are not on a grid of their most common spacing.
    """
    if data.height == 0:
        return {}
    first_time = str(data["time"][0])
    offset = _offset_seconds(first_time)
    iso = pl.col("time").cast(pl.String).str.strip_chars().str.replace(r"Z$", "+00:00")
    try:
        df = _parse(data, iso)
    except pl.exceptions.PolarsError as exc:
        raise SeriesError("?", f"time stamps are not ISO 8601 with a UTC offset: {exc}") from exc
    meta: dict[str, dict[str, object]] = {}

    if stations is not None:
        for row in stations.iter_rows(named=True):
            meta[str(row["station_id"])] = row
    infos: dict[str, dict[str, ParameterInfo]] = {}
    if parameters is not None:
        for row in parameters.iter_rows(named=True):
            sid = str(row["station_id"])
            code = str(row["parameter"])
            infos.setdefault(sid, {})[code] = ParameterInfo(
                code=code,
                unit=str(row.get("unit") or ""),
                limit=_float_or_nan(row.get("limit")),
                span=_float_or_nan(row.get("span")),
                lod=_float_or_nan(row.get("lod")),
                o2_ref=_float_or_nan(row.get("o2_ref")),
            )
    out: dict[str, StationSeries] = {}
    for (sid_obj,), part in df.group_by(["station_id"], maintain_order=True):
        sid = str(sid_obj)
        out[sid] = _station_from_part(sid, part, meta.get(sid, {}), infos.get(sid, {}), offset)
    return out


def _parse(data: pl.DataFrame, iso: pl.Expr) -> pl.DataFrame:
    return data.select(
        pl.col("station_id").cast(pl.String),
        pl.col("parameter").cast(pl.String),
        iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%z", time_unit="ms").dt.epoch("s").alias("ts"),
        pl.col("value").cast(pl.Float64, strict=False),
        pl.col("flag")
        .cast(pl.String)
        .fill_null("N")
        .str.slice(0, 1)
        .replace_strict(_FLAG_CODES, default=ord("?"), return_dtype=pl.UInt8)
        .alias("flag"),
    )


def _station_from_part(
    sid: str, part: pl.DataFrame, meta: Mapping[str, object], info: dict[str, ParameterInfo], offset: int
) -> StationSeries:
    ts = part["ts"].to_numpy().astype(np.int64)
    uniq = np.unique(ts)
    if len(uniq) > 1:
        diffs = np.diff(uniq)
        vals, counts = np.unique(diffs, return_counts=True)
        step = int(vals[np.argmax(counts)])
    else:
        step = 3600
    t0 = int(uniq[0])
    n = int((uniq[-1] - t0) // step) + 1
    idx_all = (ts - t0) // step
    if np.any((ts - t0) % step):
        bad = int(np.count_nonzero((ts - t0) % step))
        raise SeriesError(sid, f"{bad} time stamp(s) off the {step} s grid starting at {t0}")
    codes = part["parameter"].to_numpy()
    vals_all = part["value"].to_numpy().astype(np.float64)
    flag_all = part["flag"].to_numpy().astype(np.uint8)
    values: dict[str, FloatArray] = {}
    flags: dict[str, FlagArray] = {}
    for code in dict.fromkeys(codes.tolist()):
        sel = codes == code
        v = np.full(n, np.nan)
        f = np.zeros(n, dtype=np.uint8)
        v[idx_all[sel]] = vals_all[sel]
        f[idx_all[sel]] = flag_all[sel]
        values[str(code)] = v
        flags[str(code)] = f
    for code in values:
        info.setdefault(code, ParameterInfo(code))
    return StationSeries(
        station_id=sid,
        kind=str(meta.get("kind") or "ambient"),
        t0=t0,
        step=step,
        values=values,
        flags=flags,
        info=info,
        utc_offset_s=offset,
        lat=_float_or_nan(meta.get("lat")),
        lon=_float_or_nan(meta.get("lon")),
    )


def hourly_means(series: StationSeries, *, min_share: float = 0.75) -> StationSeries:
    """Hourly means of a sub-hourly series (HJ 212 ``2061`` hour data from ``2051`` minute data).

    An hour's mean needs ``min_share`` of its points valid (HJ 75-2017: 45 of 60 minutes); an hour
    in which at least a quarter of the points carry the same non-normal flag takes that flag.
    Hours are aligned to whole hours of Unix time. A series already hourly or coarser is returned
    unchanged.
    """
    if series.step >= 3600:
        return series
    per = 3600 // series.step
    first = int((-series.t0 // series.step) % per)
    nh = (series.n - first) // per
    if nh <= 0:
        raise SeriesError(series.station_id, "less than one whole hour of sub-hourly data")
    values: dict[str, FloatArray] = {}
    flags: dict[str, FlagArray] = {}
    for code, v in series.values.items():
        f = series.flags[code][first : first + nh * per].reshape(nh, per)
        x = np.where(f == FLAG_NORMAL, v[first : first + nh * per].reshape(nh, per), np.nan)
        ok = np.isfinite(x)
        cnt = ok.sum(axis=1)
        s = np.where(ok, x, 0.0).sum(axis=1)
        values[code] = np.where(cnt >= min_share * per, s / np.maximum(cnt, 1), np.nan)
        hour_flag = np.zeros(nh, dtype=np.uint8)
        flagged = f != FLAG_NORMAL
        if flagged.any():
            # the most frequent flag letter of each hour, when it covers a quarter of the hour
            for letter in np.unique(f[flagged]).tolist():
                share = (f == letter).sum(axis=1)
                take = (share >= per / 4) & (hour_flag == 0)
                hour_flag[take] = letter
        flags[code] = hour_flag
    return StationSeries(
        station_id=series.station_id,
        kind=series.kind,
        t0=series.t0 + first * series.step,
        step=3600,
        values=values,
        flags=flags,
        info=series.info,
        utc_offset_s=series.utc_offset_s,
        lat=series.lat,
        lon=series.lon,
    )
