"""Packet views: header strings, flag bits by position, editions, data time, per-factor items."""

from __future__ import annotations

from datetime import datetime

import pytest
from hj212_vectors import PACKETS, frame

from envtrace.hj212 import KNOWN_SUFFIXES, Edition, Packet, edition_of_flag, hj212_crc, make_flag, parse


def spec(source_suffix: str) -> Packet:
    vector = next(v for v in PACKETS if v["source"].endswith(source_suffix))
    return parse(frame(vector), strict=False)


def test_header_keeps_the_packets_strings_in_standard_order() -> None:
    packet = spec("CN 2061 PNO 1")
    assert packet.header == {
        "QN": "20160801085857534", "ST": "32", "CN": "2061", "PW": "123456",
        "MN": "010000A8900016F000169DC0", "Flag": "7", "PNUM": "2", "PNO": "1",
    }  # fmt: skip
    assert packet.cn_code == 2061


@pytest.mark.parametrize(
    ("flag", "edition", "ack", "split"),
    [
        (None, "2005", False, False),
        ("0", "2005", False, False),
        ("3", "2005", True, True),
        ("4", "2017", False, False),
        ("5", "2017", True, False),
        ("6", "2017", False, True),
        ("7", "2017", True, True),
        ("8", "2025", False, False),  # 2025 renamed the letters (A = split, D = answer) ...
        ("9", "2025", True, False),  # ... but bit 0 still asks for an answer
        ("10", "2025", False, True),
        ("11", "2025", True, True),
        ("13", None, True, False),
    ],
)
def test_flag_bits_by_position(flag: str | None, edition: str | None, ack: bool, split: bool) -> None:
    packet = Packet(st="32", cn="2011", pw="123456", mn="M", flag=flag)
    assert packet.edition == edition
    assert packet.ack_required is ack
    assert packet.split is split


def test_make_flag_and_edition_of_flag_agree() -> None:
    editions: tuple[Edition, ...] = ("2005", "2017", "2025")
    for edition in editions:
        for ack in (False, True):
            for split in (False, True):
                value = make_flag(edition, ack=ack, split=split)
                assert edition_of_flag(value) == edition
                assert bool(value & 1) is ack
                assert bool(value & 2) is split
    assert make_flag("2025", ack=True) == 9
    with pytest.raises(ValueError, match="unknown HJ 212 edition"):
        make_flag("2019")  # type: ignore[arg-type]


def test_items_group_by_factor_code_and_keep_every_suffix() -> None:
    packet = spec("app. C CN 2011")
    assert packet.items == {
        "w01001": {"Rtd": "7.1", "Flag": "N"},
        "w01018": {"SampleTime": "20160801070000", "Rtd": "2.2", "Flag": "N", "EFlag": "A01"},
    }
    assert packet.fields == {"DataTime": "20160801085857"}
    assert packet.data_time == datetime(2016, 8, 1, 8, 58, 57)


def test_unknown_suffixes_and_2025_extensions_are_kept() -> None:
    packet = Packet(st="31", cn="2011", pw="123456", mn="M",
                    cp=(("a1002-cd", "adf"), ("a21026-Rtd", "1"), ("a21026-Vendor", "x")))  # fmt: skip
    assert packet.items == {"a1002": {"cd": "adf"}, "a21026": {"Rtd": "1", "Vendor": "x"}}
    assert "cd" not in KNOWN_SUFFIXES
    assert {"Rtd", "ZsAvg", "SampleRd", "RS"} <= KNOWN_SUFFIXES


def test_17_digit_data_time_keeps_milliseconds() -> None:
    packet = spec("5.2 #2")
    assert packet.data_time == datetime(2016, 8, 24, 0, 38, 17)
    assert packet.items["011"] == {"Rtd": "231.0", "Flag": "N"}  # 2005 codes stay as received


@pytest.mark.parametrize("separator", [";", ","])
def test_begin_and_end_time_with_either_separator(separator: str) -> None:
    seg = (
        "QN=20180519013039400;ST=32;CN=2061;PW=123456;MN=88888880000020;Flag=5;"
        f"CP=&&BeginTime=20180518070000{separator}EndTime=20180518080000&&"
    ).encode()
    packet = parse(b"##%04d" % len(seg) + seg + b"%04X\r\n" % hj212_crc(seg))
    assert packet.time_range == (datetime(2018, 5, 18, 7), datetime(2018, 5, 18, 8))


def test_resent_flag_and_cp_map_is_read_only() -> None:
    packet = Packet(st="31", cn="2051", pw="123456", mn="M", flag="8", rf="1", cp=(("a", "1"),))
    assert packet.resent
    with pytest.raises(TypeError):
        packet.cp_map["a"] = "2"  # type: ignore[index]


def test_packets_compare_by_value() -> None:
    a = Packet(st="31", cn="2051", pw="1", mn="M", cp=(("a", "1"),))
    b = Packet(st="31", cn="2051", pw="1", mn="M", cp=(("a", "1"),))
    assert a == b
    assert hash(a) == hash(b)
