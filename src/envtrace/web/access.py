"""Who may call what: every route declares its roles with :func:`require`.

``require(Role.X, ...)`` is a FastAPI dependency that answers 401 to an anonymous caller, 403 to a
user of another role, and checks the CSRF token of every state-changing request (header
``X-CSRF-Token`` or form field ``csrf_token``, compared with the session's). ``Role.PUBLIC`` means
no login. :func:`audit` walks the app's routes at start-up and refuses to build an app with a route
that declares nothing, so a new route cannot forget its roles; the declared roles are published in
the OpenAPI document as ``x-roles``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

from envtrace.accounts import Role
from envtrace.web.context import Principal, get_principal
from envtrace.web.errors import CsrfFailed, Forbidden, NotAuthenticated

ROLES_ATTR = "__envtrace_roles__"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALLOWED_MOUNTS = frozenset({"static"})


class UndeclaredRoute(RuntimeError):
    def __init__(self, path: str, methods: Iterable[str]) -> None:
        super().__init__(f"route {sorted(methods)} {path} declares no roles: add a require(...) dependency")
        self.path = path


async def _csrf_ok(request: Request, principal: Principal) -> bool:
    expected = principal.csrf_token
    if expected is None:
        return False
    given = request.headers.get("x-csrf-token")
    if given is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def require(*roles: Role) -> Any:
    """A dependency (use in ``Annotated[Principal, require(...)]``) declaring who may call a route."""
    if not roles:
        raise ValueError("require() needs at least one role")
    allowed = frozenset(roles)

    async def check(request: Request, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if Role.PUBLIC not in allowed:
            if principal.user is None:
                raise NotAuthenticated()
            if principal.role not in allowed:
                raise Forbidden(f"role {principal.role} may not {request.method} {request.url.path}")
        if (
            request.method not in SAFE_METHODS
            and principal.user is not None
            and not await _csrf_ok(request, principal)
        ):
            raise CsrfFailed()
        return principal

    setattr(check, ROLES_ATTR, allowed)
    return Depends(check)


def _declared(dependant: Dependant) -> list[frozenset[Role]]:
    found: list[frozenset[Role]] = []
    call: Callable[..., Any] | None = dependant.call
    roles = getattr(call, ROLES_ATTR, None)
    if roles is not None:
        found.append(roles)
    for sub in dependant.dependencies:
        found.extend(_declared(sub))
    return found


def declared_roles(route: APIRoute) -> frozenset[Role] | None:
    """The roles a route admits (the intersection when it declares more than once), or None."""
    sets = _declared(route.dependant)
    if not sets:
        return None
    result = sets[0]
    for extra in sets[1:]:
        result = result & extra
    return result


def _routes(routes: Iterable[BaseRoute]) -> Iterable[BaseRoute]:
    """Every route, descending into included routers (FastAPI keeps them as wrappers that carry the
    original router)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


def audit(app: FastAPI) -> dict[tuple[str, str], frozenset[Role]]:
    """Every (method, path) -> roles; raises ``UndeclaredRoute`` for a route that declares none."""
    table: dict[tuple[str, str], frozenset[Role]] = {}
    for route in _routes(app.router.routes):
        if isinstance(route, APIRoute):
            roles = declared_roles(route)
            if roles is None:
                raise UndeclaredRoute(route.path, route.methods or ())
            extra = dict(route.openapi_extra or {})
            extra["x-roles"] = sorted(r.value for r in roles)
            route.openapi_extra = extra
            for method in route.methods or ():
                table[(method, route.path)] = roles
        elif isinstance(route, Mount) and route.name in ALLOWED_MOUNTS:
            continue
        else:
            path = getattr(route, "path", repr(route))
            raise UndeclaredRoute(path, getattr(route, "methods", None) or ())
    return table
