"""Notifications by e-mail (SMTP) and signed webhook, through a durable outbox.

Deciding an alarm never waits on a mail server: the sealed ``alarm_event`` rows *are* the outbox.
:func:`deliver_notifications` (called by the background worker, like the escalation runner)

1. **plans**: turns each event not yet planned into deliveries -- one e-mail to the addresses of
   the alarm's owner role after the event (plus the roles watching that action, e.g. discipline
   inspectors on dismissals), and one POST per webhook that wants the action -- each with the
   exact subject and body to send, recorded in ``alarm_delivery``;
2. **sends** the deliveries that are due, logging every attempt in ``alarm_delivery_attempt``.
   A failed attempt is retried after ``backoff_s[n]`` seconds (the last value repeating) until
   ``max_attempts``, then the delivery is ``failed``. Delivery is at least once: a webhook
   receiver de-duplicates by the ``X-Envtrace-Delivery`` header.

Which actions notify is configured (:attr:`NotifyConfig.actions`; by default opening, escalation and
every state change). Webhook signatures are described in ``envtrace.alarms.webhook``.

Resources
    SMTP (``smtplib``, STARTTLS and login optional) and HTTP (``httpx``) are blocking and run
    outside any database transaction; :func:`deliver_notifications_async` runs the whole pass in
    a worker thread for an asyncio caller. Every network call has ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, RowMapping

from envtrace.alarms.errors import InvalidPolicy
from envtrace.alarms.machine import Action
from envtrace.alarms.messages import Notice, notice_for
from envtrace.alarms.permissions import INTERNAL_ROLES
from envtrace.alarms.webhook import DELIVERY_HEADER, signed_headers
from envtrace.store import alarms as db
from envtrace.store.engine import write_transaction

DEFAULT_ACTIONS: frozenset[str] = frozenset(
    {"open", "escalate", "acknowledge", "verify", "confirm", "dismiss", "reopen"}
)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "envtrace@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A receiver: its URL, the shared secret, and the actions it wants (None: the default set)."""

    url: str
    secret: str
    actions: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    console_url: str = "http://127.0.0.1:8000"
    smtp: SmtpSettings | None = None
    email_to: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    watchers: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"dismiss": ("discipline_inspector",), "reopen": ("discipline_inspector",)}
    )
    webhooks: tuple[WebhookTarget, ...] = ()
    actions: frozenset[str] = DEFAULT_ACTIONS
    max_attempts: int = 6
    backoff_s: tuple[int, ...] = (60, 300, 900, 3600, 6 * 3600)
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        known = {str(a) for a in Action}
        for where, actions in [("actions", self.actions)] + [
            (f"webhooks[{w.url}].actions", w.actions or frozenset()) for w in self.webhooks
        ]:
            if not actions <= known:
                raise InvalidPolicy(where, sorted(actions - known), f"actions among {sorted(known)}")
        for role in list(self.email_to) + [r for roles in self.watchers.values() for r in roles]:
            if role not in INTERNAL_ROLES:
                raise InvalidPolicy("email_to", role, f"staff roles among {sorted(INTERNAL_ROLES)}")
        if self.max_attempts < 1 or not self.backoff_s or min(self.backoff_s) < 0:
            raise InvalidPolicy("max_attempts/backoff_s", (self.max_attempts, self.backoff_s), "1+ and >= 0")

    def recipients(self, owner_role: str, action: str) -> tuple[str, ...]:
        roles = {owner_role, *self.watchers.get(action, ())}
        return tuple(sorted({addr for role in roles for addr in self.email_to.get(role, ())}))

    def webhooks_for(self, action: str) -> list[WebhookTarget]:
        return [w for w in self.webhooks if action in (w.actions if w.actions is not None else self.actions)]

    def secret_for(self, url: str) -> str | None:
        return next((w.secret for w in self.webhooks if w.url == url), None)

    def backoff(self, attempts: int) -> int:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return self.backoff_s[min(attempts, len(self.backoff_s)) - 1]


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    planned: int
    sent: int
    retrying: int
    failed: int


# -- configuration file --------------------------------------------------------------------------


def _secret(where: str, spec: Mapping[str, Any], name: str) -> str | None:
    if name in spec:
        return str(spec[name])
    env = spec.get(f"{name}_env")
    if env is None:
        return None
    value = os.environ.get(str(env))
    if value is None:
        raise InvalidPolicy(f"{where}.{name}_env", env, "the name of a set environment variable")
    return value


def notify_config_from_mapping(data: Mapping[str, Any]) -> NotifyConfig:
    """A configuration from parsed TOML (see ``docs/alarms.md``); secrets may be read from the
    environment (``password_env``, ``secret_env``)."""
    smtp = None
    if "smtp" in data:
        s = data["smtp"]
        smtp = SmtpSettings(
            host=str(s["host"]),
            port=int(s.get("port", 25)),
            sender=str(s.get("sender", "envtrace@localhost")),
            starttls=bool(s.get("starttls", False)),
            username=s.get("username"),
            password=_secret("smtp", s, "password"),
        )
    hooks = []
    for i, w in enumerate(data.get("webhooks", [])):
        secret = _secret(f"webhooks[{i}]", w, "secret")
        if not secret:
            raise InvalidPolicy(f"webhooks[{i}].secret", None, "a shared secret (secret or secret_env)")
        actions = w.get("actions")
        hooks.append(WebhookTarget(str(w["url"]), secret, None if actions is None else frozenset(actions)))
    defaults = NotifyConfig()
    try:
        return NotifyConfig(
            console_url=str(data.get("console_url", defaults.console_url)),
            smtp=smtp,
            email_to={role: tuple(addrs) for role, addrs in dict(data.get("email_to", {})).items()},
            watchers={a: tuple(r) for a, r in dict(data.get("watchers", defaults.watchers)).items()},
            webhooks=tuple(hooks),
            actions=frozenset(data.get("actions", defaults.actions)),
            max_attempts=int(data.get("max_attempts", defaults.max_attempts)),
            backoff_s=tuple(int(b) for b in data.get("backoff_s", defaults.backoff_s)),
            timeout_s=float(data.get("timeout_s", defaults.timeout_s)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidPolicy):
            raise
        raise InvalidPolicy("notifications", dict(data), f"a valid table ({exc})") from exc


def load_notify_config(path: Path) -> NotifyConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidPolicy(str(path), None, f"a readable TOML file ({exc})") from exc
    return notify_config_from_mapping(data)


# -- planning ------------------------------------------------------------------------------------


def _plan_event(conn: Connection, config: NotifyConfig, row: RowMapping, now: int) -> int:
    action = str(row["action"])
    hooks = config.webhooks_for(action)
    wants_mail = config.smtp is not None and action in config.actions
    if not hooks and not wants_mail:
        return 0
    notice = notice_for(conn, row, config.console_url)
    count = 0
    recipients = config.recipients(notice.alarm.owner_role, action) if wants_mail else ()
    if recipients:
        db.insert_delivery(
            conn,
            event_id=notice.event_id,
            channel="email",
            target=",".join(recipients),
            subject=notice.subject(),
            body=notice.text(),
            created_ts=now,
        )
        count += 1
    for hook in hooks:
        db.insert_delivery(
            conn,
            event_id=notice.event_id,
            channel="webhook",
            target=hook.url,
            subject=notice.event_type,
            body=notice.json_body(),
            created_ts=now,
        )
        count += 1
    return count


def plan_notifications(conn: Connection, config: NotifyConfig, *, now: int, limit: int = 500) -> int:
    """Turn events not yet planned into deliveries (in the caller's transaction); returns how many
    deliveries were created."""
    created = 0
    for row in db.unplanned_events(conn, limit=limit):
        count = _plan_event(conn, config, row, now)
        db.mark_planned(conn, event_id=int(row["id"]), planned_ts=now, deliveries=count)
        created += count
    return created


# -- sending -------------------------------------------------------------------------------------


class _Undeliverable(Exception):
    """The configuration no longer has what a planned delivery needs (SMTP server, webhook secret)."""


def send_email(
    smtp: SmtpSettings,
    recipients: Sequence[str],
    subject: str,
    body: str,
    *,
    timeout_s: float,
    delivery_id: int,
) -> str:
    """Send one plain-text message; returns a description of the server's acceptance."""
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg[DELIVERY_HEADER] = str(delivery_id)
    msg.set_content(body)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout_s) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        refused = client.send_message(msg, from_addr=smtp.sender, to_addrs=list(recipients))
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)
    return f"accepted for {len(recipients)} recipient(s)"


def post_webhook(
    url: str, secret: str, body: bytes, *, event: str, delivery_id: int, timeout_s: float, timestamp: int
) -> str:
    """POST one signed webhook; a 2xx answer is success, anything else raises ``httpx.HTTPError``."""
    headers = signed_headers(secret, body, timestamp=timestamp, delivery_id=delivery_id, event=event)
    response = httpx.post(url, content=body, headers=headers, timeout=timeout_s)
    response.raise_for_status()
    return f"HTTP {response.status_code}"


def _attempt(config: NotifyConfig, row: RowMapping, clock: Callable[[], float]) -> str:
    delivery_id = int(row["id"])
    if row["channel"] == "email":
        if config.smtp is None:
            raise _Undeliverable("no SMTP server is configured")
        return send_email(
            config.smtp,
            str(row["target"]).split(","),
            str(row["subject"]),
            str(row["body"]),
            timeout_s=config.timeout_s,
            delivery_id=delivery_id,
        )
    secret = config.secret_for(str(row["target"]))
    if secret is None:
        raise _Undeliverable(f"no webhook is configured for {row['target']}")
    return post_webhook(
        str(row["target"]),
        secret,
        str(row["body"]).encode("utf-8"),
        event=str(row["subject"]),
        delivery_id=delivery_id,
        timeout_s=config.timeout_s,
        timestamp=int(clock()),
    )


def send_due(
    engine: Engine, config: NotifyConfig, *, now: int, clock: Callable[[], float] = time.time
) -> DeliveryReport:
    """Attempt every delivery due at ``now`` once. ``clock`` stamps webhook signatures (the
    receiver compares it with its own clock, so it is real time, not the scheduling ``now``)."""
    sent = retrying = failed = 0
    with engine.connect() as conn:
        due = db.due_deliveries(conn, now=now)
    for row in due:
        attempts = int(row["attempts"])
        with write_transaction(engine) as conn:
            if not db.claim_delivery(conn, int(row["id"]), now=now, attempts=attempts):
                continue
        attempts += 1
        try:
            detail = _attempt(config, row, clock)
            ok = True
        except (_Undeliverable, smtplib.SMTPException, OSError, httpx.HTTPError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
            ok = False
        if ok:
            status, next_ts = "sent", None
            sent += 1
        elif attempts >= config.max_attempts:
            status, next_ts = "failed", None
            failed += 1
        else:
            status, next_ts = "pending", now + config.backoff(attempts)
            retrying += 1
        with write_transaction(engine) as conn:
            db.finish_attempt(
                conn,
                int(row["id"]),
                ts=now,
                ok=ok,
                detail=detail[:2000],
                status=status,
                next_attempt_ts=next_ts,
            )
    return DeliveryReport(planned=0, sent=sent, retrying=retrying, failed=failed)


def deliver_notifications(
    engine: Engine, config: NotifyConfig, *, now: int, clock: Callable[[], float] = time.time
) -> DeliveryReport:
    """Plan new events into deliveries, then send what is due (the worker's periodic call)."""
    with write_transaction(engine) as conn:
        planned = plan_notifications(conn, config, now=now)
    report = send_due(engine, config, now=now, clock=clock)
    return DeliveryReport(planned, report.sent, report.retrying, report.failed)


async def deliver_notifications_async(engine: Engine, config: NotifyConfig, *, now: int) -> DeliveryReport:
    """:func:`deliver_notifications` in a worker thread (SMTP and HTTP here are blocking)."""
    return await asyncio.to_thread(deliver_notifications, engine, config, now=now)


def notice_preview(conn: Connection, event_id: int, config: NotifyConfig) -> Notice | None:
    """The notice an event gives (for the console's "what was sent" view)."""
    row = db.event_row(conn, event_id)
    return None if row is None else notice_for(conn, row, config.console_url)
