"""End to end through the real parts: a simulated flue-gas stack sends HJ 212 to ``envtrace serve``
(gateway + background worker) on SQLite; after a clean warm-up the simulator dilutes its sample
(``diluent_tamper``); the roll-up judges the hours, live detection raises the alarm with its evidence,
and the notification reaches a local SMTP server. The delay between the data that reveal the
pattern and the alarm is measured in data time (the simulator runs faster than real time, so the
platform's own "now" is the newest data time it has received) and must be under one hour.

Wall time about a minute and a half: 11 days of history at 43,200x, then the live phase at 300x.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from envtrace.alarms import Actor, AlarmStatus, alarm_evidence, list_alarms
from envtrace.cli.demo import notify_config, register_province
from envtrace.cli.demo_sinks import MailSink
from envtrace.ingest import prepare_database
from envtrace.sim import StationConfig, build_stations, write_registry
from envtrace.store import connect
from envtrace.store import detect_state as ds
from envtrace.store.state import station_states

pytestmark = pytest.mark.slow

SEED = 3
WARMUP_DAYS = 10  # the diluent baseline wants some 200 running hours
HISTORY_SPEED = 43_200.0  # half a simulated day per second
LIVE_SPEED = 300.0  # five simulated minutes per second
INJECT_AFTER_S = 3600  # data time from the start of the live phase to the manipulation
VIEWER = Actor("e2e", "admin")
ENVTRACE = str(Path(sys.executable).with_name("envtrace"))
SAMPLING = ["--realtime-interval", "1800", "--min-interval", "30"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _local(ts: float) -> str:
    return (datetime.fromtimestamp(int(ts), UTC) + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S")


def _wait(what: str, predicate: object, timeout: float, step: float = 0.25) -> object:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()  # type: ignore[operator]
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _simulate(
    port: int, registry: Path, start: float, speed: float, duration: float, *extra: str
) -> list[str]:
    return [
        ENVTRACE,
        "simulate",
        "--to",
        f"127.0.0.1:{port}",
        "--registry",
        str(registry),
        "--seed",
        str(SEED),
        "--start",
        _local(start),
        "--speed",
        f"{speed:g}",
        "--duration",
        f"{duration:g}",
        "--progress",
        "0",
        "--drain",
        "60",
        *SAMPLING,
        *extra,
    ]


class Platform:
    """``envtrace serve`` with its worker, a mail sink, and the database they share."""

    def __init__(self, folder: Path, station: StationConfig) -> None:
        self.folder = folder
        self.station = station
        self.db = f"sqlite:///{folder / 'envtrace.db'}"
        self.engine: Engine = connect(self.db)
        prepare_database(self.engine)
        register_province(self.engine, [station])
        self.registry = folder / "stations.csv"
        write_registry(self.registry, [station])
        self.mail = MailSink(folder / "mail", _free_port())
        self.port = _free_port()
        self.serve: subprocess.Popen[bytes] | None = None
        self.sim: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.mail.start()
        config = self.folder / "notify.toml"
        notify_config(
            config,
            console_url="http://127.0.0.1:9/console",
            smtp_port=self.mail.port,
            webhook="http://127.0.0.1:9/hooks",
            secret="e2e-secret",
        )
        env = {
            **os.environ,
            "ENVTRACE_NOTIFY_CONFIG": str(config),
            "ENVTRACE_LIVE_WARMUP_DAYS": str(WARMUP_DAYS),
            "ENVTRACE_ROLLUP_INTERVAL_S": "1",
            "ENVTRACE_LIVE_DETECT_INTERVAL_S": "1",
            "ENVTRACE_ALARM_INTAKE_INTERVAL_S": "1",
            "ENVTRACE_NOTIFY_INTERVAL_S": "1",
            "ENVTRACE_SQLITE_SYNCHRONOUS": "NORMAL",
        }
        log = (self.folder / "serve.log").open("ab")
        self.serve = subprocess.Popen(
            [ENVTRACE, "serve", "--db", self.db, "--port", str(self.port)], env=env, stderr=log
        )

        def listening() -> bool:
            if self.serve is not None and self.serve.poll() is not None:
                raise AssertionError(
                    f"envtrace serve exited: {(self.folder / 'serve.log').read_text()[-3000:]}"
                )
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        _wait("the gateway", listening, 90)

    def simulate(self, start: float, speed: float, duration: float, *extra: str) -> subprocess.Popen[bytes]:
        with (self.folder / "simulate.log").open("ab") as out:
            self.sim = subprocess.Popen(
                _simulate(self.port, self.registry, start, speed, duration, *extra), stdout=out, stderr=out
            )
        return self.sim

    def close(self) -> None:
        _stop(self.sim)
        _stop(self.serve)
        self.mail.stop()
        self.engine.dispose()

    # -- reads -----------------------------------------------------------------------------------

    def phase(self) -> str | None:
        with self.engine.connect() as conn:
            rows = ds.states(conn)
        return rows[0].phase if rows else None

    def alarms(self) -> list[AlarmStatus]:
        with self.engine.connect() as conn:
            return list_alarms(conn, VIEWER, limit=500)

    def newest_data(self) -> int | None:
        with self.engine.connect() as conn:
            times = [s.last_data_ts for s in station_states(conn) if s.last_data_ts is not None]
        return max(times) if times else None


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    (station,) = build_stations(1, seed=SEED, kinds=("flue_gas",))
    p = Platform(tmp_path, station)
    try:
        p.start()
        yield p
    finally:
        p.close()


def test_a_diluted_sample_raises_an_alarm_with_evidence_and_mail_within_an_hour(platform: Platform) -> None:
    now = time.time()
    history_start = now - (WARMUP_DAYS + 3) * 86400
    history_start -= history_start % 3600
    history_s = (WARMUP_DAYS + 1) * 86400 / HISTORY_SPEED
    history = platform.simulate(history_start, HISTORY_SPEED, history_s)
    assert history.wait(history_s + 120) == 0, (platform.folder / "simulate.log").read_text()[-2000:]
    _wait("the baseline (end of the warm-up)", lambda: platform.phase() == "live", 120)
    assert not [a for a in platform.alarms() if a.kind == "fraud"], "a clean warm-up raises no fraud alarm"

    newest = platform.newest_data() or 0
    live_start = newest - newest % 3600 + 3600  # a fresh hour, as a restarted logger would begin
    inject_at = live_start + INJECT_AFTER_S
    launched = time.time()
    platform.simulate(live_start, LIVE_SPEED, 60, "--inject", f"diluent_tamper:0:+{INJECT_AFTER_S}s")
    mn = platform.station.mn

    def diluent_alarm() -> AlarmStatus | None:
        return next((a for a in platform.alarms() if a.pattern == "diluent_tamper"), None)

    alarm = _wait("the diluent_tamper alarm", diluent_alarm, 90, step=0.1)
    assert isinstance(alarm, AlarmStatus)
    # the simulator's clock when the alarm is seen, counted from the launch of its process (an upper
    # bound: its clock starts once it runs), and the newest data time the platform has received
    sim_now = live_start + (time.time() - launched) * LIVE_SPEED
    platform_now = platform.newest_data()
    assert platform_now is not None
    with platform.engine.connect() as conn:
        items = alarm_evidence(conn, alarm.id, VIEWER)
    first = items[0]
    # The revealing data: the first manipulated hour (the diluent detector needs no more: see
    # tests/alarms/test_live_latency.py), complete once the platform has data past its end.
    revealed = inject_at + 3600
    print(
        f"\nalarm #{alarm.id} seen {(sim_now - revealed) / 60:.0f} min of data time after the end of the "
        f"first manipulated hour by the simulator's clock ({LIVE_SPEED:g}x; the platform's newest data then: "
        f"{(platform_now - revealed) / 60:+.0f} min)"
    )
    assert sim_now - revealed < 3600
    assert platform_now - revealed < 3600
    assert alarm.kind == "fraud"
    assert alarm.state == "new"
    assert alarm.start_ts == inject_at, "the alarm's window starts with the manipulation"
    assert first.detector == "diluent_inconsistency"
    assert first.plots
    assert "O2" in first.reason_en
    assert first.reason_zh
    assert {"a19001", "a05001"} <= set(first.parameters)

    def mailed() -> list[Path]:
        return [
            p for p in sorted((platform.folder / "mail").glob("*.eml")) if b"diluent_tamper" in p.read_bytes()
        ]

    (message,) = _wait("the alarm's e-mail", mailed, 30)[:1]  # type: ignore[index]
    msg = email.message_from_bytes(message.read_bytes(), policy=email.policy.default)
    assert mn in str(msg["Subject"])
    assert "jiance@" in str(msg["To"])
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert f"/console/alarms/{alarm.id}" in text
    assert "diluent_tamper" in text
