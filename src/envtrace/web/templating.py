"""Server-rendered pages: one Jinja2 environment, autoescaped, with the translator and helpers."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from envtrace.accounts import Role
from envtrace.web.context import PRE_CSRF_COOKIE, Principal, WebContext
from envtrace.web.emissions import outlet_series
from envtrace.web.i18n import Translator, negotiate

STATIC_DIR = Path(str(resources.files("envtrace.web") / "static"))


@cache
def _asset_version(path: str) -> str:
    file = STATIC_DIR / path
    if not file.is_file():
        return "0"
    return hashlib.sha256(file.read_bytes()).hexdigest()[:10]


def static_url(path: str) -> str:
    return f"/static/{path}?v={_asset_version(path)}"


def vendor_ready() -> bool:
    return (STATIC_DIR / "vendor" / ".built").exists()


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("envtrace.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = static_url
    env.globals["outlet_series"] = outlet_series
    env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False)
    return env


ENV = _env()


def nav_items(principal: Principal, ctx: WebContext) -> list[tuple[str, str]]:
    """(href, message key) of the console menu the user may open."""
    if principal.user is None:
        return []
    role = principal.role
    items = [
        ("/console", "nav.overview"),
        ("/console/stations", "nav.stations"),
        ("/console/enterprises", "nav.enterprises"),
        ("/console/frames", "nav.frames"),
    ]
    if ctx.has_alarms:
        items.append(("/console/alarms", "nav.alarms"))
    if role in (Role.ADMIN, Role.MONITORING_STAFF, Role.ENFORCEMENT_OFFICER, Role.DISCIPLINE_INSPECTOR):
        items.append(("/console/quarantine", "nav.quarantine"))
    if role is not Role.ENTERPRISE:
        items.append(("/console/registry", "nav.registry"))
    items.append(("/console/export", "nav.export"))
    if role is Role.ADMIN:
        items.append(("/console/users", "nav.users"))
    if role in (Role.ADMIN, Role.DISCIPLINE_INSPECTOR):
        items.append(("/console/audit", "nav.audit"))
    return items


def render(
    request: Request,
    principal: Principal,
    template: str,
    *,
    status: int = 200,
    form_token: str | None = None,
    **context: Any,
) -> HTMLResponse:
    ctx: WebContext = request.app.state.ctx
    tr = principal.tr
    page = ENV.get_template(template).render(
        request=request,
        principal=principal,
        user=principal.user,
        tr=tr,
        t=tr.t,
        lang=principal.lang,
        html_lang=tr.html_lang,
        csrf_token=principal.csrf_token or form_token or request.cookies.get(PRE_CSRF_COOKIE, ""),
        nav=nav_items(principal, ctx),
        path=request.url.path,
        options=ctx.options,
        vendor_ready=vendor_ready(),
        **context,
    )
    return HTMLResponse(page, status_code=status)


def render_error(request: Request, status: int, code: str, message: str) -> HTMLResponse:
    """Error page (no database access: it must work when the database does not)."""
    lang = negotiate(request.cookies.get("lang"), request.headers.get("accept-language"))
    tr = Translator(lang)
    page = ENV.get_template("error.html").render(
        t=tr.t,
        tr=tr,
        lang=lang,
        html_lang=tr.html_lang,
        status=status,
        code=code,
        message=message,
        path=request.url.path,
        user=None,
        nav=[],
        csrf_token="",
        principal=None,
        vendor_ready=vendor_ready(),
    )
    return HTMLResponse(page, status_code=status)
