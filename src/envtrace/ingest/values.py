"""Readings from a conforming data packet: one row per factor item, nothing dropped.

``GRANULARITY`` maps the data commands to the readings' granularity (HJ 212-2017 table 9: 2011
real-time, 2051 minute, 2061 hour, 2031 day). DataTime is the station's local time; ``data_ts`` =
local - ``utc_offset_min`` * 60 (``docs/architecture.md``, Time). 2005 factor codes become 2017
codes through the codec's table (``code_2017``, chosen by ST); a code without a mapping is kept as
received. Suffix fields: Rtd/Avg -> value, Min, Max, Cou, ZsRtd/ZsAvg -> zs_value, ZsMin, ZsMax,
Flag, EFlag, SampleTime -> sample_ts; any other suffix, any value that is not a finite number and
the code as received (when it was mapped) go to ``extra`` (JSON), so nothing of the item is lost.

Hot path: ``frame_readings`` makes, in one pass over the items, the rows the storage process
inserts (shape mask + the values present, see ``work.ReadingRow``) and the ``readings_sha256`` the
frame's leaf will carry (``store.series.record_json``, equal to ``readings_digest``).
"""

from __future__ import annotations

import calendar
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import compress
from json.encoder import encode_basestring_ascii
from typing import Any

from envtrace.hj212.factors import code_2017
from envtrace.hj212.times import parse_time
from envtrace.ingest.work import ReadingRow
from envtrace.store.series import digest_of_records

GRANULARITY = {"2011": "rtd", "2051": "min", "2061": "hour", "2031": "day"}
_NUMERIC = {
    "Rtd": 0,
    "Avg": 0,
    "Min": 1,
    "Max": 2,
    "Cou": 3,
    "ZsRtd": 4,
    "ZsAvg": 4,
    "ZsMin": 5,
    "ZsMax": 6,
}
FLAG_MAX, EFLAG_MAX, CODE_MAX = 4, 8, 32
_SAMPLE_BIT, _EXTRA_BIT = 1 << 9, 1 << 10
# suffix -> slot in store.series.OPTIONAL_COLUMNS order (extra, slot 10, takes everything else)
_SLOT = {**_NUMERIC, "Flag": 7, "EFlag": 8, "SampleTime": 9}
_NAN = float("nan")
_MISSING: Any = object()
_SELECTORS = [tuple(bool(mask >> i & 1) for i in range(11)) for mask in range(1 << 11)]
_isfinite = math.isfinite
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode


def to_ts(local: datetime, utc_offset_min: int) -> int:
    """Unix seconds (UTC) of a station's local wall-clock time."""
    return calendar.timegm(local.timetuple()) - utc_offset_min * 60


def items_of(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, str]]:
    """Per-factor fields of CP pairs, as ``hj212.Packet.items`` gives them: ``code-suffix`` keys
    (stripped, code before the first ``-``, non-empty), first appearance order, last value wins."""
    out: dict[str, dict[str, str]] = {}
    for key, value in pairs:
        code, sep, suffix = key.strip().partition("-")
        if sep and code:
            fields = out.get(code)
            if fields is None:
                out[code] = {suffix: value}
            else:
                fields[suffix] = value
    return out


def item_row(code: str, fields: Mapping[str, str], utc_offset_min: int) -> tuple[Any, ...]:
    """(parameter, value, min, max, cou, zs_value, zs_min, zs_max, flag, eflag, sample_ts, extra)."""
    nums: list[float | None] = [None] * 7
    extra: dict[str, str] = {}
    flag = eflag = None
    sample_ts = None
    for suffix, text in fields.items():
        slot = _NUMERIC.get(suffix)
        if slot is not None and nums[slot] is None:
            try:
                value = float(text)
            except ValueError:
                extra[suffix] = text
                continue
            if _isfinite(value):
                nums[slot] = value
            else:
                extra[suffix] = text
        elif suffix == "Flag" and flag is None and len(text) <= FLAG_MAX:
            flag = text
        elif suffix == "EFlag" and eflag is None and len(text) <= EFLAG_MAX:
            eflag = text
        elif suffix == "SampleTime" and sample_ts is None and (local := parse_time(text)) is not None:
            sample_ts = to_ts(local, utc_offset_min)
        else:
            extra[suffix] = text
    return (code, *nums, flag, eflag, sample_ts, extra)


def frame_readings(
    cn: str,
    st: str | None,
    items: Mapping[str, Mapping[str, str]],
    data_ts: int,
    utc_offset_min: int,
    *,
    digest: bool = True,
) -> tuple[str | None, list[ReadingRow], str | None]:
    """(granularity, rows, readings_sha256) of a data packet's factor items: no rows (and no
    digest) for commands that make no readings. Rows are ``(mask, parameter, *values present)``.

    Same rows as ``item_row`` per item (tests hold them equal), in one pass: each field lands in
    its slot, its bit is set in the shape mask and, for the digest, its canonical JSON text is
    kept (``store.series.record_json`` of the row, assembled here from the pieces)."""
    granularity = GRANULARITY.get(cn)
    if granularity is None or not items:
        return None, [], None
    rows: list[ReadingRow] = []
    records: list[tuple[str, str]] = []
    seen: set[str] = set()
    key_tail = f',"{granularity}",{int(data_ts)},['
    slot_of = _SLOT.get
    for received, fields in items.items():
        code = code_2017(received, st=st) or received
        if len(code) > CODE_MAX or code in seen:
            continue  # kept in the raw frame; a reading key cannot hold it
        seen.add(code)
        values: list[Any] = [None] * 11
        texts = ["null"] * 11
        mask = 0
        extra: dict[str, str] | None = None
        for suffix, text in fields.items():
            slot = slot_of(suffix)
            if slot is not None and not mask >> slot & 1:
                if slot < 7:
                    try:
                        number = float(text)
                    except ValueError:
                        number = _NAN
                    if _isfinite(number):
                        values[slot] = number
                        texts[slot] = f'"{number!r}"'
                        mask |= 1 << slot
                        continue
                elif slot == 9:
                    local = parse_time(text)
                    if local is not None:
                        sample_ts = calendar.timegm(local.timetuple()) - utc_offset_min * 60
                        values[9] = sample_ts
                        texts[9] = str(sample_ts)
                        mask |= _SAMPLE_BIT
                        continue
                elif len(text) <= (FLAG_MAX if slot == 7 else EFLAG_MAX):
                    values[slot] = text
                    texts[slot] = encode_basestring_ascii(text)
                    mask |= 1 << slot
                    continue
            if extra is None:
                extra = {suffix: text}
            else:
                extra[suffix] = text
        if code != received:
            if extra is None:
                extra = {"code": received}
            else:
                extra["code"] = received
        if extra is not None:
            text = _dumps(extra)
            values[10] = text
            texts[10] = encode_basestring_ascii(text)
            mask |= _EXTRA_BIT
        rows.append((mask, code, *compress(values, _SELECTORS[mask])))
        if digest:
            records.append(
                (
                    code,
                    f"[{encode_basestring_ascii(code)}{key_tail}{','.join(texts[:7])}],"
                    f"{texts[7]},{texts[8]},{texts[9]},{texts[10]}]",
                )
            )
    if not rows or not digest:
        return granularity, rows, None
    return granularity, rows, digest_of_records(records)


class _Plan:
    """How the readings of one CP *structure* (ST and the sequence of CP keys) are made, worked out
    once: per item its code, the pair index and slot of each field, the shape mask and the
    canonical-JSON template of its digest record. Only structures whose every item is plain (no
    2005 code to map, no field that would go to ``extra``, no repeated key) get a plan."""

    __slots__ = ("items", "order")

    def __init__(
        self, items: list[tuple[str, str, tuple[tuple[int, int], ...], int, str]], order: list[int]
    ) -> None:
        self.items = items  # (code, code as JSON, ((pair index, slot), ...) by slot, mask, template)
        self.order = order  # item positions sorted by code (the digest's order)


_PLANS: dict[tuple[str | None, tuple[str, ...]], _Plan | None] = {}
PLANS_MAX = 4096


def _template(slots: Sequence[int]) -> str:
    """``str.format`` template of the record's values part for these slots (placeholders in slot
    order; numbers quoted, as ``record_json`` writes them)."""
    texts = ["null"] * 11
    for slot in slots:
        texts[slot] = '"{}"' if slot < 7 else "{}"
    return f"{','.join(texts[:7])}],{texts[7]},{texts[8]},{texts[9]},{texts[10]}]"


def _plan(st: str | None, keys: tuple[str, ...]) -> _Plan | None:
    if len(set(keys)) != len(keys):
        return None
    items: dict[str, list[tuple[int, int]]] = {}
    for index, key in enumerate(keys):
        code, sep, suffix = key.strip().partition("-")
        if not sep or not code:
            continue
        slot = _SLOT.get(suffix)
        if slot is None or key != key.strip():
            return None  # a field for extra (or a key the codec strips): the general path
        items.setdefault(code, []).append((index, slot))
    planned: list[tuple[str, str, tuple[tuple[int, int], ...], int, str]] = []
    for code, fields in items.items():
        if len(code) > CODE_MAX or code_2017(code, st=st) not in (None, code):
            return None
        slots = [slot for _, slot in fields]
        if len(set(slots)) != len(slots):
            return None  # Rtd and Avg both: the second one goes to extra
        ordered = tuple(sorted(fields, key=lambda f: f[1]))
        mask = sum(1 << slot for slot in slots)
        planned.append(
            (code, encode_basestring_ascii(code), ordered, mask, _template([s for _, s in ordered]))
        )
    order = sorted(range(len(planned)), key=lambda i: planned[i][0])
    return _Plan(planned, order)


def planned_readings(
    cn: str,
    st: str | None,
    pairs: Sequence[tuple[str, str]],
    data_ts: int,
    utc_offset_min: int,
    *,
    digest: bool = True,
) -> tuple[str | None, list[ReadingRow], str | None] | None:
    """``frame_readings(cn, st, items_of(pairs), ...)`` through the plan of the CP's structure, or
    None when the structure has no plan or a value does not fit it (not a finite number, a flag too
    long, a SampleTime that is no time): the caller then takes the general path."""
    granularity = GRANULARITY.get(cn)
    if granularity is None:
        return None, [], None
    key = (st, tuple([k for k, _ in pairs]))
    plan = _PLANS.get(key, _MISSING)
    if plan is _MISSING:
        if len(_PLANS) >= PLANS_MAX:
            _PLANS.clear()
        plan = _PLANS[key] = _plan(st, key[1])
    if plan is None or not plan.items:  # type: ignore[union-attr]
        return None
    tail = f',"{granularity}",{int(data_ts)},['
    rows: list[ReadingRow] = []
    records: list[str] = []
    for code, code_json, fields, mask, template in plan.items:  # type: ignore[union-attr]
        values: list[Any] = [mask, code]
        texts: list[str] = []
        for index, slot in fields:
            text = pairs[index][1]
            if slot < 7:
                try:
                    number = float(text)
                except ValueError:
                    return None
                if not _isfinite(number):
                    return None
                values.append(number)
                texts.append(repr(number))
            elif slot == 9:
                local = parse_time(text)
                if local is None:
                    return None
                sample_ts = calendar.timegm(local.timetuple()) - utc_offset_min * 60
                values.append(sample_ts)
                texts.append(str(sample_ts))
            else:
                if len(text) > (FLAG_MAX if slot == 7 else EFLAG_MAX):
                    return None
                values.append(text)
                texts.append(encode_basestring_ascii(text))
        rows.append(tuple(values))
        if digest:
            records.append(f"[{code_json}{tail}{template.format(*texts)}")
    if not digest:
        return granularity, rows, None
    joined = ",".join([records[i] for i in plan.order])  # type: ignore[union-attr]
    return granularity, rows, hashlib.sha256(f"[{joined}]".encode("ascii")).hexdigest()


def full_row(row: ReadingRow) -> tuple[Any, ...]:
    """``(parameter, value, min, max, cou, zs_value, zs_min, zs_max, flag, eflag, sample_ts, extra)``
    of a shaped row (tests and tools)."""
    mask, parameter, *present = row
    out: list[Any] = [None] * 11
    it = iter(present)
    for i in range(11):
        if mask >> i & 1:
            out[i] = next(it)
    return (parameter, *out)
