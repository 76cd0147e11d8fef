"""Under load: a reconnect storm of 2,000 stations, and kill -9 of `envtrace serve` mid-stream
(every acknowledged QN must be stored after the restart)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.ingest.conftest import LiveGateway, upload

Make = Callable[..., LiveGateway]
REPO = Path(__file__).resolve().parents[2]
STATION_TOOL = REPO.parent / "shared" / "tools" / "hj212_station.py"


async def _station(port: int, mn: str, qn: str, data_time: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(upload(qn, data_time, mn=mn))
        await writer.drain()
        return (await asyncio.wait_for(reader.readuntil(b"\r\n"), 60)).decode()
    finally:
        writer.close()
        await writer.wait_closed()


async def _wave(port: int, count: int, second: int) -> list[str]:
    sem = asyncio.Semaphore(1000)

    async def one(i: int) -> str:
        async with sem:
            return await _station(
                port,
                f"STORM{i:019d}",
                f"20260801090{second:01d}00{i % 1000:03d}",
                f"2026080109{second:02d}00",
            )

    return await asyncio.gather(*(one(i) for i in range(count)))


@pytest.mark.slow
def test_reconnect_storm_of_2000_stations(make_gateway: Make) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    live = make_gateway(register=False, idle_timeout_s=300.0, auth_workers=4)
    first = asyncio.run(_wave(live.port, 2000, 0))  # every station enrolled on first use
    assert all(";CN=9014;" in a for a in first)
    again = asyncio.run(_wave(live.port, 2000, 1))  # all reconnect at once
    assert all(";CN=9014;" in a for a in again)
    live.wait_idle()
    assert live.query("SELECT count(*) FROM station")[0][0] == 2000
    assert live.query("SELECT count(*) FROM raw_frame WHERE status = 'accepted'")[0][0] == 4000
    assert live.query("SELECT count(*) FROM reading")[0][0] == 8000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(db: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    envtrace = Path(sys.executable).with_name("envtrace")
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(envtrace), "serve", "--db", db, "--port", str(port)],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    end = time.monotonic() + 30
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"envtrace serve did not start: {log.read_text()[-2000:]}")


@pytest.mark.slow
def test_kill_9_under_load_loses_no_acknowledged_frame(db_url: str, tmp_path: Path) -> None:
    port = _free_port()
    acked = tmp_path / "acked.txt"
    log = tmp_path / "serve.log"
    server = _serve(db_url, port, log)
    client = subprocess.Popen(
        [sys.executable, str(STATION_TOOL), "--to", f"127.0.0.1:{port}", "--stations", "100", "--rate", "10",
         "--duration", "8", "--acked-out", str(acked), "--progress", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(3)
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    kill_t = time.time()
    server = _serve(db_url, port, log)
    out, _ = client.communicate(timeout=60)
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0
    lines = [line.split("\t") for line in acked.read_text().splitlines()]
    qns = {f[0] for f in lines}
    assert sum(float(f[3]) < kill_t for f in lines) > 0, out
    from sqlalchemy import text

    from envtrace.store import connect

    engine = connect(db_url)
    with engine.connect() as conn:
        stored = {
            r[0]
            for r in conn.execute(
                text("SELECT qn FROM raw_frame WHERE cn = '2011' AND status IN ('accepted', 'duplicate')")
            )
        }
    engine.dispose()
    missing = qns - stored
    assert not missing, f"{len(missing)} acknowledged QNs not stored, e.g. {sorted(missing)[:3]}"
