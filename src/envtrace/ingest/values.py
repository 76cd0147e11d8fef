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
from itertools import compress, repeat
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


class _Group:
    """Items of a plan that have the same fields (slots): made together, column-wise."""

    __slots__ = ("codes", "fields", "mask")

    def __init__(
        self,
        codes: tuple[str, ...],
        fields: tuple[tuple[int, tuple[int, ...]], ...],
        mask: int,
    ) -> None:
        self.codes = codes  # the items' parameters
        self.fields = fields  # (slot, the pair index of that field in each item), in slot order
        self.mask = mask


class _Plan:
    """How the readings of one CP *structure* (ST and the sequence of CP keys) are made, worked out
    once: the items grouped by their set of fields, where each field sits in the CP, and the
    ``str.format`` template of the whole digest document (the items' records sorted by parameter,
    ``store.series.record_json`` each), whose argument 0 is the frame's granularity and data time
    and whose further arguments are the fields' JSON texts in the order the groups produce them.
    Only structures whose every item is plain (no 2005 code to map, no field that would go to
    ``extra``, no repeated key) get a plan."""

    __slots__ = ("digest_template", "groups")

    def __init__(self, groups: list[_Group]) -> None:
        self.groups = groups
        records: dict[str, str] = {}
        texts: dict[str, list[str]] = {code: ["null"] * 11 for group in groups for code in group.codes}
        argument = 1
        for group in groups:
            for slot, _ in group.fields:
                for code in group.codes:
                    texts[code][slot] = f'"{{{argument}}}"' if slot < 7 else f"{{{argument}}}"
                    argument += 1
        for code, t in texts.items():
            quoted = encode_basestring_ascii(code).replace("{", "{{").replace("}", "}}")
            records[code] = f"[{quoted}{{0}}{','.join(t[:7])}],{t[7]},{t[8]},{t[9]},{t[10]}]"
        self.digest_template = "[" + ",".join(records[code] for code in sorted(records)) + "]"


_PLANS: dict[tuple[str | None, tuple[str, ...]], _Plan | None] = {}
PLANS_MAX = 4096


def _plan(st: str | None, keys: tuple[str, ...]) -> _Plan | None:
    if len(set(keys)) != len(keys):
        return None
    items: dict[str, dict[int, int]] = {}  # code -> slot -> pair index
    for index, key in enumerate(keys):
        code, sep, suffix = key.strip().partition("-")
        if not sep or not code:
            continue
        slot = _SLOT.get(suffix)
        if slot is None or key != key.strip():
            return None  # a field for extra (or a key the codec strips): the general path
        fields = items.setdefault(code, {})
        if slot in fields:
            return None  # Rtd and Avg both: the second one goes to extra
        fields[slot] = index
    by_slots: dict[tuple[int, ...], list[tuple[str, dict[int, int]]]] = {}
    for code, fields in items.items():
        if len(code) > CODE_MAX or code_2017(code, st=st) not in (None, code):
            return None
        by_slots.setdefault(tuple(sorted(fields)), []).append((code, fields))
    return _Plan(
        [
            _Group(
                tuple(code for code, _ in members),
                tuple((slot, tuple(fields[slot] for _, fields in members)) for slot in slots),
                sum(1 << slot for slot in slots),
            )
            for slots, members in by_slots.items()
        ]
    )


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
    long, a SampleTime that is no time): the caller then takes the general path.

    The work is column-wise (one ``map`` per field over the items that have it, one ``format`` for
    the digest document), so its cost hardly grows with the number of factors."""
    granularity = GRANULARITY.get(cn)
    if granularity is None:
        return None, [], None
    key = (st, tuple([k for k, _ in pairs]))
    plan = _PLANS.get(key, _MISSING)
    if plan is _MISSING:
        if len(_PLANS) >= PLANS_MAX:
            _PLANS.clear()
        plan = _PLANS[key] = _plan(st, key[1])
    if plan is None or not plan.groups:
        return None
    texts = [v for _, v in pairs]
    get = texts.__getitem__
    rows: list[ReadingRow] = []
    arguments: list[str] = [f',"{granularity}",{int(data_ts)},[']
    add = arguments.extend
    try:
        for group in plan.groups:
            columns: list[tuple[Any, ...]] = []
            for slot, indexes in group.fields:
                raw = tuple(map(get, indexes))
                if slot < 7:
                    numbers = tuple(map(float, raw))  # ValueError: not a number, the general path
                    if not all(map(_isfinite, numbers)):
                        return None
                    columns.append(numbers)
                    if digest:
                        add(map(repr, numbers))
                elif slot == 9:
                    stamps = tuple(map(_sample_ts, raw, repeat(utc_offset_min)))
                    if None in stamps:
                        return None
                    columns.append(stamps)
                    if digest:
                        add(map(str, stamps))
                else:
                    if max(map(len, raw)) > (FLAG_MAX if slot == 7 else EFLAG_MAX):
                        return None
                    columns.append(raw)
                    if digest:
                        add(map(encode_basestring_ascii, raw))
            rows.extend(zip(repeat(group.mask), group.codes, *columns))
    except ValueError:
        return None
    if not digest:
        return granularity, rows, None
    document = plan.digest_template.format(*arguments)
    return granularity, rows, hashlib.sha256(document.encode("ascii")).hexdigest()


def _sample_ts(text: str, utc_offset_min: int) -> int | None:
    local = parse_time(text)
    return None if local is None else calendar.timegm(local.timetuple()) - utc_offset_min * 60


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
