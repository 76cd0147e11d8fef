"""Notifications end to end: a real SMTP server (aiosmtpd) and a real HTTP server checking signatures."""

from __future__ import annotations

import asyncio
import email
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from envtrace.alarms import (
    BadSignature,
    InvalidPolicy,
    NotifyConfig,
    SmtpSettings,
    StaleTimestamp,
    WebhookTarget,
    acknowledge,
    deliver_notifications,
    deliver_notifications_async,
    dismiss,
    escalate_overdue,
    load_notify_config,
    notification_job,
    raise_alarms,
    signed_headers,
    start_verification,
    verify_webhook,
)
from envtrace.alarms.notify import send_email
from envtrace.store import alarms as db
from envtrace.store.engine import write_transaction

from .conftest import HOUR, T0, World, evidence

SECRET = "s3cret-shared-with-the-receiver"
NOW = T0 + 10 * HOUR


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[tuple[list[str], Message]]:
        return [(list(e.rcpt_tos), email.message_from_bytes(e.content)) for e in self.envelopes]


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@dataclass
class _Receiver:
    """What the webhook server saw: verified documents, and how to answer next."""

    url: str = ""
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    fail_next: int = 0


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    state = _Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = dict(self.headers.items())
            try:
                verify_webhook(SECRET, body, headers, now=int(time.time()))
            except (BadSignature, StaleTimestamp) as exc:
                state.refused.append(str(exc))
                self.send_response(401)
                self.end_headers()
                return
            state.received.append((headers, json.loads(body)))
            status = 503 if state.fail_next > 0 else 204
            state.fail_next -= 1
            self.send_response(status)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/envtrace"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def _config(smtp_port: int, url: str, **kw: Any) -> NotifyConfig:
    return NotifyConfig(
        console_url="https://envtrace.example.gov.cn/console/",
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_port, sender="alarms@envtrace.example.gov.cn"),
        email_to={
            "monitoring_staff": ("staff@env.example",),
            "reviewer": ("rev@env.example", "chief@env.example"),
            "discipline_inspector": ("insp@env.example",),
        },
        webhooks=(WebhookTarget(url, SECRET),),
        **kw,
    )


def test_email_and_signed_webhook_on_open_escalation_and_decisions(
    world: World, smtp: tuple[int, _Inbox], receiver: _Receiver
) -> None:
    port, inbox = smtp
    config = _config(port, receiver.url)
    (alarm_id,) = raise_alarms(world.engine, [evidence(score=0.9)], now=NOW).opened
    report = deliver_notifications(world.engine, config, now=NOW)
    assert (report.planned, report.sent, report.retrying, report.failed) == (2, 2, 0, 0)

    ((rcpts, msg),) = inbox.messages()
    assert rcpts == ["staff@env.example"]
    assert msg["From"] == "alarms@envtrace.example.gov.cn"
    assert f"#{alarm_id} frozen_value" in str(msg["Subject"])
    assert "MN-ACME-1" in str(msg["Subject"])
    text = msg.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert "a21026 连续 6 小时恒定" in text
    assert "a21026 constant for 6 h" in text
    assert "2026-01-01T08:00:00+08:00" in text  # the window in the station's local time
    assert f"https://envtrace.example.gov.cn/console/alarms/{alarm_id}" in text

    ((headers, doc),) = receiver.received
    assert headers["X-Envtrace-Event"] == "alarm.open"
    assert doc["type"] == "alarm.open"
    assert doc["link"].endswith(f"/console/alarms/{alarm_id}")
    assert doc["alarm"]["station"]["mn"] == "MN-ACME-1"
    assert (doc["alarm"]["pattern"], doc["alarm"]["score"], doc["alarm"]["start_ts"]) == (
        "frozen_value",
        0.9,
        T0,
    )
    assert doc["evidence"]["reason_en"] == "a21026 constant for 6 h"
    assert doc["event"]["action"] == "open"
    assert doc["event"]["seq"] == 1

    assert escalate_overdue(world.engine, NOW + 4 * HOUR) == [alarm_id]
    with write_transaction(world.engine) as conn:
        acknowledge(conn, alarm_id, world["rev"], now=NOW + 5 * HOUR)
        start_verification(conn, alarm_id, world["rev"], now=NOW + 6 * HOUR)
        dismiss(
            conn,
            alarm_id,
            world["rev"],
            now=NOW + 7 * HOUR,
            reason_code="verified_genuine",
            reason="标准气核查正常",
        )
    report = asyncio.run(deliver_notifications_async(world.engine, config, now=NOW + 8 * HOUR))
    assert (report.planned, report.sent) == (8, 8)
    mails = inbox.messages()
    assert [sorted(r) for r, _ in mails[1:]] == [
        ["chief@env.example", "rev@env.example"],  # escalated to the reviewers' queue
        ["chief@env.example", "rev@env.example"],
        ["chief@env.example", "rev@env.example"],
        ["chief@env.example", "insp@env.example", "rev@env.example"],  # inspectors watch dismissals
    ]
    dismissal = mails[-1][1].get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert "标准气核查正常" in dismissal
    assert "verified_genuine" not in dismissal
    assert [doc["type"] for _, doc in receiver.received] == [
        "alarm.open",
        "alarm.escalate",
        "alarm.acknowledge",
        "alarm.verify",
        "alarm.dismiss",
    ]
    assert receiver.refused == []
    assert deliver_notifications(world.engine, config, now=NOW + 9 * HOUR).planned == 0
    with world.engine.connect() as conn:
        log = db.delivery_rows(conn, alarm_id=alarm_id)
        assert {r["status"] for r in log} == {"sent"}
        assert len(log) == 10
        assert all(len(db.attempt_rows(conn, int(r["id"]))) == 1 for r in log)


def test_webhook_retries_with_backoff_and_gives_up(world: World, receiver: _Receiver) -> None:
    dead = f"http://127.0.0.1:{_free_port()}/nobody-listens"
    config = NotifyConfig(
        webhooks=(WebhookTarget(receiver.url, SECRET, frozenset({"open"})), WebhookTarget(dead, SECRET)),
        max_attempts=3,
        backoff_s=(60, 600),
        timeout_s=2.0,
    )
    receiver.fail_next = 1
    raise_alarms(world.engine, [evidence()], now=NOW)
    assert notification_job(config)(world.engine, NOW) == {
        "planned": 2,
        "sent": 0,
        "retrying": 2,
        "failed": 0,
    }
    assert deliver_notifications(world.engine, config, now=NOW + 59).retrying == 0  # not due yet
    second = deliver_notifications(world.engine, config, now=NOW + 60)
    assert (second.sent, second.retrying) == (1, 1)
    assert deliver_notifications(world.engine, config, now=NOW + 60 + 599).failed == 0
    third = deliver_notifications(world.engine, config, now=NOW + 660)
    assert (third.sent, third.failed) == (0, 1)
    ids = [h["X-Envtrace-Delivery"] for h, _ in receiver.received]
    assert len(ids) == 2
    assert ids[0] == ids[1]
    with world.engine.connect() as conn:
        ok, gone = db.delivery_rows(conn)
        assert (ok["status"], ok["attempts"], gone["status"], gone["attempts"]) == ("sent", 2, "failed", 3)
        assert [a["ok"] for a in db.attempt_rows(conn, int(ok["id"]))] == [False, True]
        assert "503" in db.attempt_rows(conn, int(ok["id"]))[0]["detail"]
        assert [a["ts"] for a in db.attempt_rows(conn, int(gone["id"]))] == [NOW, NOW + 60, NOW + 660]


def test_signature_scheme() -> None:
    body = b'{"type":"alarm.open"}'
    now = 1_767_225_600
    headers = signed_headers(SECRET, body, timestamp=now, delivery_id=7, event="alarm.open")
    assert headers["X-Envtrace-Signature"].startswith("v1=")
    assert verify_webhook(SECRET, body, headers, now=now + 300) == now
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify_webhook(SECRET, body, lower, now=now) == now
    with pytest.raises(BadSignature):
        verify_webhook(SECRET, body + b" ", headers, now=now)
    with pytest.raises(BadSignature):
        verify_webhook("another secret", body, headers, now=now)
    with pytest.raises(BadSignature):
        verify_webhook(SECRET, body, {**headers, "X-Envtrace-Timestamp": str(now + 1)}, now=now)
    with pytest.raises(StaleTimestamp) as info:
        verify_webhook(SECRET, body, headers, now=now + 301)
    assert info.value.timestamp == str(now)
    with pytest.raises(StaleTimestamp):
        verify_webhook(SECRET, body, {"X-Envtrace-Signature": headers["X-Envtrace-Signature"]}, now=now)


def test_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "from-env")
    path = tmp_path / "notify.toml"
    path.write_text(
        'console_url = "https://c.example"\nactions = ["open", "escalate"]\n'
        '[smtp]\nhost = "mail.example"\nport = 587\nstarttls = true\nusername = "u"\npassword = "p"\n'
        '[email_to]\nmonitoring_staff = ["a@example"]\n'
        '[[webhooks]]\nurl = "https://hook.example/x"\nsecret_env = "HOOK_SECRET"\nactions = ["dismiss"]\n',
        encoding="utf-8",
    )
    config = load_notify_config(path)
    assert config.smtp == SmtpSettings("mail.example", 587, "envtrace@localhost", True, "u", "p")
    assert config.webhooks == (WebhookTarget("https://hook.example/x", "from-env", frozenset({"dismiss"})),)
    assert config.recipients("monitoring_staff", "open") == ("a@example",)
    assert [w.url for w in config.webhooks_for("dismiss")] == ["https://hook.example/x"]
    assert config.webhooks_for("open") == []
    path.write_text('[[webhooks]]\nurl = "https://hook.example/x"\nsecret_env = "NOT_SET_ANYWHERE"\n')
    with pytest.raises(InvalidPolicy, match="secret_env"):
        load_notify_config(path)
    with pytest.raises(InvalidPolicy, match="email_to"):
        NotifyConfig(email_to={"enterprise": ("boss@plant.example",)})
    with pytest.raises(InvalidPolicy, match="actions"):
        NotifyConfig(actions=frozenset({"open", "explode"}))


def test_smtp_login_is_used_when_configured() -> None:
    seen: list[tuple[str, bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((mechanism, data.login, data.password))
        return AuthResult(success=data.password == b"right")

    inbox = _Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=False,
    )
    controller.start()
    try:
        good = SmtpSettings("127.0.0.1", port, "alarms@example", username="alarms", password="right")
        detail = send_email(good, ["a@example"], "subject", "body", timeout_s=5, delivery_id=1)
        assert detail == "accepted for 1 recipient(s)"
    finally:
        controller.stop()
    assert [(login, password) for _, login, password in seen] == [(b"alarms", b"right")]
    ((rcpts, msg),) = inbox.messages()
    assert rcpts == ["a@example"]
    assert msg["X-Envtrace-Delivery"] == "1"
