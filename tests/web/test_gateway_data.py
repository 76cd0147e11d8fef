"""The console on a database the real gateway filled (``envtrace serve`` receiving ``envtrace
simulate`` traffic: HJ 212-2017 and SM4-encrypted HJ 212-2025 stations, faults, split packets;
built once per session by ``tests/evidence/builder.py``): encrypted frames decoded again with the
station's key, evidence bundles of every kind of frame verified offline, the published checkpoints
checked and linked."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.evidence.builder import BUNDLE_FRAMES, Built, cached, copy_sqlite, frame_of, sqlite_url

from envtrace.accounts import Policy, create_user, open_session
from envtrace.config import Settings
from envtrace.store.engine import connect, write_transaction
from envtrace.store.ledger_log import forget_cache
from envtrace.web.app import create_app
from envtrace.web.context import SESSION_COOKIE
from envtrace.web.options import WebOptions

pytestmark = pytest.mark.slow
TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_evidence.py"


@pytest.fixture(scope="module")
def gateway_db(tmp_path_factory: pytest.TempPathFactory) -> Built:
    built = cached(tmp_path_factory.getbasetemp(), "sqlite", sqlite_url)
    return copy_sqlite(built, tmp_path_factory.mktemp("gateway-web"))


@pytest.fixture(scope="module")
def officer(gateway_db: Built) -> Iterator[TestClient]:
    forget_cache()
    engine = connect(gateway_db.url)
    app = create_app(
        Settings(db_url=gateway_db.url, state_dir=gateway_db.state_dir),
        options=WebOptions(rollup_interval_s=0),
        engine=engine,
    )
    with write_transaction(engine) as conn:
        user, _ = create_user(conn, username="officer", role="enforcement_officer", now_ts=0)
        session = open_session(conn, user, now_ts=int(time.time()), policy=Policy())
    client = TestClient(app, raise_server_exceptions=False)
    client.cookies.set(SESSION_COOKIE, session.token)
    yield client
    engine.dispose()


def test_encrypted_frame_is_decrypted_with_the_registered_key(gateway_db: Built, officer: TestClient) -> None:
    fid = frame_of(gateway_db, BUNDLE_FRAMES["sm4"])
    d = officer.get(f"/api/v1/frames/{fid}").json()
    assert d["wire"] != "plain"
    dec = d["decoded"]
    assert dec["ok"] is True
    assert dec["decrypted"] is True
    assert dec["edition"] == "2025"
    assert dec["items"]
    assert dec["header"]["PW"] == "******"
    page = officer.get(f"/console/frames/{fid}").text
    assert 'id="decoded" data-ok="true"' in page


@pytest.mark.parametrize("kind", sorted(BUNDLE_FRAMES))
def test_every_kind_of_frame_exports_a_bundle_that_verifies(
    gateway_db: Built, officer: TestClient, tmp_path: Path, kind: str
) -> None:
    fid = frame_of(gateway_db, BUNDLE_FRAMES[kind])
    r = officer.get(f"/api/v1/frames/{fid}/evidence")
    assert r.status_code == 200, r.text
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(r.content)
    keys = officer.get("/api/v1/ledger/keys").json()["data"]
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


def test_published_checkpoints_are_checked_and_linked(officer: TestClient) -> None:
    cps = officer.get("/api/v1/ledger/checkpoints").json()
    assert cps["count"] >= 2
    assert all(c["signature_ok"] for c in cps["data"])
    assert all(c["previous"]["consistent"] for c in cps["data"][:-1])
    witness = officer.get("/api/v1/ledger/checkpoints.txt").text
    assert all(c["note"] in witness for c in cps["data"])
