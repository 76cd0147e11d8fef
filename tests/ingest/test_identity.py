"""HJ 212-2025 heartbeat and identity on a live gateway: 9015 answered 9013 and keeping the station
online (the pre-2025 private 9015 told apart), CN 1001 logger bindings sealed and a swapped logger
noticed, CN 1002 MN assignment followed to the registry."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import pytest
from tests.ingest.conftest import LiveGateway, frame
from tests.ingest.station2025 import Station2025, cn_of, qn_of, register_encrypted

from envtrace.hj212 import exe_answer, qn_answer
from envtrace.store import write_transaction
from envtrace.store.station_commands import get_command, queue_command
from envtrace.store.station_identity import bindings

Make = Callable[..., LiveGateway]
MN = "0A0000A8900016F000169D04"
PW = "653412"
KEY = "Qm7xT2vR9pLk4WzA"
LOGGER = ("LG-2025-0001", "CPU-7f3a9c01", "00:1A:2B:3C:4D:5E", "00:1A:2B:3C:4D:5F")
SWAPPED = ("LG-2025-0931", "CPU-0b81e772", "00:1A:2B:99:88:77", "00:1A:2B:99:88:78")


def _wait(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


def test_heartbeat_is_answered_and_keeps_the_station_online(make_gateway: Make) -> None:
    live = make_gateway(register=False, idle_timeout_s=1.5)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    first_seen = None
    for i in range(7):  # 3.5 s of heartbeats every 0.5 s: longer than the idle timeout
        station.heartbeat(f"20260801130000{i:03d}")
        answer = station.wait_for(lambda d: cn_of(d) == "9013")
        assert qn_of(answer) == f"20260801130000{i:03d}"
        assert (answer.header or {}).get("Flag") == "8"  # 2025 edition, no answer asked
        live.wait_idle()
        if first_seen is None:
            first_seen = live.query("SELECT last_seen_us FROM station_state")[0][0]
        time.sleep(0.5)
    online, last_seen = live.query("SELECT online, last_seen_us FROM station_state")[0]
    assert online
    assert int(str(last_seen)) > int(str(first_seen)) + 2_000_000
    assert live.query("SELECT DISTINCT status, cn, deviations FROM raw_frame") == [("command", "9015", None)]
    # a silent station is closed after the idle timeout (the heartbeat is what kept it open)
    time.sleep(3.0)
    with pytest.raises(ConnectionError):
        station.poll(0.5)
    live.wait_idle()
    assert live.query("SELECT online FROM station_state") == [(False,)]


def test_pre_2025_private_heartbeat_is_kept_apart(make_gateway: Make) -> None:
    live = make_gateway()  # the 2017 station of the conftest
    client = live.client()
    client.send(
        frame("QN=20260801130100001;ST=31;CN=9015;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&&&")
    )
    answers = client.answers(1)
    assert ";CN=9013;" in answers[0]
    assert ";Flag=4;" in answers[0]
    live.wait_idle()
    assert live.query("SELECT status, deviations FROM raw_frame") == [("command", "cn:9015-vendor-heartbeat")]


def test_logger_binding_is_sealed_and_a_swapped_logger_noticed(
    make_gateway: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="envtrace.ingest.identity")
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.identity("20260801140000001", *LOGGER)
    station.answers("9013", 1)
    station.identity("20260801140000002", *LOGGER)  # the same logger reconnecting: nothing new
    station.answers("9013", 1)

    def found() -> list[tuple[str, bool, str | None]]:
        with live.engine.connect() as conn:
            return [(b.event, b.current, b.cpu_id) for b in bindings(conn)]

    _wait(lambda: len(found()) == 1)
    station.close()
    swapped = Station2025(live.port, MN, PW, KEY.encode())  # another logger behind the same MN
    swapped.identity("20260801140000003", *SWAPPED)
    swapped.answers("9013", 1)
    _wait(lambda: len(found()) == 2)
    assert found() == [("bound", False, LOGGER[1]), ("changed", True, SWAPPED[1])]
    assert any("different data logger" in r.getMessage() and MN in r.getMessage() for r in caplog.records)
    leaves = [
        json.loads(bytes(r[0]))  # type: ignore[arg-type]
        for r in live.query("SELECT payload FROM ledger_leaf WHERE kind = 'station_binding' ORDER BY idx")
    ]
    assert [(x["event"], x["cpu_id"]) for x in leaves] == [("bound", LOGGER[1]), ("changed", SWAPPED[1])]
    assert live.query("SELECT count(*) FROM raw_frame WHERE cn = '1001'")[0][0] == 3
    swapped.close()


def test_mn_assignment_reaches_the_registry(make_gateway: Make) -> None:
    new_mn = "0A0000A8900016F000169E99"
    live = make_gateway(register=False, command_poll_s=0.1)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.upload("20260801150000001", "20260801145900")
    station.answers("9014", 1)
    with write_transaction(live.engine) as conn:
        command = queue_command(
            conn, mn=MN, kind="set_mn", params={"mn": new_mn}, actor="bob", now_us=time.time_ns() // 1000,
            ttl_s=600,
        )  # fmt: skip
    request = station.wait_for(lambda d: cn_of(d) == "1002")
    assert (request.cp or {}).get("i23005-Info") == new_mn
    assert request.packet is not None
    station.send(qn_answer(request.packet, 1, edition="2025"))
    station.mn = new_mn  # the logger adopts it, then reports success
    station.send(exe_answer(request.packet, 1, edition="2025"))

    def state() -> str:
        with live.engine.connect() as conn:
            return get_command(conn, command.id).state

    _wait(lambda: state() == "done")
    assert live.query("SELECT mn FROM station") == [(new_mn,)]
    assert live.query("SELECT old_mn, new_mn, actor FROM station_mn_change") == [(MN, new_mn, "bob")]
    station.upload("20260801150000002", "20260801150000")  # data under the new MN: the same station
    station.answers("9014", 1)
    live.wait_idle()
    ids = live.query("SELECT DISTINCT station_id FROM raw_frame WHERE status = 'accepted'")
    assert len(ids) == 1
    assert live.query("SELECT count(*) FROM station")[0][0] == 1
    assert live.query("SELECT count(*) FROM ledger_leaf WHERE kind = 'station_mn'")[0][0] == 1
    station.close()
