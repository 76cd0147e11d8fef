"""HJ 212-2025 SM4: GB/T 32907 and appendix A.2 vectors, both wire forms, wrong keys and lengths."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hj212_vectors import SM4_VECTORS
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.hj212 import (
    CrcMismatch,
    DecryptionError,
    Packet,
    decode,
    decrypt_region,
    encode,
    encrypt_region,
    hj212_crc,
    must_encrypt,
    parse,
    parse_key,
)
from envtrace.hj212.sm4 import from_text_form, to_text_form

KEY = SM4_VECTORS["key_ascii"].encode()
EXAMPLES: list[dict[str, Any]] = SM4_VECTORS["examples"]


def plaintext_packet(example: dict[str, Any]) -> Packet:
    return parse(example["plaintext"].encode())


def region_of(packet_text: str) -> bytes:
    seg = packet_text[6:-4]
    return seg[seg.find("CP=&&") + 5 : -2].encode()


def printed_form(example: dict[str, Any]) -> bytes:
    """As appendix A.2 prints it: {0xNN,...} cipher, the plaintext length kept in the length field."""
    text = str(example["plaintext"])
    cipher = bytes.fromhex(example["cipher_hex"])
    braces = b"{" + b",".join(b"0x%02X" % b for b in cipher) + b"}" + str(example["tail"]).encode()
    head = text[: text.find("CP=&&") + 5].encode()
    return head + braces + b"&&" + text[-4:].encode() + b"\r\n"


def test_gbt_32907_vector() -> None:
    vector = SM4_VECTORS["gbt32907"]
    key = bytes.fromhex(vector["key"])
    assert encrypt_region(bytes.fromhex(vector["plaintext"]), key).hex().upper() == vector["ciphertext"]
    assert decrypt_region(bytes.fromhex(vector["ciphertext"]), key).hex().upper() == vector["plaintext"]


@pytest.mark.parametrize("example", EXAMPLES, ids=["example 2", "example 4"])
def test_appendix_a2_ciphertexts(example: dict[str, Any]) -> None:
    region = region_of(example["plaintext"])
    cipher = encrypt_region(region, KEY)
    assert cipher[: len(cipher) - len(example["tail"])].hex().upper() == example["cipher_hex"]
    assert cipher.endswith(example["tail"].encode())  # the tail (< 16 bytes) stays in clear
    assert decrypt_region(cipher, KEY) == region


def test_ecb_prefix_is_shared_between_examples_2_and_4() -> None:
    assert EXAMPLES[0]["cipher_hex"][:160] == EXAMPLES[1]["cipher_hex"][:160]


@pytest.mark.parametrize("example", EXAMPLES, ids=["example 2", "example 4"])
def test_raw_wire_form_round_trip(example: dict[str, Any]) -> None:
    packet = plaintext_packet(example)
    raw = encode(packet.header, packet.cp, key=KEY)
    assert raw[:6] == example["plaintext"].encode()[:6]  # length field = plaintext length
    assert raw[-6:-2] == example["plaintext"].encode()[-4:]  # CRC of the plaintext
    assert bytes.fromhex(example["cipher_hex"]) in raw
    decoded = decode(raw, key=KEY)
    assert decoded.ok, decoded.error
    assert decoded.wire_form == "raw"
    assert decoded.packet == packet
    assert decoded.segment == example["plaintext"].encode()[6:-4]


@pytest.mark.parametrize("example", EXAMPLES, ids=["example 2", "example 4"])
def test_text_wire_form_with_real_length(example: dict[str, Any]) -> None:
    packet = plaintext_packet(example)
    raw = encode(packet.header, packet.cp, key=KEY, cipher_form="text")
    assert re.search(rb"CP=&&\{0x[0-9A-F]{2}(,0x[0-9A-F]{2})*\}", raw)
    assert int(raw[2:6]) == len(raw) - 12  # the real text length
    decoded = decode(raw, key=KEY)
    assert decoded.ok
    assert decoded.wire_form == "text"
    assert decoded.packet == packet
    assert decoded.deviations == ()


@pytest.mark.parametrize("example", EXAMPLES, ids=["example 2", "example 4"])
def test_text_wire_form_as_printed_in_the_pdf(example: dict[str, Any]) -> None:
    raw = printed_form(example)
    decoded = decode(raw, key=KEY)
    assert decoded.ok, decoded.error
    assert decoded.wire_form == "text"
    assert "length:plaintext-length" in decoded.deviations
    assert decoded.packet == plaintext_packet(example)


@pytest.mark.parametrize("example", EXAMPLES, ids=["example 2", "example 4"])
def test_without_a_key_the_crc_error_says_why(example: dict[str, Any]) -> None:
    packet = plaintext_packet(example)
    for raw in (printed_form(example), encode(packet.header, packet.cp, key=KEY)):
        decoded = decode(raw)
        assert decoded.error is not None
        assert decoded.error.kind in ("crc", "syntax")
        assert "key" in str(decoded.error)
        assert decoded.header is not None
        assert decoded.header["MN"] == packet.mn
        assert decoded.cp is None


def test_wrong_key_is_a_decryption_error() -> None:
    packet = plaintext_packet(EXAMPLES[0])
    raw = encode(packet.header, packet.cp, key=KEY)
    decoded = decode(raw, key=b"1" * 16)
    assert isinstance(decoded.error, DecryptionError)
    assert "not text" in str(decoded.error)
    assert decoded.header is not None
    assert decoded.header["CN"] == "2051"
    assert decoded.cp is None


def test_wrong_key_that_passes_the_8_bit_crc_is_still_caught() -> None:
    packet = plaintext_packet(EXAMPLES[1])
    raw = encode(packet.header, packet.cp, key=KEY)
    seg = raw[6:-6]
    at = seg.find(b"CP=&&") + 5
    for i in range(5000):  # the HJ CRC has 256 values: some wrong key passes it
        key = b"%016d" % i
        plain = seg[:at] + decrypt_region(seg[at:-2], key) + b"&&"
        if key != KEY and hj212_crc(plain) == hj212_crc(packet_segment(packet)):
            break
    else:  # pragma: no cover - 5000 tries always find one (expected 1 in 256)
        pytest.fail("no colliding key found")
    decoded = decode(raw, key=key)
    assert isinstance(decoded.error, DecryptionError)
    assert "CRC of the decrypted segment matches" in str(decoded.error)


def packet_segment(packet: Packet) -> bytes:
    return encode(packet.header, packet.cp)[6:-6]


def test_corrupted_cipher_text_is_a_crc_or_decryption_error() -> None:
    packet = plaintext_packet(EXAMPLES[0])
    raw = bytearray(encode(packet.header, packet.cp, key=KEY, cipher_form="text"))
    at = raw.find(b"0x", 200)
    raw[at + 2 : at + 4] = b"00" if raw[at + 2 : at + 4] != b"00" else b"11"
    decoded = decode(bytes(raw), key=KEY)
    assert isinstance(decoded.error, DecryptionError | CrcMismatch)


@pytest.mark.parametrize(
    ("braces", "reason"),
    [
        (b"{" + b",".join([b"0x41"] * 15) + b"}", "not a multiple of the 16-byte"),
        (b"{" + b",".join([b"0x41"] * 16) + b"}" + b"a" * 16, "only a tail shorter than 16"),
        (b"{0x41,0xZZ}", "element 1"),
        (b"{0x41,0x42", "no closing"),
    ],
)
def test_malformed_text_form(braces: bytes, reason: str) -> None:
    seg = b"QN=20240520210700000;ST=31;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=9;CP=&&"
    seg += braces + b"&&"
    raw = b"##%04d" % len(seg) + seg + b"0000\r\n"
    decoded = decode(raw, key=KEY)
    assert isinstance(decoded.error, DecryptionError)
    assert reason in str(decoded.error)


def test_plaintext_where_encryption_is_due_is_recorded() -> None:
    decoded = decode(EXAMPLES[0]["plaintext"].encode() + b"\r\n", key=KEY)
    assert decoded.ok
    assert decoded.wire_form == "plain"
    assert "crypto:not-encrypted" in decoded.deviations
    assert must_encrypt("2051")
    assert must_encrypt(1014)
    assert must_encrypt("3020")
    assert not must_encrypt("9014")
    assert not must_encrypt("1062")
    assert not must_encrypt("x")


def test_short_cp_has_nothing_to_encrypt() -> None:
    header = {"QN": "20240601085857223", "ST": "32", "CN": "1014", "PW": "123456",
              "MN": "010000A8900016F000169DC0", "Flag": "9"}  # fmt: skip
    raw = encode(header, [("A", "1")], key=KEY)
    assert b"CP=&&A=1&&" in raw
    assert decode(raw, key=KEY).ok


def test_encrypted_log_in_utf8_counts_bytes() -> None:
    header = {"QN": "20160801085857223", "ST": "32", "CN": "3020", "PW": "123456",
              "MN": "010000A8900016F000169DC0", "Flag": "9"}  # fmt: skip
    cp = [("DataTime", "20160801085857"), ("PolId", "w01018"), ("i11001-Info", "//清洗管路//")]
    raw = encode(header, cp, key=KEY)
    decoded = decode(raw, key=KEY)
    assert decoded.ok
    assert decoded.wire_form == "raw"
    assert decoded.cp is not None
    assert decoded.cp["i11001-Info"] == "//清洗管路//"


@pytest.mark.parametrize(
    ("text", "key"),
    [("0000000000000000", b"0" * 16), ("30" * 16, b"0" * 16), ("00112233445566778899AABBCCDDEEFF",
     bytes.fromhex("00112233445566778899AABBCCDDEEFF"))],
)  # fmt: skip
def test_parse_key(text: str, key: bytes) -> None:
    assert parse_key(text) == key


@pytest.mark.parametrize("text", ["short", "0" * 17, "é" * 16])
def test_parse_key_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="16 ASCII characters or 32 hex digits"):
        parse_key(text)


def test_text_form_helpers_round_trip() -> None:
    cipher = bytes(range(32)) + b"xyz"
    text = to_text_form(cipher)
    assert text.startswith(b"{0x00,0x01")
    assert text.endswith(b"}xyz")
    assert from_text_form(text) == (bytes(range(32)), b"xyz", text.index(b"}") + 1)
    assert to_text_form(b"short") == b"short"


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a21026", "a19001", "w01018", "i11001"]),
                  st.text(st.characters(min_codepoint=0x21, max_codepoint=0x9FFF,
                                        exclude_categories=("Cc", "Cs"),
                                        exclude_characters=";,=&"), max_size=12)),
        max_size=12,
    ),
    st.sampled_from(["raw", "text"]),
    st.binary(min_size=16, max_size=16),
)  # fmt: skip
def test_encrypted_round_trip(items: list[tuple[str, str]], form: str, key: bytes) -> None:
    header = {"QN": "20240601085857223", "ST": "31", "CN": "2011", "PW": "123456",
              "MN": "010000A8900016F000169DC0", "Flag": "8"}  # fmt: skip
    cp = [("DataTime", "20240601085857")] + [(f"{c}-Info{i}", v) for i, (c, v) in enumerate(items)]
    raw = encode(header, cp, key=key, cipher_form="text" if form == "text" else "raw")
    decoded = decode(raw, key=key)
    assert decoded.ok, decoded.error
    assert decoded.cp_pairs == tuple(cp)
