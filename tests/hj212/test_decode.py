"""decode / parse: every spec packet, systematic tampering, each deviation class, random bytes."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hj212_vectors import PACKETS, VALID, frame
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.hj212 import (
    CrcMismatch,
    DecryptionError,
    FramingError,
    HJ212Error,
    LengthMismatch,
    PacketSyntaxError,
    decode,
    encode,
    hj212_crc,
    modbus_crc,
    parse,
)

HEADER = {"QN": "20160801085857223", "ST": "32", "CN": "2011", "PW": "123456",
          "MN": "010000A8900016F000169DC0", "Flag": "5"}  # fmt: skip
CP = [("DataTime", "20160801085857"), ("w01018-Rtd", "2.2"), ("w01018-Flag", "N")]


def make(segment: str, *, length: int | None = None, crc: str | None = None, crlf: bool = True) -> bytes:
    data = segment.encode("utf-8")
    size = len(data) if length is None else length
    check = f"{hj212_crc(data):04X}" if crc is None else crc
    return b"##%04d" % size + data + check.encode() + (b"\r\n" if crlf else b"")


SEGMENT = "QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&{}&&"
GOOD_CP = "DataTime=20160801085857;w01018-Rtd=2.2,w01018-Flag=N"


# --- the spec packets -----------------------------------------------------------------------------


@pytest.mark.parametrize("vector", PACKETS, ids=[v["source"] for v in PACKETS])
@pytest.mark.parametrize("mode", ["strict", "tolerant"])
def test_spec_packet(vector: dict[str, Any], mode: str) -> None:
    decoded = decode(frame(vector), strict=mode == "strict")
    want = vector[mode]
    assert decoded.ok is want["ok"], decoded.error
    assert (decoded.error.kind if decoded.error else None) == want["error"]
    assert decoded.edition == vector["edition"]
    assert dict(decoded.header or {}) == vector["header"]
    if vector["cp"] is not None:
        assert dict(decoded.cp or {}) == vector["cp"]
    if mode == "strict":
        assert list(decoded.deviations) == vector["deviations"]
    else:
        assert set(vector["deviations"]) <= set(decoded.deviations)


@pytest.mark.parametrize("vector", VALID, ids=[v["source"] for v in VALID])
def test_valid_packets_parse_into_packets(vector: dict[str, Any]) -> None:
    packet = parse(frame(vector))
    assert packet.header == vector["header"]
    assert dict(packet.cp_map) == vector["cp"]


# --- systematic tampering of every valid packet ---------------------------------------------------


def _parts(vector: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    raw = str(vector["packet"]).encode("utf-8")
    return raw[2:6], raw[6:-4], raw[-4:]


@pytest.mark.parametrize("vector", VALID, ids=[v["source"] for v in VALID])
def test_tampered_byte_is_a_crc_error(vector: dict[str, Any]) -> None:
    length, seg, _ = _parts(vector)
    flipped = bytearray(seg)
    flipped[len(seg) // 2] ^= 0x01  # one bit inside the segment, length unchanged
    crc = f"{hj212_crc(seg):04X}".encode()
    decoded = decode(b"##" + length + bytes(flipped) + crc + b"\r\n")
    assert decoded.error is not None
    if hj212_crc(bytes(flipped)) != hj212_crc(seg):  # the 8-bit CRC misses 1 in 256 changes
        assert isinstance(decoded.error, CrcMismatch)
        assert decoded.error.actual == hj212_crc(seg)
        assert decoded.error.expected == hj212_crc(bytes(flipped))


@pytest.mark.parametrize("delta", [-1, 1, 7])
@pytest.mark.parametrize("vector", VALID, ids=[v["source"] for v in VALID])
def test_wrong_length_is_a_length_error(vector: dict[str, Any], delta: int) -> None:
    _, seg, crc = _parts(vector)
    raw = b"##%04d" % (len(seg) + delta) + seg + crc + b"\r\n"
    for strict in (True, False):
        decoded = decode(raw, strict=strict)
        assert isinstance(decoded.error, LengthMismatch)
        assert decoded.error.declared == len(seg) + delta
        assert decoded.error.actual == len(seg)
        assert f"says {len(seg) + delta}" in str(decoded.error)
        assert decoded.header is not None
        assert decoded.header["ST"]


@pytest.mark.parametrize("vector", VALID, ids=[v["source"] for v in VALID])
def test_case_of_the_crc_and_missing_crlf_are_accepted(vector: dict[str, Any]) -> None:
    length, seg, crc = _parts(vector)
    lower = decode(b"##" + length + seg + crc.lower() + b"\r\n")
    assert lower.ok
    assert lower.crc == int(crc, 16)
    bare = decode(b"##" + length + seg + crc)
    assert bare.ok
    assert "framing:no-crlf" in bare.deviations


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("vector", VALID, ids=[v["source"] for v in VALID])
def test_modbus_crc_strict_rejects_tolerant_records(vector: dict[str, Any], swap: bool) -> None:
    length, seg, _ = _parts(vector)
    value = modbus_crc(seg)
    if swap:
        value = (value >> 8) | ((value & 0xFF) << 8)
    if value == hj212_crc(seg):
        pytest.skip("this segment's Modbus CRC happens to equal its HJ CRC")
    raw = b"##" + length + seg + b"%04X" % value + b"\r\n"
    name = "crc:modbus-byteswapped" if swap else "crc:modbus"
    strict = decode(raw)
    assert isinstance(strict.error, CrcMismatch)
    assert strict.error.variant == name.split(":")[1]
    assert name in strict.deviations
    tolerant = decode(raw, strict=False)
    assert tolerant.ok
    assert name in tolerant.deviations
    assert tolerant.crc_variant == name.split(":")[1]


@pytest.mark.parametrize("vector", VALID, ids=[v["source"] for v in VALID])
def test_length_plus_6_strict_rejects_tolerant_records(vector: dict[str, Any]) -> None:
    _, seg, crc = _parts(vector)
    raw = b"##%04d" % (len(seg) + 6) + seg + crc + b"\r\n"
    assert isinstance(decode(raw).error, LengthMismatch)
    tolerant = decode(raw, strict=False)
    assert tolerant.ok
    assert "length:plus-6" in tolerant.deviations


# --- each deviation class ---------------------------------------------------------------------------


def test_length_counting_characters_is_accepted_in_both_modes() -> None:
    seg = SEGMENT.format("DataTime=20160801085857;PolId=w01018;i11001-Info=//清洗管路//")
    raw = make(seg, length=len(seg))  # characters, not the 12 bytes more of UTF-8
    for strict in (True, False):
        decoded = decode(raw, strict=strict)
        assert decoded.ok
        assert "length:counts-characters" in decoded.deviations


def test_three_digit_length() -> None:
    seg = SEGMENT.format(GOOD_CP).encode()
    raw = b"##%03d" % (len(seg) + 6) + seg + b"%04X\r\n" % hj212_crc(seg)
    strict = decode(raw)
    assert isinstance(strict.error, LengthMismatch)
    assert "3 digits" in str(strict.error)
    tolerant = decode(raw, strict=False)
    assert tolerant.ok
    assert {"length:3-digits", "length:plus-6"} <= set(tolerant.deviations)
    assert tolerant.header is not None
    assert tolerant.header["QN"] == "20160801085857223"


def test_over_1024_bytes() -> None:
    items = ";".join(f"w{i:05d}-Rtd={i}.5,w{i:05d}-Flag=N" for i in range(45))
    raw = make(SEGMENT.format(items))
    strict = decode(raw)
    assert isinstance(strict.error, LengthMismatch)
    assert "more than the 1024" in str(strict.error)
    tolerant = decode(raw, strict=False)
    assert tolerant.ok
    assert {"length:over-1024", "cp:over-950"} <= set(tolerant.deviations)


@pytest.mark.parametrize(
    ("field", "deviation"),
    [
        ("DataTime=20160801085857000", "datatime:17-digits"),
        ("DataTime=201608010858", "datatime:format"),
        ("DataTime=20161301085857", "datatime:invalid-date"),
        ("BeginTime=20160801085857000;EndTime=20160801095857", "begintime:17-digits"),
    ],
)
def test_time_field_deviations_never_reject(field: str, deviation: str) -> None:
    decoded = decode(make(SEGMENT.format(field)))
    assert decoded.ok
    assert deviation in decoded.deviations


@pytest.mark.parametrize(
    ("segment", "deviation"),
    [
        (SEGMENT.replace("Flag=5", "Flag=7"), "flag:split-without-pnum"),
        (SEGMENT.replace("Flag=5;", "Flag=5;PNUM=2;PNO=1;"), "flag:pnum-without-split"),
        (SEGMENT.replace("Flag=5;", "Flag=7;PNUM=2;PNO=3;"), "header:pno-out-of-range"),
        (SEGMENT.replace("Flag=5", "Flag=13"), "flag:unknown-version"),
        (SEGMENT.replace("Flag=5", "Flag=9"), "header:mn-not-24-hex"),
        (SEGMENT.replace("Flag=5;", "Flag=9;RF=0;"), "rf:not-1"),
        (SEGMENT.replace("Flag=5;", "Flag=5;RF=1;"), "rf:not-2025"),
        (SEGMENT.replace("ST=32", "ST=101"), "header:st-nonstandard"),
        (SEGMENT.replace("CN=2011", "CN=2999"), "header:cn-unknown"),
        (SEGMENT.replace("PW=123456", "PW="), "header:pw-empty"),
        (SEGMENT.replace("PW=123456", "PW=1234"), "header:pw-length"),
        (SEGMENT.replace("QN=20160801085857223", "QN=2016080108585"), "header:qn-format"),
        (SEGMENT.replace("QN=20160801085857223;", ""), "header:qn-missing"),
        (SEGMENT.replace("PW=123456;MN=010000A8900016F000169DC0", "MN=010000A8900016F000169DC0;PW=123456"),
         "header:order"),
        (SEGMENT.replace("Flag=5;", "Flag=5;Vendor=x;"), "header:unknown-field:Vendor"),
        (SEGMENT.replace("Flag=5;", "Flag=5;;"), "header:empty-field"),
    ],
)  # fmt: skip
def test_header_deviations_are_accepted(segment: str, deviation: str) -> None:
    if "MN=" in segment and "Flag=9" in segment:
        segment = segment.replace("MN=010000A8900016F000169DC0", "MN=ZLDSZ20210127")
    decoded = decode(make(segment.format(GOOD_CP)))
    assert decoded.ok, decoded.error
    assert deviation in decoded.deviations


@pytest.mark.parametrize(
    ("cp", "deviation"),
    [
        ("DataTime=20160801085857;w01018-Rtd=2.2;", "cp:empty-item"),
        ("DataTime=20160801085857;w01018-Rtd=2.2,,w01018-Flag=N", "cp:empty-item"),
        ("DataTime=20160801085857;w01018-Rtd=2.2;w01018-Rtd=2.3", "cp:repeated-key:w01018-Rtd"),
        ("DataTime=20160801085857; w01018-Rtd=2.2", "cp:key-whitespace"),
        ("DataTime=20160801085857;Note=a&&b", "cp:ampersands-inside"),
    ],
)
def test_cp_deviations_are_accepted(cp: str, deviation: str) -> None:
    decoded = decode(make(SEGMENT.format(cp)))
    assert decoded.ok, decoded.error
    assert deviation in decoded.deviations


def test_repeated_cp_key_keeps_every_pair_and_the_last_value() -> None:
    decoded = decode(make(SEGMENT.format("w01018-Rtd=2.2;w01018-Rtd=2.3")))
    assert decoded.cp_pairs == (("w01018-Rtd", "2.2"), ("w01018-Rtd", "2.3"))
    assert decoded.cp is not None
    assert decoded.cp["w01018-Rtd"] == "2.3"


def test_empty_mn_is_an_error_in_strict_mode_only() -> None:
    raw = make(SEGMENT.replace("MN=010000A8900016F000169DC0", "MN=").format(GOOD_CP))
    strict = decode(raw)
    assert isinstance(strict.error, PacketSyntaxError)
    assert "MN is empty" in str(strict.error)
    tolerant = decode(raw, strict=False)
    assert tolerant.ok
    assert "header:mn-empty" in tolerant.deviations


def test_log_text_with_a_separator() -> None:
    cp = "DataTime=20160801085857;PolId=w01018;i11001-Info=//清洗,管路//"
    raw = make(SEGMENT.format(cp))
    strict = decode(raw)  # the grammar has no quoting: '管路//' is a piece without '='
    assert isinstance(strict.error, PacketSyntaxError)
    assert "without '='" in str(strict.error)
    tolerant = decode(raw, strict=False)
    assert tolerant.ok
    assert "cp:separator-in-log" in tolerant.deviations
    assert tolerant.cp is not None
    assert tolerant.cp["i11001-Info"] == "//清洗,管路//"


# --- strict faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "reason"),
    [
        ("QN=1;ST=32;CN=2011;PW=123456;MN=M1;Flag=5;CP=&&DataTime=20160801085857", "not closed"),
        ("QN=1;ST=32;CN=2011;PW=123456;MN=M1;Flag=5CP=&&&&", "no ';' between"),
        ("QN=1;ST=32;CN=2011;PW=123456;MN=M1;Flag;CP=&&&&", "header piece without '='"),
        ("QN=1;ST=32;ST=31;CN=2011;PW=123456;MN=M1;CP=&&&&", "appears twice"),
        ("QN=1;CN=2011;PW=123456;MN=M1;CP=&&&&", "ST is missing"),
        ("QN=1;ST=32;CN=201;PW=123456;MN=M1;CP=&&&&", "CN '201' is not 4 digits"),
        ("QN=1;ST=32;CN=2011;PW=123456;MN=M1;Flag=256;CP=&&&&", "Flag '256'"),
        ("QN=1;ST=32;CN=2011;PW=123456;MN=M1;Flag=7;PNUM=x;PNO=1;CP=&&&&", "PNUM 'x'"),
        ("QN=1;ST=32;CN=2011;PW=123456;MN=M1;CP=&&DataTime=1;w01018-Rtd&&", "CP piece without '='"),
    ],
)
def test_grammar_faults(segment: str, reason: str) -> None:
    for strict in (True, False):
        decoded = decode(make(segment), strict=strict)
        assert isinstance(decoded.error, PacketSyntaxError)
        assert reason in str(decoded.error)
        assert decoded.packet is None


@pytest.mark.parametrize(
    ("raw", "error", "reason"),
    [
        (b"QN=1;ST=32##0087", FramingError, "does not start with '##'"),
        (b"##0087QN=1;ST=32;CP=&&&&\r\n", FramingError, "4-hex-digit CRC"),
        (b"##", FramingError, "4-hex-digit CRC"),
        (b"##01", FramingError, "4-hex-digit CRC"),
        (b"##x087QN=1;ST=32;CN=2011;PW=1;MN=2;CP=&&&&1C80\r\n", LengthMismatch, "not 4 decimal digits"),
    ],
)
def test_framing_and_length_field_faults(raw: bytes, error: type[HJ212Error], reason: str) -> None:
    decoded = decode(raw)
    assert isinstance(decoded.error, error)
    assert reason in str(decoded.error)
    assert not decoded.ok


def test_errors_name_values_and_frame_start() -> None:
    decoded = decode(make(SEGMENT.format(GOOD_CP), crc="ABCD"))
    assert isinstance(decoded.error, CrcMismatch)
    message = str(decoded.error)
    assert "ABCD" in message
    assert f"{decoded.error.expected:04X}" in message
    assert "frame starts '##0" in message
    assert decoded.error.raw.startswith(b"##")
    assert decoded.error.kind == "crc"


def test_errors_pickle() -> None:
    decoded = decode(make(SEGMENT.format(GOOD_CP), crc="ABCD"))
    assert isinstance(decoded.error, CrcMismatch)
    clone = pickle.loads(pickle.dumps(decoded.error))
    assert type(clone) is CrcMismatch
    assert str(clone) == str(decoded.error)
    assert clone.expected == decoded.error.expected
    assert clone.raw == decoded.error.raw


def test_parse_raises_the_decoders_error() -> None:
    with pytest.raises(CrcMismatch, match="ABCD"):
        parse(make(SEGMENT.format(GOOD_CP), crc="ABCD"))
    assert parse(encode(HEADER, CP)).cp == tuple(CP)


def test_header_is_filled_when_the_crc_fails() -> None:
    decoded = decode(make(SEGMENT.format(GOOD_CP), crc="0000"))
    assert not decoded.ok
    assert decoded.header is not None
    assert decoded.header["MN"] == "010000A8900016F000169DC0"
    assert decoded.packet is not None  # readable, but not trusted: ok is False


def test_non_utf8_segment_is_a_syntax_error_with_a_readable_header() -> None:
    seg = SEGMENT.format("DataTime=20160801085857;i11001-Info=//\xff//").encode("latin-1")
    decoded = decode(b"##%04d" % len(seg) + seg + b"%04X\r\n" % hj212_crc(seg))
    assert isinstance(decoded.error, PacketSyntaxError)
    assert "not UTF-8" in str(decoded.error)
    assert decoded.header is not None
    assert decoded.header["CN"] == "2011"
    assert decoded.cp is None


def test_binary_cp_without_a_key_says_so() -> None:
    seg = SEGMENT.format("\x01\x02\x9f" * 10).encode("latin-1")
    decoded = decode(b"##%04d" % len(seg) + seg + b"0000\r\n")
    assert decoded.error is not None
    assert "SM4 cipher without a key" in str(decoded.error)
    assert decoded.cp is None


def test_decryption_error_needs_a_key() -> None:
    assert DecryptionError.kind == "crypto"


@pytest.mark.property
@settings(max_examples=400)
@given(st.binary(max_size=400), st.booleans())
def test_random_bytes_never_raise(data: bytes, strict: bool) -> None:
    decoded = decode(data, strict=strict)
    assert decoded.ok is (decoded.error is None)
    assert decoded.error is None or isinstance(decoded.error, HJ212Error)


@pytest.mark.property
@settings(max_examples=400)
@given(st.binary(max_size=200), st.booleans(), st.sampled_from([None, b"0" * 16]))
def test_random_bytes_in_a_frame_shape_never_raise(data: bytes, strict: bool, key: bytes | None) -> None:
    seg = b"QN=1;ST=32;CN=2011;PW=1;MN=2;Flag=9;CP=&&" + data + b"&&"
    for raw in (b"##%04d" % len(seg) + seg + b"%04X\r\n" % hj212_crc(seg), b"##" + data):
        decoded = decode(raw, strict=strict, key=key)
        assert decoded.error is None or isinstance(decoded.error, HJ212Error)
