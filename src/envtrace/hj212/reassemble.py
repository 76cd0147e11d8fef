"""Reassembly of split packets (Flag split bit, ``PNUM`` total, ``PNO`` number; HJ 212-2017 table 3).

Sub-packets of one set are recognised by station, system, command and total count plus an anchor:
``DataTime`` when the parts carry it (the standard's 2061 example repeats it in every part), else the
QN of part 1 (parts numbered as in that example, QN + PNO - 1 ms, or all with the same QN).

Pure and bounded: the caller passes the clock (``now``, seconds, e.g. ``time.monotonic()``); at most
``max_sets`` incomplete sets are held, each for at most ``max_age`` seconds and ``max_parts`` parts.
Sets that expire, are evicted or cannot be completed come back as ``Incomplete`` events, so that the
gateway can report them; their raw frames are sealed anyway.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import timedelta

from envtrace.hj212.flag import SPLIT_BIT, parse_flag
from envtrace.hj212.packet import Packet, split_key
from envtrace.hj212.times import format_qn, parse_time

SetKey = tuple[str, str, str, int, str]  # MN, ST, CN, PNUM, anchor


@dataclass(frozen=True, slots=True)
class Reassembled:
    """A complete set (or a packet that was never split: one part). ``packet`` is the merged view:
    header of part 1 without PNUM/PNO and without the split bit; CP of all parts in PNO order, with
    plain fields repeated identically by every part (``DataTime``) kept once."""

    key: SetKey | None
    parts: tuple[Packet, ...]
    packet: Packet
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class Incomplete:
    """A set given up: ``reason`` is "expired", "evicted" or "invalid" (bad PNUM/PNO)."""

    key: SetKey | None
    parts: tuple[Packet, ...]
    pnum: int | None
    missing: tuple[int, ...]
    reason: str


ReassemblyEvent = Reassembled | Incomplete


@dataclass(slots=True)
class _Set:
    key: SetKey
    pnum: int
    first_seen: float
    parts: dict[int, Packet] = field(default_factory=dict)
    duplicates: int = 0


class Reassembler:
    """Collects sub-packets until each set is complete.

    ``add(packet, now=...)`` returns the events it causes: a ``Reassembled`` when the packet
    completes a set (or is not split at all), ``Incomplete`` for sets that expired or were evicted
    to stay within bounds. ``expire(now=...)`` reports expired sets without adding anything.
    """

    __slots__ = ("_max_age", "_max_parts", "_max_sets", "_sets")

    def __init__(self, *, max_sets: int = 256, max_age: float = 600.0, max_parts: int = 64) -> None:
        if max_sets < 1 or max_parts < 1 or max_age <= 0:
            raise ValueError("max_sets and max_parts must be >= 1 and max_age > 0")
        self._sets: OrderedDict[SetKey, _Set] = OrderedDict()
        self._max_sets = max_sets
        self._max_age = max_age
        self._max_parts = max_parts

    @property
    def pending(self) -> int:
        """Number of incomplete sets held."""
        return len(self._sets)

    def expire(self, *, now: float) -> list[ReassemblyEvent]:
        """Give up the sets first seen more than ``max_age`` seconds before ``now``."""
        events: list[ReassemblyEvent] = []
        while self._sets:
            oldest = next(iter(self._sets.values()))
            if now - oldest.first_seen <= self._max_age:
                break
            del self._sets[oldest.key]
            events.append(_incomplete(oldest, "expired"))
        return events

    def add(self, packet: Packet, *, now: float) -> list[ReassemblyEvent]:
        """Add one decoded packet; return the events it causes (see the class docstring)."""
        events = self.expire(now=now)
        if packet.pnum is None and packet.pno is None:
            # not split (a split bit without PNUM/PNO, a known deviation, leaves nothing to wait for)
            events.append(Reassembled(None, (packet,), packet))
            return events
        pnum, pno = _number(packet.pnum), _number(packet.pno)
        if pnum is None or pno is None or not 1 <= pno <= pnum or pnum > self._max_parts:
            events.append(Incomplete(None, (packet,), pnum, (), "invalid"))
            return events
        key = self._key_for(packet, pnum, pno)
        entry = self._sets.get(key)
        if entry is None:
            entry = _Set(key, pnum, now)
            self._sets[key] = entry
            while len(self._sets) > self._max_sets:
                _, evicted = self._sets.popitem(last=False)
                events.append(_incomplete(evicted, "evicted"))
        if pno in entry.parts:
            entry.duplicates += 1
        else:
            entry.parts[pno] = packet
        if len(entry.parts) == entry.pnum:
            del self._sets[key]
            parts = tuple(entry.parts[i] for i in range(1, entry.pnum + 1))
            events.append(Reassembled(key, parts, merge(parts), entry.duplicates))
        return events

    def _key_for(self, packet: Packet, pnum: int, pno: int) -> SetKey:
        base = (packet.mn, packet.st, packet.cn, pnum)
        data_time = packet.cp_map.get("DataTime")
        if data_time is not None:
            return (*base, "DataTime=" + data_time)
        qn = packet.qn or ""
        first = _qn_minus(qn, pno - 1)
        for anchor in (first, qn):
            key = (*base, "QN=" + anchor)
            if key in self._sets:
                return key
        return (*base, "QN=" + first)


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _qn_minus(qn: str, steps: int) -> str:
    moment = parse_time(qn) if len(qn) == 17 else None
    return qn if moment is None else format_qn(moment - timedelta(milliseconds=steps))


def _incomplete(entry: _Set, reason: str) -> Incomplete:
    parts = tuple(entry.parts[i] for i in sorted(entry.parts))
    missing = tuple(i for i in range(1, entry.pnum + 1) if i not in entry.parts)
    return Incomplete(entry.key, parts, entry.pnum, missing, reason)


def merge(parts: tuple[Packet, ...]) -> Packet:
    """One packet from the parts of a set, in order (see ``Reassembled``)."""
    first = parts[0]
    cp: list[tuple[str, str]] = list(first.cp)
    seen_plain = {(k, v) for k, v in first.cp if split_key(k) is None}
    for part in parts[1:]:
        for key, value in part.cp:
            if split_key(key) is None and (key, value) in seen_plain:
                continue
            cp.append((key, value))
    flag = parse_flag(first.flag)
    merged_flag = str(flag & ~SPLIT_BIT) if flag is not None else first.flag
    return replace(first, cp=tuple(cp), pnum=None, pno=None, flag=merged_flag)
