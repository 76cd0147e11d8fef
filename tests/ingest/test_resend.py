"""HJ 212-2025 resends (``RF=1``) on a live gateway: a resend storm after a one-hour outage, resent
history interleaved with live data and out of order, stored and sealed, deduplicated without
overwriting anything, counted apart; a resend never sets off a request for missing data."""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.ingest.conftest import LiveGateway
from tests.ingest.station2025 import Station2025, cn_of, qn_of, register_encrypted

from envtrace.store.payloads import resend_stats

Make = Callable[..., LiveGateway]
MN = "0A0000A8900016F000169D03"
PW = "653412"
KEY = "Qm7xT2vR9pLk4WzA"


def _minute(m: int) -> str:
    return f"20260801{10 + m // 60:02d}{m % 60:02d}00"


def _items(value: float) -> dict[str, dict[str, str]]:
    return {"a21026": {"Avg": f"{value:.1f}", "Flag": "N"}, "a21002": {"Avg": "40.0", "Flag": "N"}}


def test_resend_storm_after_a_one_hour_outage(make_gateway: Make) -> None:
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    for m in range(10):  # live minutes 10:00-10:09, then the link is down for an hour
        station.upload(f"2026080110{m:02d}00001", _minute(m), cn=2051, items=_items(m))
    station.answers("9014", 10)
    station.close()

    station = Station2025(live.port, MN, PW, KEY.encode())
    rng = random.Random(20260801)
    resent = list(range(10, 70))  # the hour missed
    rng.shuffle(resent)
    again = list(range(5, 10))  # and a few the platform already has, with other values
    backlog = resent + again
    rng.shuffle(backlog)
    frames: list[tuple[str, int, bool]] = []  # QN, minute, resent
    for k, m in enumerate(range(70, 80)):  # live data has priority; the backlog goes in between
        frames.append((f"20260801115{k}00002", m, False))
        for _ in range(len(backlog) // (10 - k)):
            rm = backlog.pop()
            frames.append((f"2026080111{rm:02d}{k:01d}0003", rm, True))
    assert not backlog
    assert len(frames) == 75
    for qn, minute, is_resend in frames:
        value = 1000.0 + minute if is_resend and minute < 10 else float(minute)
        station.upload(qn, _minute(minute), cn=2051, items=_items(value), resent=is_resend)
    got = station.answers("9014", 75, timeout=30)
    assert {qn_of(a) for a in got} == {qn for qn, _, _ in frames}
    requests = [d for d in station.poll(0.3) + station.received if cn_of(d) == "2051"]
    assert len(requests) <= 1  # at most the live jump over the hour asks for it; resends never do
    live.wait_idle()

    # stored and sealed like any frame
    rows = live.query("SELECT rf, status, count(*), count(leaf_index) FROM raw_frame GROUP BY rf, status")
    by = {(bool(r[0]), str(r[1])): (int(str(r[2])), int(str(r[3]))) for r in rows}
    assert by == {(False, "accepted"): (20, 20), (True, "accepted"): (60, 60), (True, "duplicate"): (5, 5)}
    # every minute once, and what arrived first was never overwritten
    values = dict(
        live.query("SELECT data_ts, value FROM reading WHERE granularity = 'min' AND parameter = 'a21026'")
    )
    assert len(values) == 80
    assert sorted(float(str(v)) for v in values.values()) == [float(m) for m in range(80)]
    # counted apart
    with live.engine.connect() as conn:
        stats = resend_stats(conn)
    (only,) = stats.values()
    assert (only.frames, only.filled, only.duplicates) == (65, 60, 5)
    state = live.query("SELECT frames, quarantined FROM station_state")
    assert state == [(85, 0)]
    station.close()


def test_resent_frames_never_ask_for_history(make_gateway: Make) -> None:
    """Resent data jumping past the newest stored data is not a gap to request (only live data is)."""
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.upload("20260801120000001", _minute(0), cn=2051, items=_items(0))
    station.upload("20260801120000002", _minute(30), cn=2051, items=_items(30), resent=True)
    station.upload("20260801120000003", _minute(55), cn=2051, items=_items(55), resent=True)
    station.answers("9014", 3)
    assert [cn_of(d) for d in station.poll(1.0)] == []
    station.upload("20260801120000004", _minute(90), cn=2051, items=_items(90))  # live: a real gap
    station.answers("9014", 1)
    request = station.wait_for(lambda d: cn_of(d) == "2051")
    assert (request.cp or {}).get("BeginTime") == "20260801110500"
    station.close()
