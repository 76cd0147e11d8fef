"""Response headers (CSP and friends) and cookie helpers.

The Content-Security-Policy admits only the app's own scripts, styles and data: no inline script,
no eval, no third-party origin (front-end libraries are bundled, see docs/web.md).
"""

from __future__ import annotations

import secrets

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from envtrace.web.options import WebOptions

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers above to every HTTP response (streams untouched)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers.extend((k, v) for k, v in HEADERS if k not in present)
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_https(request: Request, options: WebOptions) -> bool:
    if options.trust_forwarded_proto:
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto:
            return proto == "https"
    return request.url.scheme == "https"


def secure_cookie(request: Request, options: WebOptions) -> bool:
    if options.secure_cookies == "always":
        return True
    if options.secure_cookies == "never":
        return False
    return is_https(request, options)


def set_cookie(
    response: Response,
    request: Request,
    options: WebOptions,
    name: str,
    value: str,
    *,
    max_age: int | None,
    http_only: bool = True,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=http_only,
        samesite="lax",
        secure=secure_cookie(request, options),
        path="/",
    )


def new_form_token() -> str:
    return secrets.token_urlsafe(24)
