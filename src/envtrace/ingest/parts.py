"""Sub-packets (HJ 212-2017 Flag bit 1, PNUM / PNO): the readings of a split packet are made when
its last part arrives, from all parts' factor items in PNO order.

Parts are grouped by (MN, CN, DataTime, PNUM); every part is stored raw and sealed as it arrives
(status ``partial`` until the set is complete, the completing part ``accepted``). Incomplete sets
are forgotten after ``max_sets`` newer ones (their parts stay stored, raw and sealed).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from envtrace.ingest.work import Work

Items = dict[str, dict[str, str]]


class SubPackets:
    def __init__(self, max_sets: int = 10_000) -> None:
        self._sets: OrderedDict[tuple[str, str, str, int], dict[int, Items]] = OrderedDict()
        self._max = max_sets

    def add(self, w: Work, data_time: str, items: Mapping[str, Mapping[str, str]]) -> Items | None:
        """Record one part; the merged items when this part completes the set, else None."""
        pnum, pno = w.pnum or 0, w.pno or 0
        key = (w.mn or "", w.cn or "", data_time, pnum)
        parts = self._sets.get(key)
        if parts is None:
            parts = self._sets[key] = {}
            while len(self._sets) > self._max:
                self._sets.popitem(last=False)
        parts[pno] = {code: dict(fields) for code, fields in items.items()}
        if len(parts) < pnum or any(n not in parts for n in range(1, pnum + 1)):
            return None
        del self._sets[key]
        merged: Items = {}
        for n in range(1, pnum + 1):
            for code, fields in parts[n].items():
                merged.setdefault(code, {}).update(fields)
        return merged
