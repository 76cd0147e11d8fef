"""Re-deriving a frame's readings from its raw bytes, independently of the gateway's code.

The rule is the platform's (``docs/architecture.md``, Readings): one reading per factor item of a
2011 / 2051 / 2061 / 2031 upload; 2005 codes mapped to 2017 by the codec's table (the received code
kept in ``extra.code``); ``Rtd``/``Avg`` -> value, ``Min``, ``Max``, ``Cou``, ``ZsRtd``/``ZsAvg`` ->
zs_value, ``ZsMin``, ``ZsMax`` as finite numbers (the first of each), ``Flag`` (<= 4 characters),
``EFlag`` (<= 8), ``SampleTime`` -> Unix seconds; anything else into ``extra`` (JSON), nothing dropped.
A split packet (PNUM > 1) makes its readings when its last part arrives, from all parts' items in
PNO order (``SubPackets`` replays that over the frames in ledger order).

HJ 212-2025 stations encrypt their CP (SM4). ``KeyHistory`` holds every key each station ever had
(``store.station_keys``, opened with the station-key master key of the state folder), so a frame
received under an earlier key is decoded with that key: the keys in use when the frame was
received are tried first, then the station's others. Without the master key such frames can only
be checked against their digest.

This module re-implements the rule from the documentation on purpose: a verifier that shared the
gateway's code would share its mistakes. ``tests/evidence`` checks it against the gateway's
readings. The station's UTC offset is taken from the sealed ``data_ts`` itself (DataTime minus
data_ts), so a later change of the station's configuration does not change the answer.
"""

from __future__ import annotations

import calendar
import json
import logging
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from envtrace.hj212 import Decoded, code_2017, decode, parse_key, parse_time
from envtrace.store.errors import StoreError
from envtrace.store.series import digest_of_records, reading_record, record_json
from envtrace.store.station_keys import KeyVault, UsableKey, key_history

log = logging.getLogger("envtrace.evidence.derive")

GRANULARITY = {"2011": "rtd", "2051": "min", "2061": "hour", "2031": "day"}
VALUE_COLUMNS = ("value", "min", "max", "cou", "zs_value", "zs_min", "zs_max")
READING_ROW = (
    "granularity", "data_ts", "value", "min", "max", "cou", "zs_value", "zs_min", "zs_max", "flag", "eflag",
    "sample_ts", "extra",
)  # fmt: skip
RECORD_COLUMNS = ("parameter", "granularity", "data_ts", "values", "flag", "eflag", "sample_ts", "extra")
_SLOTS = {"Rtd": 0, "Avg": 0, "Min": 1, "Max": 2, "Cou": 3, "ZsRtd": 4, "ZsAvg": 4, "ZsMin": 5, "ZsMax": 6}
FLAG_MAX, EFLAG_MAX, CODE_MAX = 4, 8, 32
MAX_SETS = 10_000

Items = dict[str, dict[str, str]]
Record = list[object]
Row = tuple[object, ...]
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _item(
    code: str, fields: Mapping[str, str], offset_min: int
) -> tuple[list[float | None], dict[str, str], list[object]]:
    nums: list[float | None] = [None] * 7
    extra: dict[str, str] = {}
    flag: str | None = None
    eflag: str | None = None
    sample_ts: int | None = None
    for suffix, text in fields.items():
        slot = _SLOTS.get(suffix)
        if slot is not None and nums[slot] is None:
            value = _number(text)
            if value is None:
                extra[suffix] = text
            else:
                nums[slot] = value
        elif suffix == "Flag" and flag is None and len(text) <= FLAG_MAX:
            flag = text
        elif suffix == "EFlag" and eflag is None and len(text) <= EFLAG_MAX:
            eflag = text
        elif suffix == "SampleTime" and sample_ts is None and (local := parse_time(text)) is not None:
            sample_ts = calendar.timegm(local.timetuple()) - offset_min * 60
        else:
            extra[suffix] = text
    return nums, extra, [flag, eflag, sample_ts]


def records_from_items(
    cn: str, st: str | None, items: Mapping[str, Mapping[str, str]], data_ts: int, offset_min: int
) -> list[Record]:
    """The reading records (``store.series.reading_record`` form) a data packet's items make."""
    return records_of(rows_from_items(cn, st, items, data_ts, offset_min))


def rows_from_items(
    cn: str, st: str | None, items: Mapping[str, Mapping[str, str]], data_ts: int, offset_min: int
) -> dict[str, Row]:
    """The readings as column values keyed by parameter, in ``READING_ROW`` order (granularity,
    data_ts, value, min, max, cou, zs_value, zs_min, zs_max, flag, eflag, sample_ts, extra), to
    compare with stored rows without re-encoding them."""
    granularity = GRANULARITY.get(cn)
    if granularity is None:
        return {}
    rows: dict[str, Row] = {}
    for received, fields in items.items():
        code = code_2017(received, st=st) or received
        if len(code) > CODE_MAX or code in rows:
            continue
        nums, extra, (flag, eflag, sample_ts) = _item(code, fields, offset_min)
        if code != received:
            extra["code"] = received
        text = _dumps(extra) if extra else None
        rows[code] = (granularity, data_ts, *nums, flag, eflag, sample_ts, text)
    return rows


def records_of(rows: Mapping[str, Row]) -> list[Record]:
    """``store.series.reading_record`` of each row (the canonical form, for display and bundles)."""
    return [reading_record(p, r[0], r[1], r[2:9], r[9], r[10], r[11], r[12]) for p, r in rows.items()]  # type: ignore[arg-type]


def digest_of(rows: Mapping[str, Row]) -> str | None:
    """``store.series.readings_digest`` of the rows (None for none), via the store's own encoder."""
    if not rows:
        return None
    return digest_of_records(
        [(p, record_json(p, r[0], r[1], r[2:9], r[9], r[10], r[11], r[12])) for p, r in rows.items()]  # type: ignore[arg-type]
    )


def station_key(sm4_key: str | None) -> bytes | None:
    """The SM4 key of a station as the registry holds it (16 ASCII characters or 32 hex digits)."""
    if not sm4_key:
        return None
    try:
        return parse_key(sm4_key)
    except ValueError:
        return None


class KeyHistory:
    """Every SM4 key of every station, with the time each was in use (``envtrace verify``)."""

    def __init__(self, keys: Mapping[int, Sequence[UsableKey]]) -> None:
        self._keys = {sid: list(found) for sid, found in keys.items()}

    @classmethod
    def load(
        cls, conn: Connection, state_dir: Path | None, *, station_ids: Iterable[int] | None = None
    ) -> KeyHistory | None:
        """The history of ``conn``'s database (of ``station_ids`` only, when given), opened with the
        master key of ``state_dir``; None when there is no master key there (or no key table):
        encrypted frames are then not decoded."""
        if state_dir is None:
            return None
        try:
            vault = KeyVault.open(state_dir, create=False)
            return cls(key_history(conn, vault, station_ids=station_ids))
        except (StoreError, OSError, SQLAlchemyError) as exc:
            log.warning("SM4 key history unavailable: %s", exc)
            return None

    def __len__(self) -> int:
        return sum(len(v) for v in self._keys.values())

    def candidates(self, station_id: int, received_us: int) -> list[bytes]:
        """The station's keys, those in use at ``received_us`` first (newest first), then the rest."""
        keys = self._keys.get(station_id, [])

        def in_use(k: UsableKey) -> bool:
            end = k.ended_us if k.ended_us is not None else k.until_us
            return k.created_us <= received_us and (end is None or received_us < end)

        first = sorted((k for k in keys if in_use(k)), key=lambda k: -k.created_us)
        rest = sorted((k for k in keys if not in_use(k)), key=lambda k: -k.created_us)
        return [k.key for k in (*first, *rest)]


def decode_raw(raw: bytes, key: bytes | None) -> Decoded:
    """Decode a stored frame the way the gateway may have (tolerant: deviations do not matter here)."""
    return decode(raw, key=key, strict=False)


def offset_minutes(decoded: Decoded, data_ts: int) -> int | None:
    """The station's UTC offset at receipt: local DataTime minus the sealed data_ts, in minutes."""
    packet = decoded.packet
    if packet is None or packet.data_time is None:
        return None
    return (calendar.timegm(packet.data_time.timetuple()) - data_ts) // 60


@dataclass(slots=True)
class Derived:
    """The readings a frame's raw bytes make (rows by parameter), or why they cannot be made."""

    rows: dict[str, Row] | None
    reason: str | None = None

    @property
    def records(self) -> list[Record] | None:
        return None if self.rows is None else records_of(self.rows)

    @property
    def digest(self) -> str | None:
        return None if not self.rows else digest_of(self.rows)


class SubPackets:
    """Split packets replayed in ledger order: items per (MN, CN, DataTime, PNUM), merged in PNO
    order when the last part arrives (the newest copy of each part counts)."""

    def __init__(self, max_sets: int = MAX_SETS) -> None:
        self._sets: OrderedDict[tuple[str, str, str, int], dict[int, Items]] = OrderedDict()
        self._max = max_sets

    def add(self, decoded: Decoded, pnum: int, pno: int) -> Items | None:
        header = decoded.header or {}
        packet = decoded.packet
        key = (header.get("MN", ""), header.get("CN", ""), (decoded.cp or {}).get("DataTime", ""), pnum)
        parts = self._sets.get(key)
        if parts is None:
            parts = self._sets[key] = {}
            while len(self._sets) > self._max:
                self._sets.popitem(last=False)
        parts[pno] = {} if packet is None else {c: dict(f) for c, f in packet.items.items()}
        if len(parts) < pnum or any(n not in parts for n in range(1, pnum + 1)):
            return None
        del self._sets[key]
        merged: Items = {}
        for n in range(1, pnum + 1):
            for code, fields in parts[n].items():
                merged.setdefault(code, {}).update(fields)
        return merged


def derive(
    decoded: Decoded, data_ts: int | None, items: Mapping[str, Mapping[str, str]] | None = None
) -> Derived:
    """The records of a decoded data frame (``items`` overrides the packet's own, for split sets)."""
    if not decoded.ok or decoded.packet is None:
        reason = "the raw frame no longer decodes"
        if decoded.error is not None:
            reason += f": {decoded.error}"
        return Derived(None, reason)
    if data_ts is None:
        return Derived({})
    packet = decoded.packet
    offset = offset_minutes(decoded, data_ts)
    if offset is None:
        return Derived(None, "the raw frame has no DataTime")
    return Derived(
        rows_from_items(packet.cn, packet.st, packet.items if items is None else items, data_ts, offset)
    )
