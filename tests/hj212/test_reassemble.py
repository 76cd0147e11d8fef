"""Reassembler: the standard's split example, out-of-order parts, expiry, eviction, bad numbering."""

from __future__ import annotations

from hj212_vectors import PACKETS, frame

from envtrace.hj212 import Incomplete, Packet, Reassembled, Reassembler, parse

PARTS = [parse(frame(v)) for v in PACKETS if "CN 2061 PNO" in v["source"]]


def part(pno: int, pnum: int = 3, *, data_time: str | None = "20160801080000", qn: str = "20160801085857534",
         mn: str = "M1") -> Packet:  # fmt: skip
    cp = ([("DataTime", data_time)] if data_time else []) + [(f"w0{pno}-Avg", str(pno))]
    return Packet(st="32", cn="2061", pw="123456", mn=mn, qn=qn, flag="7", pnum=str(pnum),
                  pno=str(pno), cp=tuple(cp))  # fmt: skip


def test_the_standards_split_example() -> None:
    reassembler = Reassembler()
    assert reassembler.add(PARTS[0], now=0.0) == []
    assert reassembler.pending == 1
    (event,) = reassembler.add(PARTS[1], now=1.0)
    assert isinstance(event, Reassembled)
    assert event.parts == tuple(PARTS)
    merged = event.packet
    assert merged.pnum is None
    assert merged.pno is None
    assert merged.flag == "5"
    assert merged.qn == PARTS[0].qn
    assert [k for k, _ in merged.cp].count("DataTime") == 1
    assert set(merged.items) == {"w00000", "w01001", "w01018"}
    assert reassembler.pending == 0


def test_parts_in_any_order_and_duplicates() -> None:
    reassembler = Reassembler()
    assert reassembler.add(part(3), now=0) == []
    assert reassembler.add(part(1), now=0) == []
    assert reassembler.add(part(1), now=0) == []  # resent: counted, first copy kept
    (event,) = reassembler.add(part(2), now=0)
    assert isinstance(event, Reassembled)
    assert [p.pno for p in event.parts] == ["1", "2", "3"]
    assert event.duplicates == 1
    assert [k for k, _ in event.packet.cp] == ["DataTime", "w01-Avg", "w02-Avg", "w03-Avg"]


def test_unsplit_packet_passes_straight_through() -> None:
    packet = Packet(st="32", cn="2011", pw="123456", mn="M1", flag="5", cp=(("a-Rtd", "1"),))
    (event,) = Reassembler().add(packet, now=0)
    assert isinstance(event, Reassembled)
    assert event.packet is packet
    assert event.key is None


def test_sets_are_told_apart_by_station_and_data_time() -> None:
    reassembler = Reassembler()
    reassembler.add(part(1, 2), now=0)
    reassembler.add(part(1, 2, mn="M2"), now=0)
    reassembler.add(part(1, 2, data_time="20160801090000"), now=0)
    assert reassembler.pending == 3
    (event,) = reassembler.add(part(2, 2, mn="M2"), now=0)
    assert isinstance(event, Reassembled)
    assert event.packet.mn == "M2"


def test_without_data_time_the_qn_sequence_links_parts() -> None:
    reassembler = Reassembler()
    assert reassembler.add(part(1, 2, data_time=None, qn="20160801085959999"), now=0) == []
    (event,) = reassembler.add(part(2, 2, data_time=None, qn="20160801090000000"), now=0)
    assert isinstance(event, Reassembled)
    same = Reassembler()  # all parts with one QN
    assert same.add(part(1, 2, data_time=None, qn="20160801085959999"), now=0) == []
    assert isinstance(same.add(part(2, 2, data_time=None, qn="20160801085959999"), now=0)[0], Reassembled)


def test_expiry_reports_missing_parts() -> None:
    reassembler = Reassembler(max_age=60)
    reassembler.add(part(1), now=0)
    reassembler.add(part(3), now=10)
    assert reassembler.expire(now=59) == []
    (event,) = reassembler.expire(now=61)
    assert isinstance(event, Incomplete)
    assert event.reason == "expired"
    assert event.missing == (2,)
    assert event.pnum == 3
    assert [p.pno for p in event.parts] == ["1", "3"]
    assert reassembler.pending == 0


def test_memory_is_bounded_by_eviction() -> None:
    reassembler = Reassembler(max_sets=2)
    events = []
    for i in range(5):
        events += reassembler.add(part(1, mn=f"M{i}"), now=float(i))
    assert reassembler.pending == 2
    assert [e.reason for e in events if isinstance(e, Incomplete)] == ["evicted"] * 3
    assert [e.parts[0].mn for e in events if isinstance(e, Incomplete)] == ["M0", "M1", "M2"]


def test_bad_numbering_is_reported_at_once() -> None:
    reassembler = Reassembler(max_parts=10)
    for bad in (part(4, 3), part(0, 3), part(1, 11)):
        (event,) = reassembler.add(bad, now=0)
        assert isinstance(event, Incomplete)
        assert event.reason == "invalid"
    assert reassembler.pending == 0
