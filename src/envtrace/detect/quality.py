"""Data-quality findings: what looks odd but is not falsification (``kind="qc"``).

Each function finds one family of ordinary data-quality problems, so that an officer sees them
named for what they are and the fraud detectors are not blamed for them:

- :func:`flagged_runs`: runs of HJ 212 data flags (F stopped, M maintenance, C calibration,
  D fault, T over range, B communication fault, S manual) - declared by the station itself;
- :func:`detection_limit_runs`: long runs at or below three detection limits (or the station's
  reporting floor), where a still value is the instrument's floor, not a frozen output;
- :func:`pm25_above_pm10`: PM2.5 above PM10, which two separate monitors produce by their own
  uncertainties at low loads (about 5 % of hours in the Beijing data);
- :func:`ordinary_gaps`: runs of missing values;
- :func:`out_of_range` and :func:`spikes`: the QARTOD gross-range and spike tests (values outside
  the analyser span, single points far from their neighbours);
- :func:`startup_shutdown`: a flue-gas unit stopped (load 0, O2 near air) and starting up.

Notes
-----
Flag meanings follow HJ 212-2017 Table 7 and HJ 75-2017 (CEMS data validity: flagged hours are
not valid emission data and are reported separately, never substituted).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence
from envtrace.detect.robust import FloatArray, IntArray, join_runs, location_scale, runs
from envtrace.detect.series import FlagArray

FLAG_NAMES: Mapping[str, tuple[str, str]] = {
    "F": ("stopped", "停运"),
    "M": ("maintenance", "维护"),
    "C": ("calibration", "校准"),
    "D": ("analyser fault", "故障"),
    "T": ("over range", "超测量上限"),
    "B": ("communication fault", "通讯异常"),
    "S": ("manual value", "手工输入"),
}


def _qc(
    detector: str,
    station: str,
    parameters: Sequence[str],
    times: IntArray,
    a: int,
    b: int,
    pattern: str,
    statistic: float,
    reason_en: str,
    reason_zh: str,
) -> Evidence:
    step = int(times[1] - times[0]) if len(times) > 1 else 3600
    return Evidence(
        detector=detector,
        station=station,
        parameters=tuple(parameters),
        start=int(times[a]),
        end=int(times[b - 1]) + step,
        pattern=pattern,
        kind="qc",
        score=0.5,
        statistic=statistic,
        baseline=math.nan,
        threshold=math.nan,
        reason_en=reason_en,
        reason_zh=reason_zh,
    )


def flagged_runs(
    times: IntArray, flags: Mapping[str, FlagArray], *, station: str, max_gap: int = 1
) -> list[Evidence]:
    """One finding per run of one flag letter, listing every parameter carrying it."""
    out: list[Evidence] = []
    if not flags:
        return out
    for letter, (en, zh) in FLAG_NAMES.items():
        code = ord(letter)
        per_param = {p: f == code for p, f in flags.items()}
        any_flag = np.zeros(len(times), dtype=bool)
        for m in per_param.values():
            any_flag |= m
        s, e = runs(any_flag)
        s, e = join_runs(s, e, max_gap)
        for a, b in zip(s.tolist(), e.tolist(), strict=True):
            params = sorted(p for p, m in per_param.items() if m[a:b].any())
            hours = (b - a) * (int(times[1] - times[0]) if len(times) > 1 else 3600) / 3600
            out.append(
                _qc(
                    "flagged_runs",
                    station,
                    params,
                    times,
                    a,
                    b,
                    f"flag_{letter}",
                    float(b - a),
                    f"flagged {letter} ({en}) for {hours:.0f} h by the station: "
                    "not valid data, not suspected fraud",
                    f"站点标记为{letter}（{zh}）共{hours:.0f}小时：无效数据，非疑似造假",
                )
            )
    return out


def detection_limit_runs(
    times: IntArray,
    values: FloatArray,
    *,
    station: str,
    parameter: str,
    lod: float,
    floor: float,
    min_points: int,
) -> list[Evidence]:
    """Runs of at least ``min_points`` values at or below ``max(3 lod, floor)``."""
    level = max(3.0 * lod if math.isfinite(lod) else -math.inf, floor)
    if not math.isfinite(level):
        return []
    low = np.isfinite(values) & (values <= level)
    s, e = runs(low)
    out = []
    for a, b in zip(s.tolist(), e.tolist(), strict=True):
        if b - a < min_points:
            continue
        out.append(
            _qc(
                "detection_limit_runs",
                station,
                [parameter],
                times,
                a,
                b,
                "near_detection_limit",
                float(b - a),
                f"{parameter} at or below {level:.3g} (detection limit or reporting floor) "
                f"for {b - a} values",
                f"{parameter}连续{b - a}个数据处于检出限或最低报告值{level:.3g}以下",
            )
        )
    return out


def pm25_above_pm10(
    times: IntArray, pm25: FloatArray, pm10: FloatArray, *, station: str, resolution: float, min_points: int
) -> list[Evidence]:
    """Runs where PM2.5 exceeds PM10 by more than the reporting resolution."""
    over = np.isfinite(pm25) & np.isfinite(pm10) & (pm25 > pm10 + max(resolution, 1e-9))
    s, e = runs(over)
    s, e = join_runs(s, e, 1)
    out = []
    for a, b in zip(s.tolist(), e.tolist(), strict=True):
        if b - a < min_points:
            continue
        out.append(
            _qc(
                "pm25_above_pm10",
                station,
                ["a34004", "a34002"],
                times,
                a,
                b,
                "pm25_above_pm10",
                float(b - a),
                f"PM2.5 above PM10 for {b - a} values: two monitors' own uncertainty, a quality matter",
                f"PM2.5高于PM10共{b - a}个数据：两台监测仪各自的不确定度所致，属质量问题",
            )
        )
    return out


def ordinary_gaps(
    times: IntArray, values: FloatArray, *, station: str, parameter: str, min_points: int
) -> list[Evidence]:
    """Runs of at least ``min_points`` missing values."""
    s, e = runs(~np.isfinite(values))
    out = []
    for a, b in zip(s.tolist(), e.tolist(), strict=True):
        if b - a < min_points:
            continue
        out.append(
            _qc(
                "ordinary_gaps",
                station,
                [parameter],
                times,
                a,
                b,
                "gap",
                float(b - a),
                f"{parameter} missing for {b - a} values",
                f"{parameter}缺失{b - a}个数据",
            )
        )
    return out


def out_of_range(
    times: IntArray, values: FloatArray, *, station: str, parameter: str, low: float, high: float
) -> list[Evidence]:
    """Runs of values outside ``[low, high]`` (QARTOD gross range test; the span of the analyser
    is the natural ``high``)."""
    if not low <= high:
        return []
    bad = np.isfinite(values) & ((values < low) | (values > high))
    s, e = runs(bad)
    s, e = join_runs(s, e, 1)
    return [
        _qc(
            "out_of_range",
            station,
            [parameter],
            times,
            a,
            b,
            "out_of_range",
            float(b - a),
            f"{parameter} outside [{low:.4g}, {high:.4g}] for {b - a} values (gross range)",
            f"{parameter}超出[{low:.4g}, {high:.4g}]范围共{b - a}个数据（量程检查）",
        )
        for a, b in zip(s.tolist(), e.tolist(), strict=True)
    ]


def spikes(
    times: IntArray, values: FloatArray, *, station: str, parameter: str, k: float = 12.0
) -> list[Evidence]:
    """Single points far from the mean of their two neighbours (QARTOD spike test): beyond ``k``
    robust standard deviations of that difference on the same series, and more than the level of
    the neighbours itself (at least a doubling).

    Raises
    ------
    InvalidParameter
        when ``k`` is not positive.
    """
    if k <= 0:
        raise InvalidParameter("k", k, "a positive number of standard deviations")
    if len(values) < 3:
        return []
    d = np.full(len(values), np.nan)
    d[1:-1] = values[1:-1] - 0.5 * (values[:-2] + values[2:])
    _, scale = location_scale(d, floor=1e-9)
    if not math.isfinite(scale):
        return []
    around = np.full(len(values), np.nan)
    around[1:-1] = 0.5 * np.abs(values[:-2] + values[2:])
    # a spike must stand out from the series' usual steps and from its own level
    hit = np.isfinite(d) & (np.abs(d) > k * scale) & (np.abs(d) > around)
    s, e = runs(hit)
    return [
        _qc(
            "spikes",
            station,
            [parameter],
            times,
            a,
            b,
            "spike",
            float(np.max(np.abs(d[a:b])) / scale),
            f"{parameter} spike of {float(np.max(np.abs(d[a:b]))):.4g} ({k:g} x the usual step)",
            f"{parameter}出现尖峰{float(np.max(np.abs(d[a:b]))):.4g}（超过常规变化的{k:g}倍）",
        )
        for a, b in zip(s.tolist(), e.tolist(), strict=True)
    ]


def startup_shutdown(
    times: IntArray, load: FloatArray | None, o2: FloatArray | None, *, station: str, max_gap: int
) -> list[Evidence]:
    """Runs where a flue-gas unit is stopped (load <= 0, or O2 >= 19 %) and the start-up after."""
    n = len(times)
    stopped = np.zeros(n, dtype=bool)
    if load is not None:
        stopped |= np.isfinite(load) & (load <= 0)
    if o2 is not None:
        stopped |= np.isfinite(o2) & (o2 >= 19.0)
    s, e = runs(stopped)
    s, e = join_runs(s, e, max_gap)
    out = []
    for a, b in zip(s.tolist(), e.tolist(), strict=True):
        out.append(
            _qc(
                "startup_shutdown",
                station,
                [c for c, v in (("load", load), ("a19001", o2)) if v is not None],
                times,
                a,
                b,
                "shutdown_startup",
                float(b - a),
                f"unit stopped or starting up for {b - a} values (load 0 or O2 near air): no emission data",
                f"机组停运或启动共{b - a}个数据（负荷为零或氧含量接近空气）：不计入排放数据",
            )
        )
    return out
