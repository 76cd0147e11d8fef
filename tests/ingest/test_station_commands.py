"""The HJ 212-2025 commands on a live gateway: the new data commands (2013, 2052, 2062, 2111; ST=44
and ST=45 payloads on 2011) decoded and stored with unknown ``xxxxxx-Name=value`` items kept, and the
platform's 3022 / 3024 requests queued, sent, answered and sealed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from tests.ingest.conftest import LiveGateway, upload
from tests.ingest.station2025 import Station2025, cn_of, register_encrypted

from envtrace.hj212 import exe_answer, qn_answer
from envtrace.store import write_transaction
from envtrace.store.payloads import measurements, standard_checks
from envtrace.store.station_commands import get_command, queue_command

Make = Callable[..., LiveGateway]
MN = "0A0000A8900016F000169D05"
PW = "653412"
KEY = "Qm7xT2vR9pLk4WzA"


def _sid(live: LiveGateway) -> int:
    return int(str(live.query(f"SELECT id FROM station WHERE mn = '{MN}'")[0][0]))


def test_new_data_commands_are_stored_with_every_item_kept(make_gateway: Make) -> None:
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.upload(
        "20260801160000001", "20260801155000", cn=2013,
        items={"a21026": {"SampleTime": "20260801154500", "CompleteTime": "20260801155000", "SampleType": "1",
                          "Avg": "17.25", "Flag": "N", "PeakArea": "1234.5"}},
    )  # fmt: skip
    station.upload(
        "20260801160000002", "20260801155500", cn=2052, items={"LA": {"Data": "61.4", "Flag": "N"}}
    )
    station.upload(
        "20260801160000003",
        "20260801155500",
        cn=2111,
        items={"a01901": {"Avg": "861.0", "Flag": "N", "cd": "adf"}},
    )
    station.upload(
        "20260801160000004", "20260801150000", cn=2062,
        items={"a21026": {"SampleRd": "48.7", "StandardValue": "50.0", "ResultType": "1"},
               "a21002": {"SampleRd": "71.0", "StandardValue": "50.0", "ResultType": "0", "Note": "x"}},
    )  # fmt: skip
    station.answers("9014", 4)
    live.wait_idle()
    sid = _sid(live)
    with live.engine.connect() as conn:
        got = {(m.cn, m.parameter): m for m in measurements(conn, station_id=sid)}
        checks = {c.parameter: c for c in standard_checks(conn, station_id=sid)}
    raw13 = got[("2013", "a21026")]
    assert (raw13.value, raw13.sample_type, raw13.flag) == (17.25, "1", "N")
    assert raw13.sample_ts is not None
    assert raw13.complete_ts == raw13.sample_ts + 300
    assert json.loads(raw13.extra or "{}") == {"PeakArea": "1234.5"}
    assert got[("2052", "LA")].value == 61.4
    furnace = got[("2111", "a01901")]
    assert furnace.value == 861.0
    assert json.loads(furnace.extra or "{}") == {"cd": "adf"}
    assert (checks["a21026"].measured, checks["a21026"].nominal, checks["a21026"].result) == (48.7, 50.0, 1)
    assert checks["a21002"].result == 0
    assert json.loads(checks["a21002"].extra or "{}") == {"Note": "x"}
    statuses = live.query("SELECT cn, status FROM raw_frame ORDER BY id")
    assert statuses == [
        ("2013", "accepted"),
        ("2052", "accepted"),
        ("2111", "accepted"),
        ("2062", "accepted"),
    ]
    station.close()


@pytest.mark.parametrize(
    ("st", "items"),
    [
        ("44", {"d20105": {"Rtd": "12.3", "Flag": "N"}, "d30106": {"Rtd": "0.8", "Flag": "N", "cd": "adf"}}),
        ("45", {"g00101": {"Rtd": "1", "Flag": "N", "Unit": "t/h"}}),
    ],
)
def test_electricity_and_production_payloads_keep_unknown_items(
    make_gateway: Make, st: str, items: dict[str, dict[str, str]]
) -> None:
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY, st=st, kind="other")
    station = Station2025(live.port, MN, PW, KEY.encode(), st=st)
    station.upload("20260801161000001", "20260801161000", items=items)
    station.answers("9014", 1)
    live.wait_idle()
    rows = {
        str(p): (v, e)
        for p, v, e in live.query("SELECT parameter, value, extra FROM reading WHERE granularity = 'rtd'")
    }
    assert set(rows) == set(items)
    for code, fields in items.items():
        value, extra = rows[code]
        assert value == float(fields["Rtd"])
        unknown = {k: v for k, v in fields.items() if k not in ("Rtd", "Flag")}
        assert (json.loads(str(extra)) if extra else {}) == unknown
    station.close()


@pytest.mark.parametrize(("kind", "cn"), [("retain_sample", "3022"), ("standard_check", "3024")])
def test_platform_requests_are_sent_answered_and_sealed(make_gateway: Make, kind: str, cn: str) -> None:
    live = make_gateway(register=False, command_poll_s=0.1)
    register_encrypted(live, MN, PW, KEY)
    with write_transaction(live.engine) as conn:  # queued before the station connects
        command = queue_command(
            conn, mn=MN, kind=kind, params={"pol_id": "a21026"}, actor="carol",
            now_us=time.time_ns() // 1000, ttl_s=600,
        )  # fmt: skip
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.upload("20260801162000001", "20260801161900")
    station.answers("9014", 1)
    request = station.wait_for(lambda d: cn_of(d) == cn)
    assert request.packet is not None
    assert (request.cp or {}).get("PolId") == "a21026"
    assert (request.header or {}).get("Flag") == "9"  # 2025, answer wanted

    def state() -> str:
        with live.engine.connect() as conn:
            return get_command(conn, command.id).state

    assert state() in ("sent", "acknowledged")
    station.send(qn_answer(request.packet, 1, edition="2025"))
    _wait_for(lambda: state() == "acknowledged")
    station.send(exe_answer(request.packet, 1, edition="2025"))
    _wait_for(lambda: state() == "done")
    leaves = [
        json.loads(bytes(r[0]))  # type: ignore[arg-type]
        for r in live.query("SELECT payload FROM ledger_leaf WHERE kind = 'station_command'")
    ]
    assert [(x["command"], x["actor"], x["params"]) for x in leaves] == [
        (kind, "carol", {"pol_id": "a21026"})
    ]
    live.wait_idle()
    answers = live.query("SELECT cn, status FROM raw_frame WHERE cn IN ('9011', '9012') ORDER BY id")
    assert answers == [("9011", "command"), ("9012", "command")]
    station.close()


def test_a_2025_command_for_a_2017_station_fails_without_being_sent(make_gateway: Make) -> None:
    live = make_gateway(command_poll_s=0.1)  # the conftest's 2017 station
    client = live.client()
    client.send(upload("20260801163000001", "20260801163000"))
    client.answers(1)
    with write_transaction(live.engine) as conn:
        command = queue_command(
            conn, mn="010000A8900016F000169DC0", kind="retain_sample", params={"pol_id": "a21026"},
            actor="carol", now_us=time.time_ns() // 1000, ttl_s=600,
        )  # fmt: skip

    def state() -> str:
        with live.engine.connect() as conn:
            return get_command(conn, command.id).state

    _wait_for(lambda: state() == "failed", timeout=10)
    assert client.nothing_for(0.5)  # nothing was sent to it


def _wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        time.sleep(0.05)
