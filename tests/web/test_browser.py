"""Real Chromium (Debian's /usr/bin/chromium driven by Playwright) against a real uvicorn server on
a free port, on a database filled through the store. On failure a screenshot is saved under the
test's tmp path and named in the report (see ``pytest_runtest_makereport`` in conftest.py)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import update
from tests.web.conftest import Site, make_site
from tests.web.seed import PASSWORD

from envtrace.store.engine import write_transaction
from envtrace.store.frames import station_state
from envtrace.web.templating import vendor_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    if not vendor_ready():
        pytest.fail("front-end assets are not built: run scripts/build-assets (make assets)")
    site = make_site(f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}", live_poll_s=1)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 20 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", site
    server.should_exit = True
    thread.join(timeout=10)
    site.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-browser (make test does)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    request.node.browser_page = pg
    yield pg
    request.node.browser_page = None
    context.close()
    assert errors == [], f"JavaScript errors or CSP violations: {errors}"


def _login(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r".*/console$"))


def test_log_in_and_watch_a_station_come_online(live: tuple[str, Site], page: Any) -> None:
    base, site = live
    _login(page, base, "u_monitoring_staff")
    sid = site.province.ambient_ids[0]
    row = page.locator(f"#station-{sid}")
    assert row.get_attribute("data-online") == "false"
    with write_transaction(site.engine) as conn:
        conn.execute(
            update(station_state)
            .where(station_state.c.station_id == sid)
            .values(online=True, last_seen_us=int(time.time() * 1e6))
        )
    page.wait_for_selector(f'#station-{sid}[data-online="true"]', timeout=10_000)
    assert "在线" in page.locator(f"#station-{sid} .state").inner_text()


def test_station_chart_loads_and_zooms(live: tuple[str, Site], page: Any) -> None:
    base, site = live
    _login(page, base, "u_admin")
    page.goto(f"{base}/console/stations/{site.province.outlet_id}")
    chart = page.locator("#chart-main")
    page.wait_for_selector('#chart-main[data-resolution="hour"]', timeout=15_000)
    assert chart.locator("canvas").count() >= 1
    page.click('button[data-range="3600"]')
    page.wait_for_selector('#chart-main[data-resolution="raw"]', timeout=15_000)
    assert int(chart.get_attribute("data-points") or "0") >= 50
    page.click('button[data-range="31536000"]')
    page.wait_for_selector('#chart-main[data-resolution="day"]', timeout=15_000)


def test_acknowledge_an_alarm(live: tuple[str, Site], page: Any) -> None:
    base, site = live
    _login(page, base, "u_reviewer")
    page.click("#n-alarms")
    page.wait_for_url(re.compile(r".*/console/alarms$"))
    aid = site.province.alarm_id
    assert page.locator(f"#alarm-{aid}").get_attribute("data-state") == "new"
    page.click(f"#alarm-{aid} a")
    page.fill("#note-acknowledge", "已签收，安排现场核查")
    page.click("#do-acknowledge")
    page.wait_for_selector("#do-verify")
    assert page.locator("#alarm-state").inner_text() == "acknowledged"
    assert "已签收，安排现场核查" in page.locator("table.grid").inner_text()


def test_raw_frame_is_shown_as_text_not_markup(live: tuple[str, Site], page: Any) -> None:
    base, site = live
    _login(page, base, "u_enforcement_officer")
    page.goto(f"{base}/console/frames/{site.province.quarantined_frame_id}")
    assert "<script>alert(1)</script>" in page.locator("#raw-text").inner_text()
    assert page.locator("#proof").is_visible()


def test_public_aqi_page_map_and_language_switch(live: tuple[str, Site], page: Any) -> None:
    base, _ = live
    page.goto(f"{base}/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.wait_for_selector('#air-map[data-ready="true"]', timeout=15_000)
    table = page.locator("#aqi-table")
    assert "蠡园站" in table.inner_text()
    assert re.search(r"\b\d{2,3}\b", page.locator("#aqi-table .aqi-badge").first.inner_text())
    page.click("#lang-en")
    page.wait_for_selector('html[lang="en"]')
    assert "Air quality now" in page.locator("h1").inner_text()
    page.goto(f"{base}/ledger")
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("#lang-zh")
    page.wait_for_selector('html[lang="zh-CN"]')


def test_enterprise_user_is_kept_to_its_outlets(live: tuple[str, Site], page: Any) -> None:
    base, site = live
    _login(page, base, "u_enterprise")
    text = page.locator("#live").inner_text()
    assert "OUT0000000000001" in text
    assert "OUT0000000000002" not in text
    other = page.request.get(f"{base}/console/stations/{site.province.other_outlet_id}")
    assert other.status == 404
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/$"))
    assert page.locator("#login-link").is_visible()
