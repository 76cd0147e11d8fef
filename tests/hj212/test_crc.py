"""HJ 212 CRC (appendix A) against the standard's own bit loop, and the wrong-CRC families."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.hj212 import arc_crc, crc_variant, format_crc, hj212_crc, modbus_crc, parse_crc

WORKED_2017 = (
    b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"
)
WORKED_2025 = b"QN=20240601085857223;ST=32;CN=1011;PW=123456;MN=010000A8900016F000169DC0;Flag=9;CP=&&&&"


def reference_hj212(data: bytes) -> int:
    """The steps of HJ 212-2017 appendix A, written out bit by bit."""
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
    return reg


def reference_reflected(data: bytes, reg: int) -> int:
    for byte in data:
        reg ^= byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
    return reg


def test_worked_examples_of_the_standards() -> None:
    assert format_crc(hj212_crc(WORKED_2017)) == "1C80"  # HJ 212-2017 appendix A
    assert format_crc(hj212_crc(WORKED_2025)) == "2200"  # HJ 212-2025 appendix A.1
    assert format_crc(modbus_crc(WORKED_2025)) == "CCF4"  # what a Modbus device would send


def test_empty_segment_is_ffff() -> None:
    assert hj212_crc(b"") == 0xFFFF


@pytest.mark.parametrize("size", range(0, 70))
def test_every_short_length_matches_the_bit_loop(size: int) -> None:
    data = bytes((i * 37 + size * 11) & 0xFF for i in range(size))
    assert hj212_crc(data) == reference_hj212(data)


@pytest.mark.property
@settings(max_examples=500)
@given(st.binary(max_size=3000))
def test_fast_crc_equals_the_standards_loop(data: bytes) -> None:
    assert hj212_crc(data) == reference_hj212(data)
    assert hj212_crc(bytearray(data)) == hj212_crc(memoryview(data))


@pytest.mark.property
@given(st.binary(max_size=600))
def test_modbus_and_arc_are_the_reflected_crcs(data: bytes) -> None:
    assert modbus_crc(data) == reference_reflected(data, 0xFFFF)
    assert arc_crc(data) == reference_reflected(data, 0)


@pytest.mark.property
@given(st.binary(min_size=1, max_size=300))
def test_only_256_values_are_possible(data: bytes) -> None:
    # the register holds 8 bits before the last table step: low byte in a fixed set of 8
    assert hj212_crc(data) & 0xFF in {0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1}


def test_variant_names_each_family() -> None:
    seg = b"QN=20170516010101001;ST=22;CN=2012;PW=123456;MN=ABCDEFG1234567;CP=&&&&"
    assert crc_variant(seg, 0xFCC1) == "hj212"
    assert crc_variant(seg, 0xB388) == "modbus"  # hj-standards.md 5.2 F3
    assert crc_variant(seg, 0x88B3) == "modbus-byteswapped"
    assert crc_variant(seg, arc_crc(seg)) == "arc"
    assert crc_variant(seg, 0x1234) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("1C80", 0x1C80), ("1dc0", 0x1DC0), (b"7d00", 0x7D00), ("1C8", None), ("1C8G", None), ("", None)],
)
def test_parse_crc_is_case_insensitive_and_strict_on_shape(field: str | bytes, value: int | None) -> None:
    assert parse_crc(field) == value


def test_format_crc_is_upper_case_and_checked() -> None:
    assert format_crc(0x7D00) == "7D00"
    assert format_crc(0x0001) == "0001"
    with pytest.raises(ValueError, match="outside"):
        format_crc(0x10000)
