"""The demo's parts: its province registers with everything live detection needs, its phases, its
injection requests, its notification configuration and its local mail and webhook sinks."""

from __future__ import annotations

import json
import smtplib
import socket
import time
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from envtrace.alarms import load_notify_config, signed_headers
from envtrace.cli.demo import (
    Phases,
    credit_code,
    notify_config,
    province,
    register_province,
    resolve_injection,
)
from envtrace.cli.demo_sinks import MailSink, WebhookSink
from envtrace.ingest import prepare_database
from envtrace.store import connect
from envtrace.store.hourly import limit_rules
from envtrace.store.registry import monitoring_point, station, station_parameter


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_province_registers_positions_parameters_and_limits(tmp_path: Path) -> None:
    stations = province()
    assert len(stations) == 50
    assert {s.kind for s in stations} == {"flue_gas", "water", "ambient"}
    assert {"2017", "2025"} <= {s.edition for s in stations}
    assert all(s.encrypted for s in stations if s.edition == "2025")
    assert len({s.city for s in stations}) >= 5
    engine = connect(f"sqlite:///{tmp_path / 'demo.db'}")
    prepare_database(engine)
    assert register_province(engine, stations) == 50
    assert register_province(engine, stations) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(station)).scalar_one() == 50
        positions = conn.execute(select(monitoring_point.c.lat, monitoring_point.c.lon)).all()
        assert all(lat is not None and lon is not None for lat, lon in positions)
        fg = next(s for s in stations if s.kind == "flue_gas")
        sid = conn.execute(select(station.c.id).where(station.c.mn == fg.mn)).scalar_one()
        refs = dict(
            conn.execute(
                select(station_parameter.c.parameter, station_parameter.c.o2_ref).where(
                    station_parameter.c.station_id == sid
                )
            ).all()
        )
        assert refs["a21026"] == fg.o2_ref
        assert refs["a19001"] is None
        rules = [r for r in limit_rules(conn, station_id=sid) if r.station_id == sid]
    assert {r.parameter for r in rules} == {"a21026", "a21002", "a34013"}
    assert all(r.scope == "permit" and r.o2_ref_pct == fg.o2_ref for r in rules)
    assert len(credit_code(fg.enterprise)) == 18
    engine.dispose()


def test_phases_backfill_then_accelerate_then_real_time() -> None:
    now = 2_000_000_000.0
    phases = Phases(backfill_end=now - 12 * 3600, backfill_speed=21600, live_speed=60)
    phase, speed, wall = phases.plan(now - 15 * 86400, now)
    assert (phase, speed) == ("backfill", 21600)
    assert wall == pytest.approx((15 * 86400 - 12 * 3600) / 21600)
    phase, speed, wall = phases.plan(now - 12 * 3600, now)
    assert (phase, speed) == ("accelerated", 60)
    assert wall == pytest.approx(12 * 3600 / 59)
    assert phases.plan(now - 30, now) == ("real time", 1.0, None)


def test_injection_requests_are_resolved_to_absolute_specs() -> None:
    stations = province()
    data_ts = 1_796_054_400.0  # 2026-12-01T00:00:00+08:00
    spec, st = resolve_injection({"pattern": "diluent_tamper", "station": "0"}, stations, data_ts)
    assert st is stations[0]
    assert spec == f"diluent_tamper:{stations[0].mn}:2026-12-01T00:00:00"
    ambient = next(s for s in stations if s.kind == "ambient")
    spec, _ = resolve_injection(
        {"pattern": "frozen_value", "station": ambient.mn, "duration": "6h", "params": ["jitter=0"]},
        stations,
        data_ts,
    )
    assert spec.endswith(":2026-12-01T00:00:00:6h@jitter=0")
    with pytest.raises(ValueError, match="no demo station"):
        resolve_injection({"pattern": "diluent_tamper", "station": "XYZ"}, stations, data_ts)
    with pytest.raises(ValueError, match="pattern needs"):
        resolve_injection({"pattern": "diluent_tamper", "station": ambient.mn}, stations, data_ts)


def test_notifications_reach_the_local_sinks(tmp_path: Path) -> None:
    got: list[tuple[Path, str]] = []
    mail = MailSink(tmp_path / "mail", _port(), lambda p, s: got.append((p, s)))
    hooks = WebhookSink(tmp_path / "hooks", _port(), "s3cret", lambda p, s: got.append((p, s)))
    config = tmp_path / "notify.toml"
    notify_config(
        config, console_url="http://x/console", smtp_port=mail.port, webhook=hooks.url, secret="s3cret"
    )
    parsed = load_notify_config(config)
    assert parsed.smtp is not None
    assert parsed.smtp.port == mail.port
    assert parsed.recipients("monitoring_staff", "open") == ("jiance@demo.envtrace.local",)
    assert parsed.webhooks[0].url == hooks.url
    mail.start()
    hooks.start()
    try:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@b", "jiance@demo.envtrace.local", "告警 #1"
        msg.set_content("hello")
        with smtplib.SMTP("127.0.0.1", mail.port, timeout=10) as client:
            client.send_message(msg)
        body = json.dumps({"alarm": {"id": 1}}).encode()
        headers = signed_headers(
            "s3cret", body, timestamp=int(time.time()), delivery_id=7, event="alarm.open"
        )
        assert httpx.post(hooks.url, content=body, headers=headers).status_code == 204
        bad = {**headers, "X-Envtrace-Signature": "v1=00"}
        assert httpx.post(hooks.url, content=body, headers=bad).status_code == 401
    finally:
        hooks.stop()
        mail.stop()
    assert [p.name for p, _ in got] == ["0001.eml", "0001.json"]
    assert "告警 #1" in got[0][1]
    assert "alarm.open (delivery 7" in got[1][1]
    assert json.loads((tmp_path / "hooks" / "0001.json").read_text()) == {"alarm": {"id": 1}}
