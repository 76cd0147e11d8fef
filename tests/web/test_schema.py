"""schemathesis against /openapi.json: no generated request, anonymous or logged in as an
administrator, valid or not, gets a 5xx. (Driven through schemathesis' Python API and hypothesis:
its pytest plugin does not run under the pytest this project uses.)"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from tests.web.conftest import Site, Template, sqlite_site_in

from envtrace.config import Settings
from envtrace.web.app import create_app
from envtrace.web.context import SESSION_COOKIE
from envtrace.web.options import WebOptions


def _operations() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            Settings(db_url=f"sqlite:///{Path(tmp) / 'ops.db'}"), options=WebOptions(rollup_interval_s=0)
        )
        spec = app.openapi()
        app.state.ctx.engine.dispose()
    return [(m.upper(), p) for p, ops in sorted(spec["paths"].items()) for m in sorted(ops)]


OPERATIONS = _operations()
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@pytest.fixture(scope="module")
def schema_site(sqlite_template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = sqlite_site_in(sqlite_template, tmp_path_factory.mktemp("schema"))
    yield site
    site.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(schema_site: Site) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", schema_site.app)


@pytest.mark.parametrize("who", ["anonymous", "admin"])
@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_error(
    api_schema: schemathesis.BaseSchema,
    schema_site: Site,
    method: str,
    path: str,
    mode: GenerationMode,
    who: str,
) -> None:
    operation = api_schema[path][method]
    try:
        strategy = operation.as_strategy(generation_mode=mode)
    except Exception as exc:  # an operation with nothing to negate
        pytest.skip(f"no {mode.value} cases: {exc}")
    cookies: dict[str, str] = {}
    headers: dict[str, str] = {}
    if who == "admin":
        token, csrf = schema_site.session("admin")
        cookies[SESSION_COOKIE] = token
        headers["X-CSRF-Token"] = csrf

    @given(case=strategy if isinstance(strategy, st.SearchStrategy) else st.nothing())
    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=[not_a_server_error], cookies=cookies, headers=headers)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        pytest.skip("nothing to negate in this operation")
