"""``kill -9`` of ``envtrace serve`` while stations rotate their SM4 keys: after the restart every
station's key, old or new, is one the platform holds (a key is committed before it is sent)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from tests.ingest.station2025 import Station2025, cn_of
from tests.ingest.test_storm_and_kill import _free_port, _serve

from envtrace.config import state_dir_for
from envtrace.ingest import prepare_database
from envtrace.store import connect, register_station, write_transaction
from envtrace.store.station_keys import KeyVault, register_key

PW = "653412"
KEYS = ["Qm7xT2vR9pLk4WzA", "Hn3bV8cXz6Ry2TqW", "Zp4kW9sRt2Lm7VxC", "Bd8hN3qYc6Jw2PzF"]
MNS = [f"0A0000A8900016F00016AD{i:02d}" for i in range(len(KEYS))]


def _register(db_url: str) -> None:
    engine = connect(db_url)
    prepare_database(engine)
    vault = KeyVault.open(state_dir_for(db_url), create=True)
    with write_transaction(engine) as conn:
        for mn, key in zip(MNS, KEYS, strict=True):
            register_station(conn, mn=mn, pw=PW, kind="flue_gas", st="31", edition="2025", encrypted=True)
            register_key(
                conn, vault, mn=mn, key_text=key, actor="test", now_us=time.time_ns() // 1000, overlap_s=3600
            )
    engine.dispose()


def _churn(stations: list[Station2025], seconds: float) -> None:
    """Every station asks for a new key again and again, taking each one it receives."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        for s in stations:
            n += 1
            try:
                s.request_key(f"20260801140000{n % 1000:03d}")
                s.poll(0.003)
            except OSError:
                return  # the gateway is gone


def _fresh(port: int, before: list[Station2025]) -> list[Station2025]:
    out = []
    for s in before:
        s.close()
        new = Station2025(port, s.mn, s.pw, s.key)
        new.old_keys = [*s.old_keys]
        out.append(new)
    return out


@pytest.mark.slow
def test_kill_9_during_key_rotation_leaves_no_station_with_a_lost_key(db_url: str, tmp_path: Path) -> None:
    _register(db_url)
    port = _free_port()
    log = tmp_path / "serve.log"
    server = _serve(db_url, port, log)
    stations = [Station2025(port, mn, PW, key.encode()) for mn, key in zip(MNS, KEYS, strict=True)]
    adopted = 0
    for round_no, churn_s in enumerate((0.8, 0.35, 1.3)):
        _churn(stations, churn_s)
        os.killpg(server.pid, signal.SIGKILL)  # in the middle of deliveries
        server.wait()
        adopted += sum(len(s.deliveries) for s in stations)
        server = _serve(db_url, port, log)
        stations = _fresh(port, stations)
        for i, s in enumerate(stations):  # whatever key the station holds now must be read
            s.upload(f"2026080115{round_no:02d}{i:02d}001", f"2026080115{round_no:02d}{i:02d}")
            answer = s.wait_for(lambda d: cn_of(d) in ("9014", "1014"), timeout=15)
            while cn_of(answer) == "1014":  # a delivery that was still on its way: taken, go on
                answer = s.wait_for(lambda d: cn_of(d) in ("9014", "1014"), timeout=15)
            assert answer.ok
    assert adopted >= len(MNS)  # keys really changed hands during the run
    for s in stations:
        s.close()
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0
    text = log.read_text()
    for key in KEYS:
        assert key not in text
