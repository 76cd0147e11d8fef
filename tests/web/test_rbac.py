"""Every route x every role, generated from the app's own routes: a new route is covered without
touching this file, and a route that declares no roles cannot even be built into the app."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.conftest import Site, Template, sqlite_site_in

from envtrace.accounts import Role
from envtrace.web.access import UndeclaredRoute, audit, require
from envtrace.web.context import SESSION_COOKIE

PATH_VALUES = {"username": "ghost_user", "action": "lock", "code": "zz"}


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "999999"), path)


@pytest.fixture(scope="module")
def matrix_site(sqlite_template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = sqlite_site_in(sqlite_template, tmp_path_factory.mktemp("rbac"))
    yield site
    site.engine.dispose()


def _cells() -> list[tuple[str, str, str]]:
    from envtrace.config import Settings
    from envtrace.web.app import create_app

    app = create_app(Settings(db_url="sqlite:///:memory:"))
    table = audit(app)
    return [(m, p, r.value) for (m, p) in sorted(table) for r in Role if m != "HEAD"]


CELLS = _cells()


def test_matrix_covers_every_route() -> None:
    paths = {p for _, p, _ in CELLS}
    assert "/api/v1/stations/{station_id}/series" in paths
    assert "/console/users" in paths
    assert len(CELLS) == len({(m, p) for m, p, _ in CELLS}) * len(Role)


@pytest.mark.parametrize(("method", "path", "role"), CELLS, ids=[f"{m} {p} {r}" for m, p, r in CELLS])
def test_route_x_role(matrix_site: Site, method: str, path: str, role: str) -> None:
    allowed = audit(matrix_site.app)[(method, path)]
    client = TestClient(matrix_site.app, raise_server_exceptions=False)
    headers = {}
    if role != Role.PUBLIC:
        token, csrf = matrix_site.session(role)
        client.cookies.set(SESSION_COOKIE, token)
        headers["X-CSRF-Token"] = csrf
    kwargs: dict[str, object] = {"headers": headers, "follow_redirects": False}
    if method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = {}
    r = client.request(method, _fill(path), **kwargs)  # type: ignore[arg-type]
    assert r.status_code < 500, r.text[:300]
    if Role(role) in allowed or Role.PUBLIC in allowed:
        assert r.status_code not in (401, 403), r.text[:300]
    elif role == Role.PUBLIC:
        if path.startswith("/api/"):
            assert r.status_code == 401
        else:
            assert r.status_code in (401, 303)
            if r.status_code == 303:
                assert r.headers["location"].startswith("/login?next=")
    else:
        assert r.status_code == 403, r.text[:300]


def test_undeclared_route_is_refused() -> None:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/ok", dependencies=[require(Role.PUBLIC)])
    def ok() -> dict[str, bool]:
        return {"ok": True}

    audit(app)

    @app.get("/forgot")
    def forgot() -> dict[str, bool]:
        return {"ok": True}

    with pytest.raises(UndeclaredRoute, match="/forgot"):
        audit(app)


def test_openapi_publishes_roles(matrix_site: Site) -> None:
    spec = matrix_site.client().get("/openapi.json").json()
    assert spec["paths"]["/api/v1/users"]["get"]["x-roles"] == ["admin"]
    assert spec["paths"]["/api/v1/public/air/current"]["get"]["x-roles"] == ["public"]
    assert len(spec["paths"]) >= 20
