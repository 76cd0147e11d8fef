"""Signed webhooks: how a notification is signed, and how a receiver verifies it.

The sender POSTs the JSON body with these headers::

    Content-Type: application/json; charset=utf-8
    X-Envtrace-Timestamp: 1767225600                 (Unix seconds when this attempt was sent)
    X-Envtrace-Signature: v1=<hex>                   (HMAC-SHA256, key = the shared secret)
    X-Envtrace-Delivery: 42                          (the same on every retry of one delivery)
    X-Envtrace-Event: alarm.open

where ``<hex> = HMAC-SHA256(secret, timestamp + "." + body)`` over the **exact bytes** of the body.
A receiver recomputes the MAC over the raw body it received (before any JSON parsing), compares in
constant time, and refuses a timestamp more than :data:`REPLAY_WINDOW_S` seconds from its own
clock; it also remembers the delivery ids it has processed, because a retry carries a fresh
timestamp and signature but the same delivery id. :func:`verify_webhook` does all but the last.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from envtrace.alarms.errors import BadSignature, StaleTimestamp

SIGNATURE_HEADER = "X-Envtrace-Signature"
TIMESTAMP_HEADER = "X-Envtrace-Timestamp"
DELIVERY_HEADER = "X-Envtrace-Delivery"
EVENT_HEADER = "X-Envtrace-Event"
SCHEME = "v1"
REPLAY_WINDOW_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``f"{timestamp}."`` followed by ``body``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signed_headers(
    secret: str, body: bytes, *, timestamp: int, delivery_id: int, event: str
) -> dict[str, str]:
    """Every header of one webhook attempt."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        DELIVERY_HEADER: str(delivery_id),
        EVENT_HEADER: event,
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_webhook(
    secret: str, body: bytes, headers: Mapping[str, str], *, now: int, window_s: int = REPLAY_WINDOW_S
) -> int:
    """Check a received webhook; returns its timestamp.

    Raises :class:`StaleTimestamp` when the timestamp is missing, malformed or more than
    ``window_s`` seconds from ``now``, and :class:`BadSignature` when the MAC does not match.
    """
    raw_ts = _header(headers, TIMESTAMP_HEADER)
    if raw_ts is None or not raw_ts.isdigit() or abs(now - int(raw_ts)) > window_s:
        raise StaleTimestamp(raw_ts, now, window_s)
    timestamp = int(raw_ts)
    received = _header(headers, SIGNATURE_HEADER)
    expected = signature(secret, timestamp, body)
    if received is None or not hmac.compare_digest(received.encode(), expected.encode()):
        raise BadSignature(received)
    return timestamp
