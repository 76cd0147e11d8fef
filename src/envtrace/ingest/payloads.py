"""Rows of the HJ 212-2025 uploads that are not readings (``store/payloads.py`` has the tables).

The storage process calls ``payload_rows`` for an accepted frame of CN 2013 (raw periodic
measurements), 2052 (single noise measurement), 2111 (furnace temperature 5-minute mean) or 2062
(automatic standard-sample check), from the factor items the network process decoded, in the
transaction that stores the frame. Items as ``shared/specs/hj212-2025-and-hj75.md`` §1.4 gives
them: 2013 ``-SampleTime``, ``-CompleteTime``, ``-SampleType``, ``-Avg``, ``-Flag``; 2052
``-Data``; 2111 ``-Avg``; 2062 ``-SampleRd`` (measured), ``-StandardValue`` (nominal),
``-ResultType`` (1 pass, 0 fail). Any other field, and any value that is not what its column
holds, goes to ``extra`` (JSON): nothing of an item is dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from envtrace.hj212.times import parse_time
from envtrace.ingest.values import items_of, to_ts
from envtrace.ingest.work import Source

MEASUREMENT_CNS = frozenset({"2013", "2052", "2111"})
CHECK_CN = "2062"
PAYLOAD_CNS = MEASUREMENT_CNS | {CHECK_CN}
CODE_MAX, FLAG_MAX, TYPE_MAX = 32, 4, 8
_VALUE_SUFFIXES = ("Avg", "Data", "Rtd")
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode

Row = tuple[Any, ...]


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _time(text: str | None, utc_offset_min: int) -> int | None:
    local = parse_time(text) if text else None
    return None if local is None else to_ts(local, utc_offset_min)


def _items(source: Source) -> Mapping[str, Mapping[str, str]]:
    if source is None:
        return {}
    if isinstance(source, dict):
        return source
    return items_of(source)


def payload_rows(
    cn: str, source: Source, station_id: int, data_ts: int, utc_offset_min: int, frame_id: int
) -> tuple[list[Row], list[Row]]:
    """(measurement rows, standard-check rows) of one accepted frame, in the column order of
    ``store.payloads.MEASUREMENT_COLUMNS`` / ``CHECK_COLUMNS``."""
    measurements: list[Row] = []
    checks: list[Row] = []
    for code, fields in _items(source).items():
        if len(code) > CODE_MAX:
            continue  # kept in the raw frame; a key column cannot hold it
        rest = dict(fields)
        flag = rest.pop("Flag", None)
        if flag is not None and len(flag) > FLAG_MAX:
            rest["Flag"], flag = flag, None
        if cn == CHECK_CN:
            measured = _number(rest.get("SampleRd"))
            nominal = _number(rest.get("StandardValue"))
            verdict = rest.get("ResultType")
            result = int(verdict) if verdict in ("0", "1") else None
            for name, parsed in (("SampleRd", measured), ("StandardValue", nominal), ("ResultType", result)):
                if parsed is not None:
                    rest.pop(name, None)
            extra = _dumps(rest) if rest else None
            checks.append((station_id, code, data_ts, measured, nominal, result, flag, extra, frame_id))
            continue
        value = None
        for suffix in _VALUE_SUFFIXES:
            value = _number(rest.get(suffix))
            if value is not None:
                rest.pop(suffix)
                break
        sample_ts = _time(rest.get("SampleTime"), utc_offset_min)
        if sample_ts is not None:
            rest.pop("SampleTime")
        complete_ts = _time(rest.get("CompleteTime"), utc_offset_min)
        if complete_ts is not None:
            rest.pop("CompleteTime")
        sample_type = rest.get("SampleType")
        if sample_type is not None and len(sample_type) <= TYPE_MAX:
            rest.pop("SampleType")
        else:
            sample_type = None
        extra = _dumps(rest) if rest else None
        measurements.append(
            (station_id, cn, code, data_ts, value, sample_ts, complete_ts, sample_type, flag, extra, frame_id)
        )
    return measurements, checks
