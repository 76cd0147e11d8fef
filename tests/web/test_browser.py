"""Real Chromium (Debian's /usr/bin/chromium driven by Playwright) against a real uvicorn server on
a free port, on a database filled through the store. On failure a screenshot is saved under the
test's tmp path and named in the report (see ``pytest_runtest_makereport`` in conftest.py)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import update
from tests.web.conftest import Site, Template, sqlite_site_in
from tests.web.seed import HOURS, PASSWORD

from envtrace.store.engine import write_transaction
from envtrace.store.frames import station_state
from envtrace.web.templating import vendor_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_evidence.py"
ERROR_PAGE = re.compile(r"Failed to load resource: the server responded with a status of 4(00|03|09)")
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
def live(sqlite_template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    if not vendor_ready():
        pytest.fail("front-end assets are not built: run scripts/build-assets (make assets)")
    site = sqlite_site_in(sqlite_template, tmp_path_factory.mktemp("live"), live_poll_s=1)
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
    if getattr(request.node, "error_pages_expected", False):  # a refused form answers 4xx on purpose
        errors = [e for e in errors if not ERROR_PAGE.search(e)]
    assert errors == [], f"JavaScript errors or CSP violations: {errors}"


@pytest.fixture
def error_pages(request: pytest.FixtureRequest) -> None:
    """The test submits a form the server refuses (an error page with a 4xx status, which Chromium
    logs as a failed resource): only those messages are allowed."""
    request.node.error_pages_expected = True


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
    page.goto(f"{base}/console/stations/{site.province.outlet_id}?parameter=a21026")
    chart = page.locator("#chart-main")
    page.wait_for_selector('#chart-main[data-resolution="hour"]', timeout=15_000)
    assert chart.locator("canvas").count() >= 1
    assert int(chart.get_attribute("data-judged") or "0") == HOURS
    assert int(chart.get_attribute("data-exceedances") or "0") == 1
    page.click('button[data-range="3600"]')
    page.wait_for_selector('#chart-main[data-resolution="raw"]', timeout=15_000)
    assert int(chart.get_attribute("data-points") or "0") >= 1
    page.click('button[data-range="31536000"]')
    page.wait_for_selector('#chart-main[data-resolution="day"]', timeout=15_000)
    assert "排污许可证" in page.locator("#limits").inner_text()
    assert "折算均值" in page.locator("#disagreements").inner_text()


SHOW_TIP = """(name) => {
  const chart = echarts.getInstanceByDom(document.getElementById('chart-main'));
  const index = chart.getOption().series.findIndex((s) => s.name === name);
  chart.dispatchAction({ type: 'showTip', seriesIndex: index, dataIndex: 0 });
  return index;
}"""


def test_station_chart_marks_invalid_hours_with_their_reason(live: tuple[str, Site], page: Any) -> None:
    base, site = live
    _login(page, base, "u_monitoring_staff")
    page.goto(f"{base}/console/stations/{site.province.ambient_ids[0]}?parameter=a34004")
    page.wait_for_selector('#chart-main[data-resolution="hour"]', timeout=15_000)
    chart = page.locator("#chart-main")
    assert chart.get_attribute("data-invalid") == "1"
    assert page.evaluate(SHOW_TIP, "无效时段") >= 0
    page.wait_for_function(
        "document.getElementById('chart-main').innerText.includes('仪器故障')", timeout=5_000
    )
    assert "有效分钟" in chart.inner_text()
    page.click("#lang-en")
    page.wait_for_selector('#chart-main[data-resolution="hour"]', timeout=15_000)
    page.evaluate(SHOW_TIP, "Invalid period")
    page.wait_for_function(
        "document.getElementById('chart-main').innerText.includes('instrument fault')", timeout=5_000
    )
    page.click("#lang-zh")


def test_acknowledge_an_alarm(live: tuple[str, Site], page: Any) -> None:
    base, site = live
    _login(page, base, "u_reviewer")
    page.click("#n-alarms")
    page.wait_for_url(re.compile(r".*/console/alarms$"))
    aid = site.province.alarm_id
    assert page.locator(f"#alarm-{aid}").get_attribute("data-state") == "new"
    page.click(f"#alarm-{aid} a")
    page.wait_for_selector("#evidence-plot-0[data-ready='true']", timeout=15_000)
    page.fill("#note-acknowledge", "已签收，安排现场核查")
    page.click("#do-acknowledge")
    page.wait_for_selector("#do-verify")
    assert page.locator("#alarm-state").get_attribute("data-state") == "acknowledged"
    assert "已签收，安排现场核查" in page.locator("#alarm-history").inner_text()


def _work_to_verification(page: Any) -> None:
    page.wait_for_selector("#evidence-plot-0[data-ready='true']", timeout=15_000)
    assert page.locator("#evidence-plot-0 canvas").count() >= 1
    page.click("#do-acknowledge")
    page.wait_for_selector("#do-verify")
    page.fill("#note-verify", "现场核查：调取 DCS 历史曲线")
    page.fill("#refs-verify", "核查记录 2026-118")
    page.click("#do-verify")
    page.wait_for_selector('#alarm-state[data-state="under_verification"]')


def test_enforcement_officer_confirms_an_exceedance(live: tuple[str, Site], page: Any) -> None:
    base, site = live
    aid = site.province.exceedance_alarm_id
    _login(page, base, "u_enforcement_officer")
    page.goto(f"{base}/console/alarms")
    page.select_option("#a-kind", "exceedance")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r".*kind=exceedance.*"))
    page.click(f"#alarm-{aid} a")
    assert "超过限值" in page.locator(".evidence").first.inner_text()
    _work_to_verification(page)
    assert page.locator("#do-dismiss").is_visible()
    page.select_option("#enforcement-type", "administrative_penalty")
    page.fill("#enforcement-ref", "苏环罚〔2026〕12号")
    page.click("#do-confirm")
    page.wait_for_selector('#alarm-state[data-state="confirmed"]')
    assert "苏环罚〔2026〕12号" in page.locator("#alarm-enforcement").inner_text()
    assert page.locator("#do-confirm").count() == 0
    assert page.locator("#do-reopen").is_visible()  # the officer may reopen a closed alarm


def test_reviewer_dismisses_a_suspected_fraud(live: tuple[str, Site], page: Any, error_pages: None) -> None:
    base, site = live
    aid = site.province.other_alarm_id
    _login(page, base, "u_reviewer")
    page.goto(f"{base}/console/alarms/{aid}")
    assert "二氧化硫" in page.locator(".evidence").first.inner_text()
    _work_to_verification(page)
    page.select_option("#reason-code", "process_condition")
    page.fill("#reason-text", "工况")  # too short an explanation: refused, and said why
    page.click("#do-dismiss")
    page.wait_for_selector("#alarm-error")
    assert page.locator('#alarm-state[data-state="under_verification"]').count() == 1
    assert page.locator("#reason-code").input_value() == "process_condition"  # the input is kept
    page.fill("#reason-text", "检修后低负荷运行，工况记录与曲线一致")
    page.click("#do-dismiss")
    page.wait_for_selector('#alarm-state[data-state="dismissed"]')
    assert "启停炉等工况所致" in page.locator("#alarm-dismissed").inner_text()


def test_raw_frame_is_shown_as_text_not_markup(live: tuple[str, Site], page: Any) -> None:
    base, site = live
    _login(page, base, "u_enforcement_officer")
    page.goto(f"{base}/console/frames/{site.province.quarantined_frame_id}")
    assert "<script>alert(1)</script>" in page.locator("#raw-text").inner_text()
    assert page.locator("#proof").is_visible()
    assert page.locator("#decoded").get_attribute("data-ok") == "false"
    assert page.locator("#decode-error").is_visible()


def test_download_an_evidence_bundle_and_verify_it_offline(
    live: tuple[str, Site], page: Any, tmp_path: Path
) -> None:
    base, site = live
    _login(page, base, "u_enforcement_officer")
    page.goto(f"{base}/console/frames/{site.province.frame_id}")
    assert page.locator("#decoded").get_attribute("data-ok") == "true"
    assert "OUT0000000000001" in page.locator("#decoded-header").inner_text()
    with page.expect_download() as info:
        page.click("#evidence-download")
    bundle = tmp_path / info.value.suggested_filename
    info.value.save_as(bundle)
    keys = page.request.get(f"{base}/api/v1/ledger/keys").json()["data"]
    vkey = tmp_path / "department.vkey"
    vkey.write_text(keys[0]["vkey"] + "\n")
    done = subprocess.run(
        [sys.executable, str(TOOL), str(bundle), "--pubkey", str(vkey)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "VALID"
    page.goto(f"{base}/console/frames/{site.province.uncovered_frame_id}")
    assert page.locator("#evidence-pending").is_visible()


def test_public_aqi_page_map_and_language_switch(live: tuple[str, Site], page: Any) -> None:
    base, site = live
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
    rows = page.locator("#checkpoints tbody tr")
    assert rows.count() == 2
    assert rows.first.get_attribute("data-consistent") == "ok"
    assert "extends the first" in rows.first.inner_text()
    assert rows.nth(1).get_attribute("data-signature") == "ok"
    page.click("#lang-zh")
    page.wait_for_selector('html[lang="zh-CN"]')
    page.goto(f"{base}/")
    page.wait_for_selector('#air-map[data-ready="true"]', timeout=15_000)
    assert "轻度污染" in page.locator("#city-table").inner_text()
    page.click(f'#aqi-table a[href="/air/stations/{site.province.ambient_ids[1]}"]')
    page.wait_for_selector("#aqi-chart[data-points]", timeout=15_000)
    assert int(page.locator("#aqi-chart").get_attribute("data-points") or "0") == HOURS


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
