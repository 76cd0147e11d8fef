"""Encoder: the standards' vectors byte for byte, round trips, deviation modes, splitting."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hj212_vectors import PACKETS, frame
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.hj212 import (
    Reassembled,
    Reassembler,
    decode,
    encode,
    encode_split,
    format_cp,
    format_value,
    group_pairs,
    parse,
)

# Vectors written with the standard's item grouping and upper-case CRC: the encoder must
# reproduce them exactly from their header and CP pairs.
EXACT = [
    v for v in PACKETS
    if v["strict"]["ok"] and ("app. C" in v["source"] or "2025" in v["source"] or v["source"].endswith("#1"))
    and "1.7 CN 2011" not in v["source"]  # that one joins different factors with ','
]  # fmt: skip
HEADER = {"QN": "20160801085857223", "ST": "32", "CN": "2011", "PW": "123456",
          "MN": "010000A8900016F000169DC0", "Flag": "5"}  # fmt: skip


@pytest.mark.parametrize("vector", EXACT, ids=[v["source"] for v in EXACT])
def test_reproduces_the_standards_vectors(vector: dict[str, Any]) -> None:
    packet = parse(frame(vector))
    assert encode(packet.header, packet.cp) == frame(vector)


def test_length_counts_utf8_bytes() -> None:
    raw = encode(HEADER | {"CN": "3020"}, [("i11001-Info", "//清洗管路//")])
    assert int(raw[2:6]) == len(raw) - 12
    assert decode(raw).ok


def test_grouping_joins_one_factors_fields_with_commas() -> None:
    pairs = [("DataTime", "1"), ("w01001-Rtd", "7.1"), ("w01001-Flag", "N"), ("w01018-Rtd", "2"),
             ("BeginTime", "2"), ("EndTime", "3")]  # fmt: skip
    assert format_cp(group_pairs(pairs)) == (
        "DataTime=1;w01001-Rtd=7.1,w01001-Flag=N;w01018-Rtd=2;BeginTime=2;EndTime=3"
    )


def test_preformatted_cp_is_used_verbatim() -> None:
    raw = encode(HEADER | {"CN": "1014", "Flag": "9"}, "SKCreateTime=20240601085857223,NewSK=abc")
    assert b"CP=&&SKCreateTime=20240601085857223,NewSK=abc&&" in raw


@pytest.mark.parametrize(
    ("value", "text"),
    [("7.10", "7.10"), (3, "3"), (0.1, "0.1"), (1e-05, "0.00001"), (33471.0, "33471.0"),
     (Decimal("1E+2"), "100"), (-2.5, "-2.5")],
)  # fmt: skip
def test_format_value(value: Any, text: str) -> None:
    assert format_value(value) == text


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), Decimal("NaN"), object()])
def test_format_value_rejects(value: Any) -> None:
    with pytest.raises(ValueError, match="CP value"):
        format_value(value)


@pytest.mark.parametrize(
    ("header", "cp", "message"),
    [
        (HEADER | {"Foo": "1"}, [], "unknown header field"),
        ({k: v for k, v in HEADER.items() if k != "MN"}, [], "required"),
        (HEADER | {"CN": "20"}, [], "not 4 digits"),
        (HEADER | {"Flag": "300"}, [], "not an integer 0-255"),
        (HEADER | {"MN": "A;B"}, [], "contains"),
        (HEADER, [("w01018-Rtd", "1;2")], "contains"),
        (HEADER, [("w01018 Rtd", "1")], "separator, space"),
        (HEADER, [("w01018-Rtd", "\t1")], "control"),
        (HEADER, "a=1&&b=2", "must not contain"),
        (HEADER, [(f"w{i:05d}-Rtd", "1.5") for i in range(80)], "more than 950"),
    ],
)
def test_bad_arguments_raise_value_error(header: dict[str, Any], cp: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode(header, cp)


def test_segment_over_1024_bytes_is_refused_by_encode() -> None:
    with pytest.raises(ValueError, match="more than 1024"):
        encode(HEADER, [("i11001-Info", "清" * 320)])


@pytest.mark.parametrize(
    ("options", "deviation"),
    [
        ({"length_mode": "plus-6"}, "length:plus-6"),
        ({"crc_mode": "modbus"}, "crc:modbus"),
        ({"crc_mode": "modbus-byteswapped"}, "crc:modbus-byteswapped"),
        ({"crlf": False}, "framing:no-crlf"),
    ],
)
def test_deviation_modes_for_the_simulator(options: dict[str, Any], deviation: str) -> None:
    raw = encode(HEADER, [("DataTime", "20160801085857"), ("w01018-Rtd", "2.2")], **options)
    assert deviation in decode(raw, strict=False).deviations


def test_characters_length_mode() -> None:
    raw = encode(HEADER | {"CN": "3020"}, [("i11001-Info", "//清洗管路//")], length_mode="characters")
    assert "length:counts-characters" in decode(raw).deviations


# --- splitting ---------------------------------------------------------------------------------------


def big_upload(n: int) -> list[tuple[str, str]]:
    pairs = [("DataTime", "20160801080000")]
    for i in range(n):
        code = f"a{21000 + i:05d}"
        pairs += [(f"{code}-Avg", f"{i}.25"), (f"{code}-Min", "0.1"), (f"{code}-Max", "99.9"),
                  (f"{code}-Flag", "N")]  # fmt: skip
    return pairs


def test_split_when_over_1024() -> None:
    header = HEADER | {"CN": "2061", "QN": "20160801085959999"}
    pairs = big_upload(40)
    frames = encode_split(header, pairs)
    assert len(frames) > 1
    qns = []
    for number, raw in enumerate(frames, start=1):
        decoded = decode(raw)
        assert decoded.ok, decoded.error
        assert decoded.deviations == ()
        assert len(raw) - 12 <= 1024
        packet = decoded.packet
        assert packet is not None
        assert packet.split
        assert packet.ack_required
        assert (packet.pnum, packet.pno) == (str(len(frames)), str(number))
        assert packet.cp[0] == ("DataTime", "20160801080000")
        qns.append(packet.qn)
    assert qns[:2] == ["20160801085959999", "20160801090000000"]  # + 1 ms, across the minute
    reassembler = Reassembler()
    events = [e for raw in frames for e in reassembler.add(parse(raw), now=0.0)]
    assert len(events) == 1
    assert isinstance(events[0], Reassembled)
    assert events[0].packet.cp == tuple(pairs)


def test_small_upload_is_not_split() -> None:
    frames = encode_split(HEADER, big_upload(2))
    assert len(frames) == 1
    assert b"PNUM" not in frames[0]


def test_split_keeps_a_factor_in_one_part() -> None:
    for raw in encode_split(HEADER, big_upload(40)):
        packet = parse(raw)
        for code, values in packet.items.items():
            assert set(values) == {"Avg", "Min", "Max", "Flag"}, code


def test_item_too_large_for_any_part() -> None:
    with pytest.raises(ValueError, match="alone does not fit"):
        encode_split(HEADER, [("DataTime", "1"), ("i11001-Info", "x" * 1100)])


def test_same_qn_option() -> None:
    frames = encode_split(HEADER, big_upload(40), same_qn=True)
    assert {parse(f).qn for f in frames} == {HEADER["QN"]}


# --- round trip -----------------------------------------------------------------------------------

KEYS = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-_"), min_size=1, max_size=12)
VALUES = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), exclude_characters=";,&"), max_size=16
).filter(lambda v: "&&" not in v)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(KEYS, VALUES), max_size=20, unique_by=lambda p: p[0]),
    st.sampled_from(["2005", "2017", "2025"]),
    st.booleans(),
)
def test_encode_decode_round_trip(pairs: list[tuple[str, str]], edition: str, ack: bool) -> None:
    version = {"2005": 0, "2017": 4, "2025": 8}[edition]
    header = HEADER | {"Flag": str(version | ack)}
    try:
        raw = encode(header, pairs)
    except ValueError:
        return  # too long for one packet: covered by the split tests
    decoded = decode(raw)
    assert decoded.ok, decoded.error
    assert decoded.packet is not None
    assert decoded.cp_pairs == tuple(pairs)
    assert decoded.header is not None
    assert dict(decoded.header) == HEADER | {"Flag": str(version | ack)}
    assert decoded.edition == edition
