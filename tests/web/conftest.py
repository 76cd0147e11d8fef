"""Web fixtures: an app on a real database (SQLite and PostgreSQL) holding the seeded province.

The province (``tests/web/seed.py``: real frames, the real roll-up job, the real alarms service,
signed checkpoints) is built once per backend per session into a *template*; each test gets its own
copy (a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so tests may change it.
Copies share the template's state folder (signing keys, checkpoint file) read-only: a test must not
sign checkpoints on a copy.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.web.seed import Province, seed

from envtrace.accounts import Policy, open_session
from envtrace.config import Settings
from envtrace.store import migrate
from envtrace.store.accounts import user_by_name
from envtrace.store.engine import connect, write_transaction
from envtrace.store.ledger_log import forget_cache
from envtrace.web.app import create_app
from envtrace.web.context import SESSION_COOKIE
from envtrace.web.options import WebOptions

PG_ADMIN = os.environ.get(
    "ENVTRACE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
).replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class Site:
    app: FastAPI
    engine: Engine
    province: Province
    url: str = ""

    def client(self) -> TestClient:
        return TestClient(self.app, raise_server_exceptions=False)

    def session(self, role: str) -> tuple[str, str]:
        """A new session of the seeded user of ``role`` (made by the accounts code, without the
        ~0.4 s argon2 verification of a real log-in): the cookie token and its CSRF token."""
        with write_transaction(self.engine) as conn:
            user = user_by_name(conn, self.province.users[role])
            assert user is not None
            new = open_session(conn, user, now_ts=int(time.time()), policy=Policy())
        return new.token, new.csrf_token

    def login(self, role: str) -> tuple[TestClient, str]:
        """A client logged in as the seeded user of ``role``, and its CSRF token."""
        client = self.client()
        token, csrf = self.session(role)
        client.cookies.set(SESSION_COOKIE, token)
        return client, csrf


@dataclass(frozen=True)
class Template:
    url: str
    province: Province


def _build(url: str, state_dir: Path) -> Template:
    forget_cache()
    engine = connect(url)
    try:
        migrate.upgrade(engine)
        province = seed(engine, state_dir, url=url)
        if url.startswith("sqlite"):
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    forget_cache()
    return Template(url, province)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    folder = tmp_path_factory.mktemp("web-template")
    return _build(f"sqlite:///{folder / 'template.db'}", folder / "state")


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    import psycopg

    name = f"envtrace_webtpl_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN} ({exc}): run the tests with `make test`")
    url = f"{PG_ADMIN.rpartition('/')[0]}/{name}"
    yield _build(url, tmp_path_factory.mktemp("web-pg-template") / "state")
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_sqlite(template: Template, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"web-{uuid.uuid4().hex[:8]}.db"
    shutil.copy2(template.url.removeprefix("sqlite:///"), target)
    return f"sqlite:///{target}"


@pytest.fixture
def _pg_copies(pg_template: Template) -> Iterator[list[str]]:
    import psycopg

    made: list[str] = []
    yield made
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for url in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


def copy_pg(template: Template, made: list[str]) -> str:
    import psycopg

    name = f"envtrace_web_{uuid.uuid4().hex[:12]}"
    source = template.url.rpartition("/")[2]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    url = f"{PG_ADMIN.rpartition('/')[0]}/{name}"
    made.append(url)
    return url


def make_site(url: str, template: Template, **options: object) -> Site:
    forget_cache()
    engine = connect(url)
    opts = WebOptions(rollup_interval_s=0, **options)  # type: ignore[arg-type]
    settings = Settings(db_url=url, state_dir=template.province.state_dir)
    app = create_app(settings, options=opts, engine=engine)
    return Site(app, engine, template.province, url)


def sqlite_site_in(template: Template, folder: Path, **options: object) -> Site:
    """A site on a fresh copy of the SQLite template (for module-scoped fixtures)."""
    return make_site(copy_sqlite(template, folder), template, **options)


@pytest.fixture(params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """The seeded province on SQLite and on PostgreSQL (each test its own copy)."""
    if request.param == "sqlite":
        template: Template = request.getfixturevalue("sqlite_template")
        url = copy_sqlite(template, tmp_path)
    else:
        request.applymarker(pytest.mark.postgres)
        template = request.getfixturevalue("pg_template")
        url = copy_pg(template, request.getfixturevalue("_pg_copies"))
    s = make_site(url, template)
    yield s
    s.engine.dispose()


@pytest.fixture
def sqlite_site(sqlite_template: Template, tmp_path: Path) -> Iterator[Site]:
    s = sqlite_site_in(sqlite_template, tmp_path)
    yield s
    s.engine.dispose()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Browser tests: on failure, save a screenshot under the test's tmp path and name it."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    page = getattr(item, "browser_page", None)
    if report.when != "call" or not report.failed or page is None:
        return
    try:
        tmp = item.funcargs.get("tmp_path") if hasattr(item, "funcargs") else None  # type: ignore[attr-defined]
        folder = Path(tmp) if tmp else Path(item.config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
        shot = folder / "screenshots" / f"{item.name.replace('/', '_')}.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        report.sections.append(("screenshot", f"saved to {shot}"))
        report.longrepr = f"{report.longrepr}\n\nscreenshot: {shot}"
    except Exception as exc:  # the screenshot must not hide the failure
        report.sections.append(("screenshot", f"could not be taken: {exc}"))
