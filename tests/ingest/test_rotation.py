"""SM4 key rotation on a live gateway (HJ 212-2025 §6.4.3, CN 1014): the station's request answered
with a new key encrypted under the old one, rotation mid-stream with no frame lost, staff- and
age-driven rotations, the overlap window, every key change sealed in the ledger."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from tests.ingest.conftest import LiveGateway
from tests.ingest.station2025 import Station2025, cn_of, qn_of, register_encrypted

from envtrace.hj212 import decode
from envtrace.store import write_transaction
from envtrace.store.station_commands import get_command, queue_command

Make = Callable[..., LiveGateway]
MN = "0A0000A8900016F000169D02"
PW = "653412"
KEY = "Qm7xT2vR9pLk4WzA"


def _events(live: LiveGateway) -> list[tuple[str, str]]:
    return [(str(e), str(a)) for e, a in live.query("SELECT event, actor FROM station_key_event ORDER BY id")]


def _sealed(live: LiveGateway) -> list[dict[str, object]]:
    """The station_key leaves of the ledger, decoded."""
    rows = live.query(
        "SELECT l.payload FROM ledger_leaf l JOIN station_key_event e ON e.leaf_index = l.idx ORDER BY l.idx"
    )
    return [json.loads(bytes(r[0])) for r in rows]  # type: ignore[arg-type]


def _wait(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


@pytest.mark.parametrize("form", ["raw", "text"])
def test_station_request_is_answered_with_a_new_key_under_the_old(make_gateway: Make, form: str) -> None:
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode(), form=form, answer_deliveries=False)  # type: ignore[arg-type]
    station.upload("20260801100000001", "20260801095900")  # the gateway learns the station's form
    station.answers("9014", 1)
    station.request_key("20260801100000002", "20260501000000000")
    assert qn_of(station.answers("9013", 1)[0]) == "20260801100000002"
    delivery = station.wait_for(lambda d: cn_of(d) == "1014")
    assert delivery.ok
    assert delivery.wire_form == form
    assert not decode(delivery.raw, key=None).ok  # encrypted, under the old key
    new_key = (delivery.cp or {})["NewSK"]
    assert len(new_key) == 16
    assert new_key != KEY
    assert new_key.encode() not in delivery.raw
    # until the station uses it the new key is pending, and both keys read
    live.wait_idle()
    assert sorted(r[0] for r in live.query("SELECT state FROM station_key")) == ["current", "pending"]
    station.upload("20260801100000003", "20260801100000")  # still the old key
    station.answers("9014", 1)
    station.key = new_key.encode()
    station.upload("20260801100000004", "20260801100100")  # the new key: it becomes current
    station.answers("9014", 1)
    _wait(lambda: ("activated", "gateway") in _events(live))
    states = dict(live.query("SELECT state, origin FROM station_key"))
    assert states == {"previous": "registered", "current": "generated"}
    assert _events(live) == [("registered", "test"), ("delivered", "station"), ("activated", "gateway")]
    leaves = _sealed(live)
    assert [leaf["event"] for leaf in leaves] == ["registered", "delivered", "activated"]
    assert all(leaf["kind"] == "station_key" and leaf["mn"] == MN for leaf in leaves)
    assert all(KEY not in json.dumps(leaf) and new_key not in json.dumps(leaf) for leaf in leaves)
    assert live.query("SELECT count(*) FROM raw_frame WHERE status = 'accepted'")[0][0] == 3
    station.close()


def test_rotation_mid_stream_loses_no_frame(make_gateway: Make) -> None:
    """Frames keep flowing while the key changes; some sent under the old key after the switch
    (in flight, or resent) are still read within the overlap window."""
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    old = KEY.encode()
    qns: list[str] = []
    for i in range(60):
        qn = f"2026080110{i // 60:02d}{i % 60:02d}{i:03d}"
        minute = 60 + i
        data_time = f"20260801{minute // 60 + 10:02d}{minute % 60:02d}00"
        if i == 20:
            station.request_key("20260801100000999")
        key = old if 30 <= i < 35 else None  # five frames under the old key after the switch
        station.upload(qn, data_time, cn=2051, items={"a21026": {"Avg": f"{i}.5", "Flag": "N"}}, key=key)
        qns.append(qn)
        station.poll(0.01)
    got = {qn_of(d) for d in station.answers("9014", 60, timeout=20)}
    assert got == set(qns)
    assert len(station.deliveries) == 1
    assert station.key != old
    live.wait_idle()
    assert live.query("SELECT count(*) FROM raw_frame WHERE cn = '2051' AND status = 'accepted'")[0][0] == 60
    assert live.query("SELECT count(*) FROM quarantine")[0][0] == 0
    assert live.query("SELECT count(*) FROM reading WHERE granularity = 'min'")[0][0] == 60
    station.close()


def test_staff_rotation_is_delivered_and_followed_to_done(make_gateway: Make) -> None:
    live = make_gateway(register=False, command_poll_s=0.1)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.upload("20260801110000001", "20260801105900")
    station.answers("9014", 1)
    with write_transaction(live.engine) as conn:
        command = queue_command(
            conn,
            mn=MN,
            kind="rotate_key",
            params={},
            actor="alice",
            now_us=time.time_ns() // 1000,
            ttl_s=3600,
        )
    station.wait_for(lambda d: cn_of(d) == "1014")
    assert station.key != KEY.encode()

    def done() -> bool:
        with live.engine.connect() as conn:
            return get_command(conn, command.id).state == "done"

    _wait(done)
    station.upload("20260801110000002", "20260801110000")
    station.answers("9014", 1)
    _wait(lambda: ("activated", "gateway") in _events(live))
    assert ("delivered", "alice") in _events(live)
    station.close()


def test_a_key_older_than_the_rotation_age_is_replaced_by_the_gateway(make_gateway: Make) -> None:
    live = make_gateway(register=False, key_rotation_days=1 / 86_400, key_check_interval_s=0.2)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.upload("20260801120000001", "20260801115900")
    station.answers("9014", 1)
    time.sleep(1.1)  # the key is now older than the rotation age (1 s)
    delivery = station.wait_for(lambda d: cn_of(d) == "1014", timeout=10)
    assert (delivery.cp or {})["NewSK"].encode() == station.key
    assert ("delivered", "gateway") in _events(live)
    station.close()


def test_the_previous_key_is_retired_when_the_overlap_ends(make_gateway: Make) -> None:
    live = make_gateway(register=False, key_overlap_s=1.0, key_check_interval_s=0.2, key_auto_rotate=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.request_key("20260801130000001")
    station.wait_for(lambda d: cn_of(d) == "1014")
    station.upload("20260801130000002", "20260801125900")  # under the new key
    station.answers("9014", 1)
    _wait(lambda: ("retired", "gateway") in _events(live), timeout=10)
    station.upload("20260801130000003", "20260801130000", key=KEY.encode())  # the old key: over
    assert [cn_of(d) for d in station.poll(1.0)] == []
    live.wait_idle()
    reasons = [str(r[0]) for r in live.query("SELECT reason FROM quarantine")]
    assert len(reasons) == 1
    assert "retired" not in reasons[0]
    assert "none of the 1 keys" in reasons[0]
    assert [e for e, _ in _events(live)] == ["registered", "delivered", "activated", "retired"]
    station.close()
