"""Protocol faults fail in the intended way; the accepted ones leave the frame intact."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.hj212 import Frame, Framer, Garbage, data_upload, decode
from envtrace.sim import (
    ACCEPTED_FAULTS,
    REJECTED_FAULTS,
    DataLogger,
    Injector,
    Province,
    build_stations,
    corrupt,
    expected_error,
)

T0 = datetime(2026, 5, 4, tzinfo=UTC).timestamp()
STATIONS = build_stations(6, seed=8, edition="mixed", encrypt=True)
PROVINCE = Province(STATIONS, seed=8)


def frames_of(index: int, t: float, cipher: str = "raw") -> list[tuple[bytes, bytes | None, bytes | None]]:
    """(frame as sent, plaintext segment when encrypted, key) for the uploads of one sample."""
    cfg = STATIONS[index]
    lg = DataLogger(
        cfg,
        PROVINCE.models[cfg.mn],
        Injector(cfg, PROVINCE, []),
        realtime_interval=30.0,
        min_interval_min=1,
        sim_start=t,
    )
    uploads = lg.collect(t) + lg.collect(t + 60.0)
    out = []
    for u in uploads:
        args = {"qn": lg.next_qn(t), "cn": u.cn, "data_time": lg.local_text(u.data_time), "items": u.items}
        sent = data_upload(lg.station, key=lg.key, cipher_form=cipher, **args)  # type: ignore[arg-type]
        plain = data_upload(lg.station, **args) if lg.key else [None] * len(sent)  # type: ignore[arg-type]
        for f, p in zip(sent, plain, strict=True):
            out.append((f, p[6:-6] if p is not None else None, lg.key))
    return out


ALL = [f for i in range(len(STATIONS)) for f in frames_of(i, T0)]
TEXT_FORM = [f for i in range(len(STATIONS)) if STATIONS[i].encrypted for f in frames_of(i, T0, "text")]


def test_the_frames_cover_plain_and_encrypted_stations() -> None:
    assert any(k is None for _, _, k in ALL)
    assert any(k is not None for _, _, k in ALL)
    assert TEXT_FORM
    for frame, _, key in ALL + TEXT_FORM:
        d = decode(frame, key=key)
        assert d.ok, d.error


@pytest.mark.property
@settings(max_examples=120, deadline=None)
@given(
    index=st.integers(0, len(ALL) + len(TEXT_FORM) - 1),
    kind=st.sampled_from(REJECTED_FAULTS),
    seed=st.integers(),
)
def test_rejected_faults_fail_with_the_intended_error(index: int, kind: str, seed: int) -> None:
    frame, plain, key = (ALL + TEXT_FORM)[index]
    bad = corrupt(frame, kind, random.Random(seed), plain_segment=plain)
    assert bad.rejected
    assert len(bad.pieces) == 1
    d = decode(bad.pieces[0], key=key)
    assert not d.ok
    assert d.error is not None
    assert d.error.kind == expected_error(kind), (kind, d.error)
    if kind == "modbus_crc":
        assert d.crc_variant in ("modbus", "modbus-byteswapped")
    # the framer still finds exactly one frame (or skips it as garbage) and nothing after it is lost
    events = Framer().feed(bad.pieces[0] + frame)
    assert events
    assert isinstance(events[-1], Frame)
    assert events[-1].raw == frame


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, len(ALL) - 1), kind=st.sampled_from(ACCEPTED_FAULTS), seed=st.integers())
def test_accepted_faults_leave_the_frame_intact(index: int, kind: str, seed: int) -> None:
    frame, _, key = ALL[index]
    bad = corrupt(frame, kind, random.Random(seed))
    assert not bad.rejected
    assert expected_error(kind) is None
    framer = Framer()
    events = [e for piece in bad.pieces for e in framer.feed(piece)] + framer.flush()
    frames = [e for e in events if isinstance(e, Frame)]
    assert [f.raw for f in frames] == [frame]
    assert decode(frames[0].raw, key=key).ok
    if kind == "garbage":
        assert any(isinstance(e, Garbage) for e in events)


def test_unknown_fault_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        corrupt(ALL[0][0], "teleport", random.Random(1))
