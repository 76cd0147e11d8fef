"""Framer: split and concatenated packets, deviations, garbage, bounds, and cut invariance."""

from __future__ import annotations

import itertools

import pytest
from hj212_vectors import PACKETS, SM4_VECTORS, frame
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.hj212 import Frame, FrameEvent, Framer, Garbage, decode, encode, hj212_crc
from envtrace.hj212.frame import CUT_SHORT, OUTSIDE, TRUNCATED

KEY = SM4_VECTORS["key_ascii"].encode()
SPEC_FRAMES = [frame(v) for v in PACKETS]
HEADER = {"QN": "20240520210700000", "ST": "31", "CN": "2051", "PW": "123456",
          "MN": "010000A8900016F000169DC0", "Flag": "9"}  # fmt: skip


def run(chunks: list[bytes], *, max_frame: int = 16384) -> list[FrameEvent]:
    framer = Framer(max_frame=max_frame)
    events: list[FrameEvent] = []
    for chunk in chunks:
        events += framer.feed(chunk)
    return events + framer.flush()


def frames(events: list[FrameEvent]) -> list[bytes]:
    return [e.raw for e in events if isinstance(e, Frame)]


def cut(stream: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *sorted({p % (len(stream) + 1) for p in points}), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(edges)]


def encrypted_raw_frames() -> list[bytes]:
    """The A.2 examples in the raw SM4 wire form: their cipher holds CR, LF and bytes >= 0x80."""
    out = []
    for example in SM4_VECTORS["examples"]:
        plain = decode(example["plaintext"].encode())
        assert plain.packet is not None
        out.append(encode(plain.packet.header, plain.packet.cp, key=KEY))
    assert any(b"\r\n" in f[6:-6] or b"\n" in f[6:-6] for f in out)
    return out


# --- whole streams --------------------------------------------------------------------------------


def test_every_spec_packet_back_to_back_is_one_frame_each() -> None:
    events = run([b"".join(SPEC_FRAMES)])
    assert frames(events) == SPEC_FRAMES
    assert not [e for e in events if isinstance(e, Garbage)]


def test_length_deviations_are_framed_by_scanning() -> None:
    by_method = {e.raw: e.method for e in run([b"".join(SPEC_FRAMES)]) if isinstance(e, Frame)}
    plus_6 = [f for f in SPEC_FRAMES if f.startswith((b"##0131", b"##0223", b"##0215"))]
    assert plus_6
    assert all(by_method[f] == "scan" for f in plus_6)
    assert by_method[SPEC_FRAMES[0]] == "length"


def test_packets_without_crlf_back_to_back() -> None:
    bare = [f[:-2] for f in SPEC_FRAMES[:5]]
    events = run([b"".join(bare)])
    assert frames(events) == bare
    assert all(isinstance(e, Frame) and not e.crlf for e in events)


def test_bare_lf_tail_belongs_to_the_frame() -> None:
    lf_only = [f[:-2] + b"\n" for f in SPEC_FRAMES[:4]]
    events = run([b"".join(lf_only)])
    assert frames(events) == lf_only
    assert all(isinstance(e, Frame) and not e.crlf for e in events)
    assert "framing:lf-only" in decode(lf_only[0]).deviations
    assert decode(lf_only[0]).ok


def test_garbage_between_packets_is_reported_not_dropped() -> None:
    stream = b"noise\r\n" + SPEC_FRAMES[0] + b"\x00\xff#" + SPEC_FRAMES[1] + b"tail"
    events = run([stream])
    assert frames(events) == SPEC_FRAMES[:2]
    garbage = [e for e in events if isinstance(e, Garbage)]
    assert [g.raw for g in garbage] == [b"noise\r\n", b"\x00\xff#", b"tail"]
    assert garbage[0].reason == OUTSIDE
    assert b"".join(e.raw for e in events) == stream


def test_triple_hash_starts_at_the_last_pair() -> None:
    events = run([b"#" + SPEC_FRAMES[0]])
    assert isinstance(events[0], Garbage)
    assert events[0].raw == b"#"
    assert frames(events) == [SPEC_FRAMES[0]]


def test_characters_length_and_three_digit_length() -> None:
    seg = "QN=20160801085857223;ST=32;CN=3020;PW=123456;MN=M1;Flag=5;CP=&&i11001-Info=//清洗管路//&&"
    data = seg.encode()
    chars = b"##%04d" % len(seg) + data + b"%04X\r\n" % hj212_crc(data)
    three = b"##%03d" % (len(data) + 6) + data + b"%04X\r\n" % hj212_crc(data)
    assert frames(run([chars + three + SPEC_FRAMES[0]])) == [chars, three, SPEC_FRAMES[0]]


def test_truncated_frame_before_a_good_one() -> None:
    stream = SPEC_FRAMES[5][:40] + SPEC_FRAMES[6]
    events = run([stream])
    assert isinstance(events[0], Garbage)
    assert events[0].reason == CUT_SHORT
    assert events[0].raw == SPEC_FRAMES[5][:40]
    assert frames(events) == [SPEC_FRAMES[6]]


def test_plus_6_frame_is_not_held_for_the_next_packet() -> None:
    plus_6 = next(f for f in SPEC_FRAMES if f.startswith(b"##0131"))
    framer = Framer()
    assert [e.raw for e in framer.feed(plus_6)] == [plus_6]  # declared end not reached, still framed


def test_frame_waits_for_its_crlf_then_flush_releases_it() -> None:
    framer = Framer()
    bare = SPEC_FRAMES[0][:-2]
    assert framer.feed(bare) == []
    assert framer.buffered == len(bare)
    assert framer.feed(b"\r") == []
    assert [e.raw for e in framer.feed(b"\n")] == [SPEC_FRAMES[0]]
    assert framer.feed(bare) == []
    released = framer.flush()
    assert [(e.raw, e.crlf) for e in released if isinstance(e, Frame)] == [(bare, False)]
    assert framer.buffered == 0
    assert [e.raw for e in framer.feed(SPEC_FRAMES[1])] == [SPEC_FRAMES[1]]  # usable after flush


def test_incomplete_frame_at_end_of_stream_is_garbage() -> None:
    events = run([SPEC_FRAMES[0][:50]])
    assert events == [Garbage(SPEC_FRAMES[0][:50], TRUNCATED)]


def test_encrypted_raw_frames_are_framed_by_length() -> None:
    enc = encrypted_raw_frames()
    events = run([b"".join(enc) + SPEC_FRAMES[0]])
    assert frames(events) == [*enc, SPEC_FRAMES[0]]
    assert all(e.method == "length" for e in events if isinstance(e, Frame))


# --- bounds -----------------------------------------------------------------------------------------


def test_megabytes_without_a_header_do_not_accumulate() -> None:
    framer = Framer()
    total = 0
    for _ in range(64):
        events = framer.feed(b"x" * 65536)
        total += sum(len(e.raw) for e in events)
        assert framer.buffered <= 1
    assert total == 64 * 65536


def test_header_without_an_end_is_dropped_as_garbage_after_max_frame() -> None:
    framer = Framer(max_frame=1024)
    events: list[FrameEvent] = []
    for _ in range(40):
        events += framer.feed(b"##0100" + b"a" * 94)
        assert framer.buffered <= 1024 + 2 + 100
    assert events
    assert all(isinstance(e, Garbage) for e in events)
    assert {e.reason for e in events if isinstance(e, Garbage)} >= {"no frame end within 1024 bytes"}
    assert [e.raw for e in framer.feed(SPEC_FRAMES[0])][-1] == SPEC_FRAMES[0]


def test_max_frame_is_validated() -> None:
    with pytest.raises(ValueError, match="too small"):
        Framer(max_frame=4)


# --- properties ---------------------------------------------------------------------------------------

STREAM_PARTS = SPEC_FRAMES + encrypted_raw_frames()


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(STREAM_PARTS), min_size=1, max_size=8),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_any_cut_of_a_valid_stream_yields_the_same_frames(parts: list[bytes], points: list[int]) -> None:
    stream = b"".join(parts)
    events = run(cut(stream, points))
    assert frames(events) == parts
    assert not [e for e in events if isinstance(e, Garbage)]


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(STREAM_PARTS),
            st.sampled_from([f[:-2] for f in SPEC_FRAMES]),  # no CR LF, back to back
            st.sampled_from([f[:-2] + b"\n" for f in SPEC_FRAMES]),  # LF only
            st.binary(max_size=40),
            st.sampled_from([b"#", b"##", b"\r\n", b"&&1C80\r\n", b"##0087"]),
        ),
        max_size=10,
    ),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_every_byte_comes_out_once_in_order_whatever_the_cuts(parts: list[bytes], points: list[int]) -> None:
    stream = b"".join(parts)
    whole = run([stream])
    pieces = run(cut(stream, points))
    assert b"".join(e.raw for e in whole) == stream
    assert b"".join(e.raw for e in pieces) == stream
    assert frames(pieces) == frames(whole)


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=12))
def test_random_chunks_never_raise_and_stay_bounded(chunks: list[bytes]) -> None:
    framer = Framer(max_frame=512)
    out = 0
    for chunk in chunks:
        out += sum(len(e.raw) for e in framer.feed(chunk))
        assert framer.buffered <= 512 + 2 + len(chunk)
    out += sum(len(e.raw) for e in framer.flush())
    assert out == sum(len(c) for c in chunks)
