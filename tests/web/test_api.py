"""The JSON API and the pages on real SQLite and PostgreSQL: sessions, CSRF, the error envelope,
enterprise scoping, charts, frames and proofs, registry, export, open data."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from tests.web.conftest import Site
from tests.web.seed import HOURS, PASSWORD, STATION_PW

from envtrace.store.ledger_tables import ledger_leaf
from envtrace.store.registry import station


def test_login_me_logout_and_cookie_flags(site: Site) -> None:
    client = site.client()
    r = client.post("/api/v1/auth/login", json={"username": "u_admin", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie
    token = r.json()["csrf_token"]
    assert client.get("/api/v1/auth/me").json()["user"]["role"] == "admin"
    assert client.post("/api/v1/auth/logout").status_code == 403  # no CSRF token
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token}).status_code == 200
    client.cookies.clear()
    assert client.get("/api/v1/auth/me").status_code == 401


def test_wrong_password_gives_envelope_and_lockout(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    for _ in range(5):
        r = client.post(
            "/api/v1/auth/login", json={"username": "u_reviewer", "password": "wrong-wrong-wrong"}
        )
        assert r.status_code == 401
        assert r.json() == {
            "ok": False,
            "error": {
                "code": "not_authenticated",
                "message": "wrong user name or password, or account locked",
            },
            "status": 401,
        }
    r = client.post("/api/v1/auth/login", json={"username": "u_reviewer", "password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "locked_out"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/nowhere", 404, "not_found"),
        ("/api/v1/stations", 401, "not_authenticated"),
        ("/api/v1/public/readings?station=x", 422, "invalid_request"),
    ],
)
def test_one_error_envelope(sqlite_site: Site, path: str, status: int, code: str) -> None:
    r = sqlite_site.client().get(path)
    assert r.status_code == status
    body = r.json()
    assert body["ok"] is False
    assert body["status"] == status
    assert body["error"]["code"] == code


def test_pages_redirect_to_login_and_back(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    r = client.get("/console/stations", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/console/stations"
    form = client.get("/login?next=/console/stations")
    token = client.cookies.get("envtrace_csrf")
    assert token
    assert token in form.text
    r = client.post(
        "/login",
        data={
            "username": "u_admin",
            "password": PASSWORD,
            "csrf_token": "forged",
            "next": "/console/stations",
        },
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = client.post(
        "/login",
        data={"username": "u_admin", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/console"


def test_security_headers(sqlite_site: Site) -> None:
    r = sqlite_site.client().get("/")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_enterprise_sees_only_its_outlets(site: Site) -> None:
    p = site.province
    client, _ = site.login("enterprise")
    ids = {s["id"] for s in client.get("/api/v1/stations").json()["data"]}
    assert ids == {p.outlet_id}
    assert client.get(f"/api/v1/stations/{p.other_outlet_id}").status_code == 404
    assert client.get(f"/api/v1/stations/{p.other_outlet_id}/series?parameter=a21026").status_code == 404
    assert client.get(f"/api/v1/frames/{p.other_frame_id}").status_code == 404
    assert client.get(f"/api/v1/frames/{p.frame_id}").status_code == 200
    frames = client.get("/api/v1/frames").json()["data"]
    assert frames
    assert all(f["station_id"] == p.outlet_id for f in frames)
    assert [e["id"] for e in client.get("/api/v1/enterprises").json()["data"]] == [p.enterprise_id]
    overview = client.get("/api/v1/overview").json()
    assert overview["stations"] == 1
    text = client.get(f"/api/v1/export/readings.csv?station={p.other_outlet_id}&station={p.outlet_id}").text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows
    assert {r["station_id"] for r in rows} == {str(p.outlet_id)}
    assert client.get("/api/v1/quarantine").status_code == 403


def test_series_resolutions(site: Site) -> None:
    p = site.province
    client, _ = site.login("monitoring_staff")
    base = f"/api/v1/stations/{p.outlet_id}/series?parameter=a21026"
    raw = client.get(f"{base}&start={p.t_end - 7200}&end={p.t_end}").json()
    assert raw["resolution"] == "raw"
    assert raw["granularity"] == "min"
    assert len(raw["ts"]) == 120
    assert raw["zs"][0] == pytest.approx(25.0)  # the station's own ZsAvg of the minute
    assert set(raw["flag"]) == {"N"}
    amb = f"/api/v1/stations/{p.ambient_ids[0]}/series?parameter=a34004&resolution=raw"
    assert "D" in client.get(f"{amb}&start={p.t0}&end={p.t_end}").json()["flag"]
    hour = client.get(f"{base}&start={p.t_end - 30 * 86400}&end={p.t_end}").json()
    assert hour["resolution"] == "hour"
    assert len(hour["ts"]) == HOURS
    assert sum(hour["n"]) == HOURS * 60
    day = client.get(f"{base}&start={p.t_end - 365 * 86400}&end={p.t_end}").json()
    assert day["resolution"] == "day"
    assert sum(day["n"]) == HOURS * 60
    assert client.get(f"{base}&start=10&end=5").json()["error"]["code"] == "bad_request"


def test_frame_detail_shows_bytes_safely_and_proves_inclusion(site: Site) -> None:
    p = site.province
    client, _ = site.login("admin")
    d = client.get(f"/api/v1/frames/{p.quarantined_frame_id}").json()
    assert "\\x00" in d["raw_text"]
    assert "\\xff" in d["raw_text"]
    assert d["quarantine_kind"] == "crc"
    assert d["proof"]["verified"] is True
    page = client.get(f"/console/frames/{p.quarantined_frame_id}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert client.get(f"/api/v1/frames/{p.frame_id}/raw").content.startswith(b"##")
    assert client.get(f"/api/v1/frames/{p.frame_id}").json()["readings"]


def test_registry_approve_seals_a_ledger_leaf(site: Site) -> None:
    p = site.province
    client, token = site.login("monitoring_staff")
    h = {"X-CSRF-Token": token}
    assert client.post(f"/api/v1/stations/{p.pending_id}/approve", headers=h).status_code == 200
    assert client.post(f"/api/v1/stations/{p.pending_id}/approve", headers=h).status_code == 404
    with site.engine.connect() as conn:
        assert conn.execute(select(station.c.approved_by).where(station.c.id == p.pending_id)).scalar() == (
            "u_monitoring_staff"
        )
        kinds = list(conn.execute(select(ledger_leaf.c.kind)).scalars())
    assert kinds[-1] == "station_approval"
    r = client.post("/api/v1/enterprises", json={"code": "X1", "name": "新厂"}, headers=h)
    assert r.status_code == 201
    assert (
        client.post("/api/v1/enterprises", json={"code": "X1", "name": "dup"}, headers=h).status_code == 409
    )
    r = client.post("/api/v1/points", json={"code": "P9", "name": "点", "kind": "water"}, headers=h)
    assert r.status_code == 201
    point = r.json()["id"]
    r = client.patch(f"/api/v1/stations/{p.pending_id}", json={"name": "新站", "point_id": point}, headers=h)
    assert r.status_code == 200
    assert r.json()["point_id"] == point
    viewer, vtoken = site.login("lab_analyst")
    assert (
        viewer.post(f"/api/v1/stations/{p.pending_id}/approve", headers={"X-CSRF-Token": vtoken}).status_code
        == 403
    )


def test_console_forms_need_csrf(site: Site) -> None:
    client, token = site.login("admin")
    data = {"code": "F1", "name": "表单企业"}
    assert client.post("/console/registry/enterprises", data=data, follow_redirects=False).status_code == 403
    r = client.post(
        "/console/registry/enterprises", data={**data, "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "表单企业" in client.get("/console/registry").text


def test_admin_manages_users(site: Site) -> None:
    client, token = site.login("admin")
    h = {"X-CSRF-Token": token}
    r = client.post("/api/v1/users", json={"username": "newbie", "role": "reviewer"}, headers=h)
    assert r.status_code == 201
    password = r.json()["password"]
    other = site.client()
    assert (
        other.post("/api/v1/auth/login", json={"username": "newbie", "password": password}).status_code == 200
    )
    assert client.post("/api/v1/users/newbie/lock", headers=h).json()["locked"] is True
    assert other.get("/api/v1/auth/me").status_code == 401  # locking ends the session
    assert client.post("/api/v1/users/ghost/lock", headers=h).status_code == 404
    logins = client.get("/api/v1/audit/logins").json()["data"]
    assert any(a["username"] == "newbie" and a["ok"] for a in logins)


def test_export_xlsx(site: Site) -> None:
    p = site.province
    client, _ = site.login("reviewer")
    window = f"start={p.t_end - 3600}&end={p.t_end}"
    r = client.get(f"/api/v1/export/readings.xlsx?station={p.outlet_id}&granularity=min&{window}")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "station_id"
    assert len(rows) == 1 + 2 * 60  # SO2 and O2, every minute of the last hour


def test_open_data_cursor_pagination(site: Site) -> None:
    p = site.province
    client = site.client()
    seen = []
    url = (
        f"/api/v1/public/readings?station={p.ambient_ids[0]}&granularity=min&limit=100"
        f"&start={p.t_end - 86400}"
    )
    cursor = None
    while True:
        page = client.get(url + (f"&cursor={cursor}" if cursor else "")).json()
        seen.extend((r["parameter"], r["data_ts"]) for r in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6 * HOURS * 60
    r = client.get(url + "&format=csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-next-cursor"]
    # a non-public station (an ordinary enterprise's outlet) gives nothing
    assert (
        client.get(f"/api/v1/public/readings?station={p.other_outlet_id}&granularity=min").json()["count"]
        == 0
    )
    assert client.get("/api/v1/public/readings?station=1&cursor=bm9wZQ").status_code == 400


def test_public_air_and_enterprises(site: Site) -> None:
    client = site.client()
    air = client.get("/api/v1/public/air/current").json()
    assert air["count"] == 2
    wuxi = next(s for s in air["data"] if s["name"] == "蠡园站")
    assert wuxi["aqi"] is not None
    assert wuxi["primary"] == ["PM2.5"]
    assert wuxi["aqi_source"] == "rollup"
    assert air["provisional"] == 0
    ents = client.get("/api/v1/public/enterprises").json()["data"]
    assert [e["name"] for e in ents] == ["金陵热电有限公司"]
    assert "蠡园站" in client.get("/").text


def test_alarm_inbox_and_acknowledge(site: Site) -> None:
    p = site.province
    client, token = site.login("monitoring_staff")
    inbox = client.get("/api/v1/alarms").json()["data"]
    assert {a["id"] for a in inbox} == {p.alarm_id, p.exceedance_alarm_id, p.qc_alarm_id, p.other_alarm_id}
    assert {a["state"] for a in inbox} == {"new"}
    signatory, stoken = site.login("signatory")
    r = signatory.post(f"/api/v1/alarms/{p.alarm_id}/acknowledge", json={}, headers={"X-CSRF-Token": stoken})
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/alarms/{p.alarm_id}/acknowledge", json={"note": "ok"}, headers={"X-CSRF-Token": token}
    )
    assert r.json()["state"] == "acknowledged"
    r = client.post(f"/api/v1/alarms/{p.alarm_id}/acknowledge", json={}, headers={"X-CSRF-Token": token})
    assert r.status_code == 409
    detail = client.get(f"/api/v1/alarms/{p.alarm_id}").json()
    assert [e["action"] for e in detail["events"]] == ["open", "acknowledge"]
    # a suspected-fraud alarm stays hidden from the enterprise until verification starts; its
    # outlet's exceedance is visible to it
    enterprise, _ = site.login("enterprise")
    assert [a["id"] for a in enterprise.get("/api/v1/alarms").json()["data"]] == [p.exceedance_alarm_id]
    assert enterprise.get(f"/api/v1/alarms/{p.alarm_id}").status_code == 404


def test_frame_views_mask_the_station_password_and_raw_bytes_need_an_evidence_role(site: Site) -> None:
    from envtrace.web.evidence import mask_password

    p = site.province
    client, _ = site.login("monitoring_staff")
    exact = client.get(f"/api/v1/frames/{p.frame_id}/raw").content
    assert f"PW={STATION_PW};".encode() in exact
    d = client.get(f"/api/v1/frames/{p.frame_id}").json()
    assert f"PW={STATION_PW}" not in d["raw_text"]
    assert "PW=" + "*" * len(STATION_PW) + ";" in d["raw_text"]
    assert bytes.fromhex(d["raw_hex"]) == mask_password(exact)
    assert d["raw_sha256"] == hashlib.sha256(exact).hexdigest()
    assert d["decoded"]["header"]["PW"] == "******"
    page = site.login("lab_analyst")[0].get(f"/console/frames/{p.frame_id}").text
    assert f"PW={STATION_PW};" not in page
    assert site.login("lab_analyst")[0].get(f"/api/v1/frames/{p.frame_id}/raw").status_code == 403
    # the mask keeps the length and touches only the header's PW, not a CP value named like it
    frame = b"##0060QN=1;ST=22;CN=2011;PW=123456;MN=M1;Flag=5;CP=&&xPW=9;a=1&&ABCD\r\n"
    masked = mask_password(frame)
    assert len(masked) == len(frame)
    assert b"PW=******;" in masked
    assert b"xPW=9" in masked
