"""The delivery bookkeeping of one station, without sockets."""

from __future__ import annotations

import pytest

from envtrace.sim import Counters, Upload
from envtrace.sim.outbox import Outbox


def upload(t: float, frames: int = 1) -> Upload:
    return Upload(2011, t, {}, frames=frames)


def box(**kw: float) -> Outbox:
    return Outbox(
        Counters(),
        limit=int(kw.get("limit", 100)),
        rate=kw.get("rate", 2.0),
        retry_max=kw.get("retry_max", 60),
    )


def send(b: Outbox, u: Upload, qn: str, now: float) -> None:
    u.qns, u.pending = (qn,), {qn}
    b.sent(u, [qn], now, timeout=10.0)


def test_new_data_goes_before_the_backlog() -> None:
    b = box()
    old, new = upload(0.0), upload(100.0)
    b.add_backlog(old)
    b.add_live(new)
    assert b.next_upload(0.0, window=8) is new
    assert b.next_upload(0.0, window=8) is old
    assert old.rounds == 1
    assert new.rounds == 0


def test_the_backlog_is_paced_by_its_rate() -> None:
    b = box(rate=2.0)
    for k in range(10):
        b.add_backlog(upload(float(k)))
    b.reset_tokens(0.0)
    got = list(iter(lambda: b.next_upload(0.0, 64), None))
    assert len(got) == 1  # one token at the start
    assert len(list(iter(lambda: b.next_upload(1.0, 64), None))) == 2  # 2 per second after
    assert b.next_event(1.0, 64) == pytest.approx(1.5)


def test_the_window_limits_uploads_in_flight() -> None:
    b = box()
    for k in range(3):
        b.add_live(upload(float(k)))
    u = b.next_upload(0.0, window=1)
    assert u is not None
    send(b, u, "q1", 0.0)
    assert b.next_upload(0.0, window=1) is None
    assert b.answered("q1") is u
    assert b.next_upload(0.0, window=1) is not None


def test_unanswered_uploads_wait_longer_each_round() -> None:
    b = box(retry_max=25.0)
    u = upload(0.0)
    waits = []
    for round_ in range(1, 6):
        send(b, u, f"q{round_}", 0.0)
        b.give_back(u, 100.0, ack_timeout=5.0)
        waits.append(u.not_before - 100.0)
        assert u.rounds == round_
        b.backlog.clear()
    assert waits == [5.0, 10.0, 20.0, 25.0, 25.0]


def test_a_full_backlog_drops_its_oldest_as_failed() -> None:
    b = box(limit=3)
    us = [upload(float(k), frames=2) for k in range(5)]
    for u in us:
        b.add_backlog(u)
    assert list(b.backlog) == us[2:]
    assert b.counters.failed == 4
    assert b.counters.backlog_peak == 3


def test_spill_puts_in_flight_waiting_and_backlog_together_oldest_first() -> None:
    b = box()
    a, c, d = upload(10.0), upload(20.0), upload(5.0)
    b.add_live(a)
    send(b, b.next_upload(0.0, 8) or a, "qa", 0.0)
    b.add_live(c)
    b.add_backlog(d)
    b.spill()
    assert list(b.backlog) == [a, c, d]
    assert not b.inflight
    assert not b.live
    assert all(u.rounds >= 1 and u.not_before == 0.0 for u in b.backlog)
    assert b.outstanding_frames() == 3


def test_a_refused_upload_is_given_up() -> None:
    b = box()
    u = upload(0.0, frames=2)
    u.qns, u.pending = ("q1", "q2"), {"q1", "q2"}
    b.sent(u, ["q1", "q2"], 0.0, 10.0)
    assert b.answered("q1") is u
    assert b.refused("q2") is u
    assert b.counters.failed == 1
    assert b.idle()
