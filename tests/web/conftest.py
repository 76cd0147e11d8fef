"""Web fixtures: an app on a real database (SQLite and PostgreSQL), seeded through the store."""

from __future__ import annotations

import time
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
from envtrace.web.app import create_app
from envtrace.web.context import SESSION_COOKIE
from envtrace.web.options import WebOptions


@dataclass
class Site:
    app: FastAPI
    engine: Engine
    province: Province

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


def make_site(url: str, **options: object) -> Site:
    engine = connect(url)
    migrate.upgrade(engine)
    province = seed(engine)
    opts = WebOptions(rollup_interval_s=0, **options)  # type: ignore[arg-type]
    app = create_app(Settings(db_url=url), options=opts, engine=engine)
    return Site(app, engine, province)


@pytest.fixture
def site(db_url: str) -> Iterator[Site]:
    s = make_site(db_url)
    yield s
    s.engine.dispose()


@pytest.fixture
def sqlite_site(sqlite_url: str) -> Iterator[Site]:
    s = make_site(sqlite_url)
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
