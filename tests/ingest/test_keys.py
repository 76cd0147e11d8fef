"""Encrypted HJ 212-2025 stations on a live gateway (real sockets, SQLite and PostgreSQL).

An encrypted station end to end (raw and ``{0x..}`` text forms, readings stored, the ledger verified
by ``envtrace verify``); a wrong key quarantined with its reason and never answered; the connection
surviving it; a revoked key no longer read; no key in any log line.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.ingest.conftest import LiveGateway
from tests.ingest.station2025 import Station2025, cn_of, qn_of, register_encrypted, reload

from envtrace.store import write_transaction
from envtrace.store.station_keys import revoke_key

Make = Callable[..., LiveGateway]
MN = "0A0000A8900016F000169D01"
PW = "653412"
KEY = "Qm7xT2vR9pLk4WzA"
OTHER = "Hn3bV8cXz6Ry2TqW"


def _verify(db_url: str) -> subprocess.CompletedProcess[str]:
    envtrace = Path(sys.executable).with_name("envtrace")
    return subprocess.run(
        [str(envtrace), "verify", "--db", db_url], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("form", ["raw", "text"])
def test_encrypted_station_end_to_end_is_stored_and_verified(
    make_gateway: Make, db_url: str, form: str
) -> None:
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode(), form=form)  # type: ignore[arg-type]
    sent = station.upload_frames("20260801085900001", "20260801085800")
    assert KEY.encode() not in sent[0]
    assert b"a21026-Rtd" not in sent[0]
    for f in sent:
        station.send(f)
    station.upload(
        "20260801085900002", "20260801085900", cn=2051, items={"a21026": {"Avg": "13.0", "Flag": "N"}}
    )
    answers = station.answers("9014", 2)
    assert sorted(qn_of(a) or "" for a in answers) == ["20260801085900001", "20260801085900002"]
    live.wait_idle()
    rows = live.query(f"SELECT cn, status, wire FROM raw_frame WHERE mn = '{MN}' ORDER BY id")
    assert rows == [("2011", "accepted", form), ("2051", "accepted", form)]
    readings = live.query(
        "SELECT r.granularity, r.parameter, r.value FROM reading r JOIN station s ON s.id = r.station_id "
        f"WHERE s.mn = '{MN}' ORDER BY r.granularity, r.parameter"
    )
    assert ("rtd", "a21026", 12.5) in readings
    assert ("min", "a21026", 13.0) in readings
    assert len(readings) == 4
    station.close()
    live.stop()
    result = _verify(db_url)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_wrong_key_is_quarantined_with_its_reason_and_not_answered(make_gateway: Make) -> None:
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, OTHER.encode())
    station.upload("20260801090000001", "20260801085900")
    assert station.poll(1.5) == []  # §6.4: nothing answers a frame the platform cannot read
    live.wait_idle()
    rows = live.query(
        "SELECT f.status, q.kind, q.reason, length(q.raw) "
        "FROM raw_frame f JOIN quarantine q ON q.frame_id = f.id"
    )
    assert len(rows) == 1
    status, kind, reason, raw_len = rows[0]
    assert (status, kind) == ("quarantined", "crypto")
    assert "none of the 1 keys" in str(reason)
    assert MN in str(reason)
    assert "not text" in str(reason)
    assert raw_len
    assert int(str(raw_len)) > 100
    assert live.query("SELECT count(*) FROM reading")[0][0] == 0
    # the connection survives: the right key on the same connection is read and answered
    station.key = KEY.encode()
    station.upload("20260801090000002", "20260801090000")
    assert qn_of(station.wait_for(lambda d: cn_of(d) == "9014")) == "20260801090000002"
    station.close()


def test_clear_data_from_an_encrypted_station_follows_the_configured_policy(make_gateway: Make) -> None:
    from envtrace.hj212.commands import data_upload

    live = make_gateway(register=False, encrypted_plaintext="quarantine")
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    plain = data_upload(
        station.peer, qn="20260801090000003", cn=2011, data_time="20260801090000",
        items={"a21026": {"Rtd": "1.0", "Flag": "N"}, "a21002": {"Rtd": "2.0", "Flag": "N"}},
    )  # fmt: skip
    station.send(plain[0])
    assert station.poll(1.0) == []
    live.wait_idle()
    assert live.query("SELECT kind FROM quarantine") == [("crypto",)]


def test_a_revoked_key_is_no_longer_read(make_gateway: Make) -> None:
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.upload("20260801090100001", "20260801090000")
    station.answers("9014", 1)
    with write_transaction(live.engine) as conn:
        done = revoke_key(conn, mn=MN, key_id=None, actor="test", reason="logger stolen", now_us=1)
    assert len(done) == 1
    reload(live)
    station.upload("20260801090100002", "20260801090100")
    assert station.poll(1.0) == []
    live.wait_idle()
    assert live.query("SELECT kind FROM quarantine") == [("crypto",)]
    events = live.query("SELECT event, actor FROM station_key_event ORDER BY id")
    assert events == [("registered", "test"), ("revoked", "test")]
    station.close()


def test_no_key_appears_in_any_log_line(make_gateway: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    live = make_gateway(register=False, key_overlap_s=30.0)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.upload("20260801090200001", "20260801090100")
    station.answers("9014", 1)
    station.request_key("20260801090200002")
    station.answers("9013", 1)
    delivered = station.wait_for(lambda d: cn_of(d) == "1014")
    new_key = (delivered.cp or {})["NewSK"]
    station.upload("20260801090200003", "20260801090200")
    station.answers("9014", 1)
    station.key = OTHER.encode()  # and a wrong key: its failure is logged and quarantined
    station.upload("20260801090200004", "20260801090300")
    station.poll(0.5)
    live.wait_idle()
    live.stop()
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "key" in logged.lower()  # key work was logged at all
    for secret in (KEY, new_key, OTHER, KEY.encode().hex(), new_key.encode().hex()):
        assert secret not in logged
        assert secret.lower() not in logged.lower()


def test_key_material_is_sealed_at_rest(make_gateway: Make, db_url: str) -> None:
    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    with live.engine.connect() as conn:
        sealed = [bytes(r[0]) for r in conn.execute(text("SELECT sealed FROM station_key"))]
        station_row = conn.execute(text(f"SELECT sm4_key FROM station WHERE mn = '{MN}'")).one()
    assert len(sealed) == 1
    assert KEY.encode() not in sealed[0]
    assert station_row[0] is None  # nothing in clear in the registry
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        live.stop()
        for f in path.parent.glob(path.name + "*"):
            assert KEY.encode() not in f.read_bytes(), f


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_encrypted_stream_cut_anywhere_is_read_whole(make_gateway: Make, seed: int) -> None:
    """Raw SM4 cipher holds CR, LF and bytes >= 0x80: framing goes by the length field, on bytes."""
    import random
    import socket
    import time

    live = make_gateway(register=False)
    register_encrypted(live, MN, PW, KEY)
    station = Station2025(live.port, MN, PW, KEY.encode())
    station.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream = b"".join(
        f
        for i in range(20)
        for f in station.upload_frames(
            f"2026080109{i:02d}00{seed:03d}", f"20260801{9 + i // 60:02d}{i % 60:02d}00"
        )
    )
    assert b"\r" in stream.replace(b"\r\n", b"") or b"\n" in stream.replace(b"\r\n", b"")  # cipher bytes
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(stream)), 40))
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        station.send(stream[a:b])
        time.sleep(0.002)
    assert len(station.answers("9014", 20)) == 20
    live.wait_idle()
    assert live.query("SELECT status, count(*) FROM raw_frame GROUP BY status") == [("accepted", 20)]
    station.close()
