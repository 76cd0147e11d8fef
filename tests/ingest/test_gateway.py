"""The gateway over real sockets into real SQLite and PostgreSQL: framing, answers, quarantine,
authentication, duplicates, readings, sub-packets, answers only after commit, graceful stop."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.ingest.conftest import MN, PW, LiveGateway, frame, upload

from envtrace.ingest.values import to_ts

Make = Callable[..., LiveGateway]


def _qn(i: int) -> str:
    return f"20260801085857{i:03d}"


def test_concatenated_and_split_frames_are_all_stored_and_answered(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    frames = [upload(_qn(i), f"202608010859{i:02d}") for i in range(4)]
    c.send(frames[0] + frames[1] + frames[2])  # three in one write
    for i in range(0, len(frames[3]), 7):  # one cut into 7-byte pieces
        c.send(frames[3][i : i + 7])
    answers = c.answers(4)
    assert [a.split(";")[0] for a in answers] == [f"##0087QN={_qn(i)}" for i in range(4)]
    assert all(";CN=9014;" in a and ";ST=91;" in a and "Flag=4;" in a for a in answers)
    live.wait_idle()
    rows = live.query("SELECT status, raw FROM raw_frame ORDER BY id")
    assert [r[0] for r in rows] == ["accepted"] * 4
    assert [bytes(r[1]) for r in rows] == frames  # every byte, CR LF included
    assert live.query("SELECT count(*) FROM reading")[0][0] == 8


def test_readings_values_times_and_leaf(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    c.send(upload(_qn(1), "20260801085857"))
    c.answers(1)
    live.wait_idle()
    rows = live.query(
        "SELECT parameter, granularity, data_ts, value, zs_value, flag FROM reading ORDER BY parameter"
    )
    from datetime import datetime

    ts = to_ts(datetime(2026, 8, 1, 8, 58, 57), 480)
    assert rows == [("a21002", "rtd", ts, 40.1, 44.2, "N"), ("a21026", "rtd", ts, 12.5, None, "N")]
    import json

    payload = json.loads(bytes(live.query("SELECT payload FROM ledger_leaf WHERE kind='raw_frame'")[0][0]))
    assert payload["mn"] == MN
    assert payload["status"] == "accepted"
    assert payload["readings"] == 2
    import hashlib

    raw = bytes(live.query("SELECT raw FROM raw_frame")[0][0])
    assert payload["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    from envtrace.store import frame_readings_digest

    with live.engine.connect() as conn:
        assert frame_readings_digest(conn, payload["frame_id"]) == payload["readings_sha256"]


def test_2005_codes_are_mapped(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    c.send(upload(_qn(1), st="32", cp="011-Rtd=231.0,011-Flag=N;B01-Rtd=36.91"))
    c.answers(1)
    live.wait_idle()
    rows = live.query("SELECT parameter, value, extra FROM reading ORDER BY parameter")
    assert rows == [("w00000", 36.91, '{"code":"B01"}'), ("w01018", 231.0, '{"code":"011"}')]


def test_wrong_crc_strict_is_answered_9_quarantined_and_the_connection_survives(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    seg = f"QN={_qn(1)};ST=31;CN=2011;PW={PW};MN={MN};Flag=5;CP=&&DataTime=20260801085857;a21026-Rtd=1&&"
    c.send(frame(seg, crc=0x1234))
    (answer,) = c.answers(1)
    assert ";CN=9011;" in answer
    assert "QnRtn=9" in answer
    c.send(upload(_qn(2)))
    assert ";CN=9014;" in c.answers(1)[0]
    live.wait_idle()
    (q,) = live.query("SELECT kind, reason, mn FROM quarantine")
    assert q[0] == "crc"
    assert "1234" in q[1]
    assert q[2] == MN


def test_modbus_crc_accepted_with_deviation_in_tolerant_mode(make_gateway: Make) -> None:
    from envtrace.hj212.crc import modbus_crc

    live = make_gateway(tolerant=True)
    c = live.client()
    seg = f"QN={_qn(1)};ST=31;CN=2011;PW={PW};MN={MN};Flag=5;CP=&&DataTime=20260801085857;a21026-Rtd=1&&"
    c.send(frame(seg, crc=modbus_crc(seg.encode())))
    assert ";CN=9014;" in c.answers(1)[0]
    live.wait_idle()
    assert live.query("SELECT status, deviations FROM raw_frame") == [("accepted", "crc:modbus")]
    assert live.query("SELECT crc_variant FROM station_state") == [("crc:modbus",)]


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"##0999QN=1;ST=31;CN=2011;PW=123456;MN=X;Flag=5;CP=&&&&4001\r\n", "length"),
        (b"##0030QN=1;ST=31;CN=2011;Flag=5;CP=&&&&C001\r\n", None),
        (b"hello, not HJ 212\r\n", "framing"),
    ],
)
def test_malformed_frames_are_quarantined_with_a_reason(
    make_gateway: Make, raw: bytes, kind: str | None
) -> None:
    live = make_gateway()
    c = live.client()
    c.send(raw)
    c.send(upload(_qn(2)))
    assert ";CN=9014;" in c.answers(1)[0]  # the connection survives
    live.wait_idle()
    rows = live.query(
        "SELECT q.kind, q.reason, f.status, f.raw FROM quarantine q JOIN raw_frame f ON f.id = q.frame_id"
    )
    assert len(rows) == 1
    assert kind is None or rows[0][0] == kind
    assert rows[0][1]
    assert rows[0][2] == "quarantined"
    assert bytes(rows[0][3]) == raw


def test_unknown_station_is_enrolled_pending(make_gateway: Make) -> None:
    live = make_gateway(register=False)
    c = live.client()
    c.send(
        upload(_qn(1), mn="NEWSTATION00000000000001")
        + upload(_qn(2), "20260801085858", mn="NEWSTATION00000000000001")
    )
    assert all(";CN=9014;" in a for a in c.answers(2))
    c.send(upload(_qn(3), "20260801085859", mn="NEWSTATION00000000000001", pw="999999"))
    assert "QnRtn=3" in c.answers(1)[0]
    live.wait_idle()
    assert live.query("SELECT mn, approved, kind FROM station") == [
        ("NEWSTATION00000000000001", False, "flue_gas")
    ]
    assert live.query("SELECT status FROM raw_frame ORDER BY id") == [
        ("accepted",),
        ("accepted",),
        ("refused",),
    ]
    kinds = live.query("SELECT kind FROM ledger_leaf ORDER BY idx")
    assert kinds == [("station_enrolment",), ("raw_frame",), ("raw_frame",), ("raw_frame",)]


def test_unknown_station_refused(make_gateway: Make) -> None:
    live = make_gateway(register=False, unknown_stations="refuse")
    c = live.client()
    c.send(upload(_qn(1)))
    (answer,) = c.answers(1)
    assert ";CN=9011;" in answer
    assert "QnRtn=4" in answer
    live.wait_idle()
    assert live.query("SELECT count(*) FROM station")[0][0] == 0
    assert live.query("SELECT kind FROM quarantine") == [("auth",)]
    assert live.query("SELECT status FROM raw_frame") == [("refused",)]


def test_wrong_password_refused_and_recorded(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    c.send(upload(_qn(1), pw="000000"))
    assert "QnRtn=3" in c.answers(1)[0]
    live.wait_idle()
    assert live.query("SELECT kind, reason FROM quarantine") == [("auth", f"wrong PW for MN {MN!r}")]
    assert live.query("SELECT count(*) FROM reading")[0][0] == 0


def test_duplicates_are_idempotent_and_every_copy_kept(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    first = upload(_qn(1))
    resent = upload(_qn(2), cp="a21026-Rtd=99.9,a21026-Flag=N")  # same MN + CN + DataTime
    c.send(first)
    c.answers(1)
    c.send(resent + first)
    assert all(";CN=9014;" in a for a in c.answers(2))
    live.wait_idle()
    assert live.query("SELECT status FROM raw_frame ORDER BY id") == [
        ("accepted",),
        ("duplicate",),
        ("duplicate",),
    ]
    assert live.query("SELECT parameter, value FROM reading ORDER BY parameter") == [
        ("a21002", 40.1),
        ("a21026", 12.5),
    ]
    assert live.query("SELECT count(*) FROM ledger_leaf WHERE kind = 'raw_frame'")[0][0] == 3


def test_sub_packets_reassembled(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    head = f"ST=32;CN=2061;PW={PW};MN={MN};Flag=7;PNUM=2;PNO="
    p1 = frame(f"QN={_qn(1)};{head}1;CP=&&DataTime=20260801080000;w00000-Avg=17.5,w00000-Cou=63.0&&")
    p2 = frame(f"QN={_qn(2)};{head}2;CP=&&DataTime=20260801080000;w01018-Avg=40.1,w01018-Flag=N&&")
    c.send(p1 + p2)
    assert all(";CN=9014;" in a for a in c.answers(2))
    live.wait_idle()
    assert live.query("SELECT status, pno FROM raw_frame ORDER BY id") == [("partial", 1), ("accepted", 2)]
    assert live.query("SELECT parameter, granularity, value FROM reading ORDER BY parameter") == [
        ("w00000", "hour", 17.5),
        ("w01018", "hour", 40.1),
    ]


def test_no_answer_without_the_answer_bit_and_heartbeat_answered(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    c.send(upload(_qn(1), flag=4))
    c.send(frame(f"QN={_qn(2)};ST=31;CN=9015;PW={PW};MN={MN};Flag=9;CP=&&&&"))
    (answer,) = c.answers(1)
    assert f"QN={_qn(2)};ST=91;CN=9013;" in answer
    assert "Flag=8;" in answer
    live.wait_idle()
    assert live.query("SELECT status FROM raw_frame ORDER BY id") == [("accepted",), ("command",)]


def test_answers_only_after_commit(make_gateway: Make, db_url: str) -> None:
    live = make_gateway()
    with live.engine.begin() as conn:
        from sqlalchemy import text

        if db_url.startswith("sqlite"):
            conn.execute(
                text(
                    "CREATE TRIGGER fail BEFORE INSERT ON raw_frame "
                    "BEGIN SELECT RAISE(ABORT, 'injected'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ "
                    "LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text("CREATE TRIGGER fail BEFORE INSERT ON raw_frame FOR EACH ROW EXECUTE FUNCTION fail()")
            )
    c = live.client()
    c.send(upload(_qn(1)))
    assert c.nothing_for(1.5)  # the commit fails: no answer goes out
    with live.engine.begin() as conn:
        conn.execute(
            text("DROP TRIGGER fail" if db_url.startswith("sqlite") else "DROP TRIGGER fail ON raw_frame")
        )
    (answer,) = c.answers(1, timeout=15)
    assert ";CN=9014;" in answer
    live.wait_idle()
    assert live.query("SELECT status FROM raw_frame") == [("accepted",)]


def test_graceful_stop_commits_and_answers_everything(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    c.send(b"".join(upload(_qn(i), f"202608010900{i:02d}") for i in range(50)))
    import time

    end = time.monotonic() + 10
    while live.gateway.counters.frames < 50 and time.monotonic() < end:
        time.sleep(0.001)  # received, perhaps not yet committed: the stop must commit and answer them
    live.stop()
    answers = c.answers(50)
    assert len(answers) == 50
    assert not live.thread.is_alive()
    assert live.errors == []
    assert live.query("SELECT count(*) FROM raw_frame WHERE status = 'accepted'")[0][0] == 50
    assert live.query("SELECT count(*) FROM station_state WHERE online")[0][0] == 0


def test_history_requested_for_a_gap_and_matched_by_qn(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    c.send(upload(_qn(1), "20260801080000", cn="2051"))
    c.answers(1)
    c.send(upload(_qn(2), "20260801090000", cn="2051"))  # 50 minutes missing at 10-min interval
    answers = c.answers(2)
    request = next(a for a in answers if ";CN=2051;" in a)
    assert "BeginTime=20260801081000;EndTime=20260801085000" in request
    qn = request.split("QN=")[1].split(";")[0]
    c.send(frame(f"QN={qn};ST=91;CN=9011;PW={PW};MN={MN};Flag=4;CP=&&QnRtn=1&&"))
    c.send(upload(qn, "20260801081000", cn="2051", flag=4))
    c.send(frame(f"QN={qn};ST=91;CN=9012;PW={PW};MN={MN};Flag=4;CP=&&ExeRtn=1&&"))
    live.wait_idle()
    import time

    time.sleep(0.3)
    assert live.gateway.history.completed == 1
    assert live.gateway.history.pending == {}
    rows = live.query("SELECT status, cn FROM raw_frame ORDER BY id")
    assert rows[-3:] == [("command", "9011"), ("accepted", "2051"), ("command", "9012")]


def test_a_header_value_too_long_for_its_column_is_quarantined(make_gateway: Make) -> None:
    live = make_gateway()
    c = live.client()
    c.send(upload("2" * 30) + upload(_qn(2)))
    (answer,) = c.answers(1)  # the long-QN frame is not answered; the next one is
    assert f"QN={_qn(2)};" in answer
    live.wait_idle()
    assert live.query("SELECT status, qn FROM raw_frame ORDER BY id") == [
        ("quarantined", None),
        ("accepted", _qn(2)),
    ]
    ((kind, reason),) = live.query("SELECT kind, reason FROM quarantine")
    assert kind == "syntax"
    assert reason.startswith("QN longer than 24 characters")
