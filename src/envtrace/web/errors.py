"""Errors of ``envtrace.web`` and the one JSON error envelope.

::

    ApiError                    (status, code, message)
    ├── NotAuthenticated        401 not_authenticated   (pages: redirect to /login)
    ├── Forbidden               403 forbidden
    ├── CsrfFailed              403 csrf
    ├── NotFound                404 not_found
    ├── Conflict                409 conflict
    └── BadRequest              400 bad_request

Every JSON error, whatever raised it (these, Starlette's HTTPException, a validation error, an
unexpected exception), answers ``{"ok": false, "error": {"code", "message"}, "status"}``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("envtrace.web")


class ApiError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(ApiError):
    status = 401
    code = "not_authenticated"

    def __init__(self, message: str = "log in first") -> None:
        super().__init__(message)


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class CsrfFailed(ApiError):
    status = 403
    code = "csrf"

    def __init__(self, message: str = "missing or wrong CSRF token") -> None:
        super().__init__(message)


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    429: "too_many_requests",
}


def envelope(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "ok": False,
        "error": {"code": code, "message": message, **extra},
        "status": status,
    }
    return JSONResponse(body, status_code=status)


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/healthz", "/openapi.json")):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _html(request: Request, status: int, code: str, message: str) -> Response:
    render = getattr(request.app.state, "render_error", None)
    if render is None:
        return Response(f"{status} {message}", status_code=status, media_type="text/plain")
    response: Response = render(request, status, code, message)
    return response


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


async def _api_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ApiError):  # pragma: no cover - registered for ApiError only
        raise exc
    if wants_json(request):
        return envelope(exc.status, exc.code, exc.message)
    if isinstance(exc, NotAuthenticated) and request.method in ("GET", "HEAD"):
        return _login_redirect(request)
    return _html(request, exc.status, exc.code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        raise exc
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = str(exc.detail)
    response: Response
    if wants_json(request):
        response = envelope(exc.status_code, code, message)
    else:
        response = _html(request, exc.status_code, code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    details = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()
    ]
    message = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details[:5]) or "invalid request"
    if wants_json(request):
        return envelope(422, "invalid_request", message, details=details)
    return _html(request, 422, "invalid_request", message)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if wants_json(request):
        return envelope(500, "internal", "internal error (logged)")
    return _html(request, 500, "internal", "internal error (logged)")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
