"""HJ 212-2025 resends seen from the alarms, on a live gateway (real sockets, SQLite and PostgreSQL).

Two claims of docs/gateway.md ("Resends"): an ``RF`` other than 1 is recorded as the deviation
``rf:not-1`` and the frame treated as live data; and resent (``RF=1``) data, however old their
DataTime, carry their receipt time as the station's last-seen time, so they raise no offline (or
late-data) alarm -- while the same station silent for ``offline_after_s`` after them still does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.ingest.conftest import LiveGateway, make_gateway, upload

from envtrace.alarms import Actor, LiveOptions, alarm_evidence, list_alarms, run_intake
from envtrace.store.payloads import resend_stats

__all__ = ["make_gateway"]  # the live-gateway fixture of tests/ingest, used here

Make = Callable[..., LiveGateway]
VIEWER = Actor("test", "admin")
OPTIONS = LiveOptions(offline_after_s=3600)


def _minute(m: int) -> str:
    return f"20260801{10 + m // 60:02d}{m % 60:02d}00"


def _upload_2025(qn: str, minute: int, header: str = "") -> bytes:
    cp = f"a21026-Avg={20 + minute}.0,a21026-Flag=N"
    return upload(qn, _minute(minute), cn="2051", flag=9, cp=cp, extra=header)


def test_an_rf_other_than_1_is_a_deviation_and_the_frame_is_live(make_gateway: Make) -> None:
    live = make_gateway()
    client = live.client()
    client.send(_upload_2025("20260801100000001", 0, "RF=0;"))  # RF=0 does not exist in 2025
    client.send(_upload_2025("20260801100100002", 1, "RF=2;"))
    client.send(_upload_2025("20260801100200003", 2, "RF=1;"))  # a real resend beside them
    answers = client.answers(3)
    assert all("CN=9014" in a for a in answers)
    live.wait_idle()
    rows = live.query("SELECT qn, status, rf, deviations FROM raw_frame ORDER BY qn")
    assert [(str(q), str(s), bool(rf), d) for q, s, rf, d in rows] == [
        ("20260801100000001", "accepted", False, "rf:not-1"),
        ("20260801100100002", "accepted", False, "rf:not-1"),
        ("20260801100200003", "accepted", True, None),
    ]
    with live.engine.connect() as conn:
        (stats,) = resend_stats(conn).values()
    assert (stats.frames, stats.filled, stats.duplicates) == (1, 1, 0)  # only RF=1 counts as a resend
    assert len(live.query("SELECT 1 FROM reading WHERE granularity = 'min'")) == 3  # all three stored


def test_resent_data_raise_no_offline_or_late_alarm(make_gateway: Make) -> None:
    live = make_gateway()
    client = live.client()
    # nothing live for hours: the link comes back and only the backlog (RF=1, out of order) arrives
    backlog = [41, 3, 17, 59, 0, 28]
    for k, m in enumerate(backlog):
        client.send(_upload_2025(f"202608011100000{k:02d}", m, "RF=1;"))
    client.answers(len(backlog))
    received = time.time()
    live.wait_idle()
    (seen_us, newest_data) = live.query("SELECT last_seen_us, last_data_ts FROM station_state")[0]
    assert abs(int(str(seen_us)) / 1e6 - received) < 30  # receipt time, not the data's old DataTime
    soon = int(received) + 600
    counts = run_intake(live.engine, soon, OPTIONS)
    assert not any(counts.values())
    with live.engine.connect() as conn:
        assert list_alarms(conn, VIEWER) == []
    # the same station then silent for longer than offline_after_s: offline, once, from the receipt
    later = int(received) + OPTIONS.offline_after_s + 120
    assert run_intake(live.engine, later, OPTIONS)["offline_opened"] == 1
    with live.engine.connect() as conn:
        (alarm,) = list_alarms(conn, VIEWER)
        (item,) = alarm_evidence(conn, alarm.id, VIEWER)
    assert (alarm.pattern, alarm.start_ts) == ("offline", int(str(seen_us)) // 1_000_000)
    assert item.extra["last_data_ts"] == newest_data
