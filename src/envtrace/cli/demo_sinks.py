"""Local receivers for the demo's alarm notifications: an SMTP server and a webhook endpoint.

The demo points the platform's notification configuration (``ENVTRACE_NOTIFY_CONFIG``) at these, so
that an alarm's e-mail and its signed webhook can be read on the demo machine:

- :class:`MailSink`: an SMTP server (``aiosmtpd``) on 127.0.0.1 that writes each message it accepts to
  ``FOLDER/NNNN.eml`` (RFC 5322, as received);
- :class:`WebhookSink`: an HTTP server that checks each POST's signature with
  ``envtrace.alarms.verify_webhook`` (refusing bad or replayed ones with 401) and writes the body to
  ``FOLDER/NNNN.json``.

Both run in threads of the demo's own process and stop with it. ``on_receive(path, summary)`` is
called for each message stored (the demo prints a line).
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Receiver = Callable[[Path, str], None]


class _Numbered:
    """Files ``0001.ext``, ``0002.ext`` ... in a folder, numbered on from what is there already."""

    def __init__(self, folder: Path, suffix: str) -> None:
        self.folder = folder
        self.suffix = suffix
        folder.mkdir(parents=True, exist_ok=True)
        taken = [int(p.stem) for p in folder.glob(f"*{suffix}") if p.stem.isdigit()]
        self._next = max(taken, default=0) + 1
        self._lock = threading.Lock()

    def write(self, data: bytes) -> Path:
        with self._lock:
            path = self.folder / f"{self._next:04d}{self.suffix}"
            self._next += 1
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        return path


class MailSink:
    """An SMTP server on ``127.0.0.1:port`` storing every message in ``folder``."""

    def __init__(self, folder: Path, port: int, on_receive: Receiver | None = None) -> None:
        from aiosmtpd.controller import Controller

        self.files = _Numbered(folder, ".eml")
        self.on_receive = on_receive
        self.port = port
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        path = self.files.write(data)
        if self.on_receive is not None:
            msg = email.message_from_bytes(data, policy=email.policy.default)
            subject = str(msg.get("Subject", "")) if isinstance(msg, EmailMessage) else ""
            self.on_receive(path, f"to {', '.join(envelope.rcpt_tos)}: {subject}")
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


class WebhookSink:
    """An HTTP server on ``127.0.0.1:port`` accepting signed envtrace webhooks into ``folder``."""

    def __init__(self, folder: Path, port: int, secret: str, on_receive: Receiver | None = None) -> None:
        self.files = _Numbered(folder, ".json")
        self.secret = secret
        self.on_receive = on_receive
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from envtrace.alarms import SignatureError, verify_webhook

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = dict(self.headers.items())
                try:
                    verify_webhook(sink.secret, body, headers, now=int(time.time()))
                except SignatureError as exc:
                    self.send_response(401)
                    self.end_headers()
                    self.wfile.write(str(exc).encode("utf-8"))
                    return
                path = sink.files.write(body)
                self.send_response(204)
                self.end_headers()
                if sink.on_receive is not None:
                    event = headers.get("X-Envtrace-Event", "")
                    delivery = headers.get("X-Envtrace-Delivery", "")
                    sink.on_receive(path, f"{event} (delivery {delivery}, signature verified)")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-webhooks", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/envtrace"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
