"""The web connected to the roll-up, the evidence ledger, the alarms service and the codec, on
SQLite and PostgreSQL, with data produced by the real roll-up job and the real alarms service
(``tests/web/seed.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text
from tests.web.conftest import Site
from tests.web.seed import (
    AMBIENT,
    EXCEED_HOUR,
    FORGED_HOUR,
    HOURS,
    INVALID_HOUR,
    PERMIT_LIMIT,
    STATION_PW,
    Sealer,
    upload,
)

from envtrace.alarms import raise_alarms
from envtrace.detect import Evidence, PlotSeries
from envtrace.hj212 import Station
from envtrace.ledger import inclusion_proof  # noqa: F401  (the proof format the tool checks)
from envtrace.standards import Reason
from envtrace.store import register_station, rollups, verify_password
from envtrace.store.engine import write_transaction
from envtrace.store.registry import station, station_parameter

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_evidence.py"


# --- judged values, limits, exceedances, disagreements ---------------------------------------------


def test_judged_values_carry_validity_reasons_limits_and_facts(site: Site) -> None:
    p = site.province
    client, _ = site.login("monitoring_staff")
    amb = client.get(
        f"/api/v1/stations/{p.ambient_ids[0]}/judged?parameter=a34004&start={p.t0}&end={p.t_end}"
    ).json()
    assert amb["ts"] == [p.t0 + 3600 * h for h in range(HOURS)]
    assert amb["valid"][INVALID_HOUR] is False
    assert sum(amb["valid"]) == HOURS - 1
    code = str(amb["reason"][INVALID_HOUR])
    assert int(code) == Reason.FAULT
    assert amb["reasons"][code] == {"zh": "仪器故障（D）", "en": "instrument fault (flag D)"}

    out = client.get(
        f"/api/v1/stations/{p.outlet_id}/judged?parameter=a21026&start={p.t0}&end={p.t_end}"
    ).json()
    assert out["limit"]["value"] == pytest.approx(PERMIT_LIMIT)
    assert out["limit"]["scope"] == "permit"
    assert out["limit"]["o2_ref_pct"] == 6.0
    assert [e["period_ts"] for e in out["exceedances"]] == [p.t0 + EXCEED_HOUR * 3600]
    assert out["exceedances"][0]["value"] == pytest.approx(75.0)
    assert out["exceedances"][0]["basis"] == "corrected"
    (d,) = out["disagreements"]
    assert d["period_ts"] == p.t0 + FORGED_HOUR * 3600
    assert d["field"] == "zs_avg"
    assert d["station_value"] < d["platform_value"]
    # the platform's corrected value beside the station's own
    assert out["zs"][FORGED_HOUR] == pytest.approx(2 * out["station_zs"][FORGED_HOUR], rel=1e-3)
    assert out["zs"][0] == pytest.approx(out["station_zs"][0], abs=1e-3)

    days = f"granularity=day&start={p.t0 - 86400}&end={p.t_end}"
    day = client.get(f"/api/v1/stations/{p.outlet_id}/judged?parameter=a21026&{days}").json()
    assert day["granularity"] == "day"
    assert day["valid"] == [False] * len(day["ts"])
    assert str(Reason.INSUFFICIENT_HOURS.value) in day["reasons"]

    bad = client.get(f"/api/v1/stations/{p.outlet_id}/judged?parameter=a21026&start=10&end=5")
    assert bad.status_code == 400
    too_long = client.get(f"/api/v1/stations/{p.outlet_id}/judged?parameter=a21026&start=0&end={p.t_end}")
    assert too_long.status_code == 400
    enterprise, _ = site.login("enterprise")
    assert enterprise.get(f"/api/v1/stations/{p.other_outlet_id}/judged?parameter=a21026").status_code == 404
    assert enterprise.get(f"/api/v1/stations/{p.outlet_id}/judged?parameter=a21026").status_code == 200


def test_station_page_lists_limits_exceedances_and_disagreements(site: Site) -> None:
    p = site.province
    client, _ = site.login("enforcement_officer")
    page = client.get(f"/console/stations/{p.outlet_id}?parameter=a21026").text
    assert 'data-judged-url="/api/v1/stations/' in page
    assert "排污许可证 91320100MA1-001" in page
    assert 'id="exceedances"' in page
    assert 'data-field="zs_avg"' in page
    ambient = client.get(f"/console/stations/{p.ambient_ids[1]}").text
    assert 'id="station-aqi"' in ambient
    assert "轻度污染" in ambient


# --- AQI -------------------------------------------------------------------------------------------


def test_station_aqi_endpoint_from_the_rollup(site: Site) -> None:
    p = site.province
    client, _ = site.login("reviewer")
    wuxi = p.ambient_ids[1]
    (newest,) = client.get(f"/api/v1/stations/{wuxi}/aqi").json()["data"]
    assert newest["period_ts"] == p.t_end - 3600
    assert newest["edition"] == "HJ 633-2026"
    assert newest["level"] == 3
    assert (newest["category_zh"], newest["category_en"], newest["colour"]) == (
        "轻度污染",
        "lightly polluted",
        "#ff7e00",
    )
    assert newest["primary"] == ["PM2.5"]
    assert newest["inputs"]["PM2.5_1h"] > 75
    hist = client.get(f"/api/v1/stations/{wuxi}/aqi?from={p.t0}&to={p.t_end}&granularity=hour").json()
    assert [a["period_ts"] for a in hist["data"]] == [p.t0 + 3600 * h for h in range(HOURS)]
    assert client.get(f"/api/v1/stations/{wuxi}/aqi?from=10&to=5").status_code == 400
    assert client.get(f"/api/v1/stations/{wuxi}/aqi?granularity=week").status_code == 422
    enterprise, _ = site.login("enterprise")
    assert enterprise.get(f"/api/v1/stations/{wuxi}/aqi").status_code == 404
    public = site.client()
    assert public.get(f"/api/v1/stations/{wuxi}/aqi").status_code == 401
    assert public.get(f"/api/v1/public/stations/{wuxi}/aqi?from={p.t0}&to={p.t_end}").json()["count"] == HOURS
    assert public.get(f"/api/v1/public/stations/{p.outlet_id}/aqi").status_code == 404
    cities = public.get("/api/v1/public/air/cities").json()["data"]
    assert {c["city"]: c["level"] for c in cities} == {"南京市": 2, "无锡市": 3}
    assert public.get("/api/v1/public/cities/无锡市/aqi").json()["data"][0]["stations"] == [wuxi]


def test_public_aqi_page_uses_the_rollup_and_says_when_provisional(site: Site) -> None:
    p = site.province
    client = site.client()
    home = client.get("/").text
    assert 'id="aqi-provisional"' not in home
    assert 'data-city="无锡市"' in home
    # a new ambient station that the roll-up has not reached: provisional, and the page says so
    with write_transaction(site.engine) as conn:
        point = conn.execute(select(station.c.point_id).where(station.c.id == p.ambient_ids[0])).scalar()
        sid = register_station(
            conn, mn="AMB0000000000003", pw=STATION_PW, kind="ambient", name="新站", point_id=point
        )
        conn.execute(
            station_parameter.insert(),
            [{"station_id": sid, "parameter": c, "unit": u} for c, (u, _) in AMBIENT.items()],
        )
        sealer = Sealer(conn)
        st = Station(mn="AMB0000000000003", pw=STATION_PW, st="22")
        values = {c: (b, "N", None) for c, (_, b) in AMBIENT.items()}
        for i in range(60):
            upload(sealer, st, sid, 2051, p.t_end - 3600 + 60 * i, values)
        rollups.refresh(conn)
    air = client.get("/api/v1/public/air/current").json()
    new = next(s for s in air["data"] if s["id"] == sid)
    assert new["aqi_source"] == "provisional"
    assert new["aqi"] is not None
    assert air["provisional"] == 1
    assert 'id="aqi-provisional"' in client.get("/").text
    page = client.get(f"/air/stations/{p.ambient_ids[1]}").text
    assert f'data-aqi-url="/api/v1/public/stations/{p.ambient_ids[1]}/aqi"' in page


# --- key enterprises against their limits ------------------------------------------------------------


def test_key_enterprises_against_limits(site: Site) -> None:
    p = site.province
    data = site.client().get("/api/v1/public/enterprises").json()
    (ent,) = data["data"]
    assert ent["id"] == p.enterprise_id
    (outlet,) = ent["outlets"]
    (so2,) = outlet["values"]
    assert so2["parameter"] == "a21026"
    assert so2["basis"] == "corrected"
    assert so2["limit"]["value"] == pytest.approx(PERMIT_LIMIT)
    assert so2["ratio"] == pytest.approx(so2["value"] / PERMIT_LIMIT)
    assert so2["valid_hours"] == HOURS
    assert (so2["exceedances_24h"], so2["exceedances_30d"]) == (1, 1)
    assert ent["exceedances_24h"] == 1
    page = site.client().get("/enterprises").text
    assert f'id="outlet-{p.outlet_id}"' in page
    assert "outlet-chart" in page
    enterprise, _ = site.login("enterprise")
    console = enterprise.get("/console/enterprises").text
    assert "金陵热电有限公司" in console
    assert "太湖化工有限公司" not in console


# --- overview ------------------------------------------------------------------------------------


def test_overview_tells_the_state_of_the_province(site: Site) -> None:
    client, _ = site.login("monitoring_staff")
    o = client.get("/api/v1/overview").json()
    assert o["effective_basis"] == "judged"
    assert 0 < o["effective_rate"] <= 1
    assert o["alarms"]["open"] == 4
    assert {s["severity"]: s["open"] for s in o["alarms"]["by_severity"]} == {
        "critical": 3,
        "major": 0,
        "minor": 1,
    }
    assert o["alarms"]["overdue"] == 0
    assert o["quarantined_window"] == 1
    assert o["frames_window"] >= HOURS * 60 * 4
    assert o["checkpoint"]["size"] > 0
    assert 0 <= o["checkpoint"]["age_s"] < 3600
    page = client.get("/console").text
    for marker in (
        'id="n-effective" data-basis="judged"',
        'id="alarm-severity"',
        'id="n-checkpoint"',
        'id="n-quarantine24"',
    ):
        assert marker in page
    enterprise, _ = site.login("enterprise")
    assert enterprise.get("/api/v1/overview").json()["alarms"]["open"] == 1


# --- ledger --------------------------------------------------------------------------------------


def test_ledger_api_checkpoints_keys_and_proofs(site: Site) -> None:
    client = site.client()
    cps = client.get("/api/v1/ledger/checkpoints").json()
    assert cps["count"] == 2
    newest, oldest = cps["data"]
    assert cps["latest"]["id"] == newest["id"]
    assert newest["signature_ok"]
    assert oldest["signature_ok"]
    assert newest["previous"]["consistent"] is True
    assert newest["previous"]["previous_size"] == oldest["size"]
    assert oldest["previous"] is None
    assert cps["tree_size"] > newest["size"]  # the uncovered frame
    page1 = client.get("/api/v1/ledger/checkpoints?limit=1").json()
    assert page1["data"][0]["previous"]["consistent"] is True  # linked across the page boundary
    assert (
        client.get(f"/api/v1/ledger/checkpoints?limit=1&cursor={page1['next_cursor']}").json()["data"][0][
            "id"
        ]
        == oldest["id"]
    )

    text = client.get("/api/v1/ledger/checkpoints.txt")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text.count("\n\n") == 4
    assert newest["note"] in text.text
    (key,) = client.get("/api/v1/ledger/keys").json()["data"]
    assert key["active"]
    assert key["vkey"].startswith(key["name"] + "+")

    proof = client.get("/api/v1/ledger/proof/inclusion?leaf=0").json()
    assert proof["tree_size"] == newest["size"]
    assert proof["checkpoint"] == newest["note"]
    assert (
        client.get(f"/api/v1/ledger/proof/inclusion?leaf=0&size={oldest['size']}").json()["root"]
        == oldest["root_hex"]
    )
    assert client.get(f"/api/v1/ledger/proof/inclusion?leaf={cps['tree_size']}").status_code == 404
    assert client.get("/api/v1/ledger/proof/inclusion?leaf=5&size=5").status_code == 400
    c = client.get(f"/api/v1/ledger/proof/consistency?from={oldest['size']}&to={newest['size']}").json()
    assert (c["root1"], c["root2"]) == (oldest["root_hex"], newest["root_hex"])
    assert client.get("/api/v1/ledger/proof/consistency?from=5&to=4").status_code == 400
    page = client.get("/ledger").text
    assert f'id="checkpoint-{newest["id"]}" data-signature="ok" data-consistent="ok"' in page


def test_evidence_bundle_download_verifies_offline(site: Site, tmp_path: Path) -> None:
    p = site.province
    client, _ = site.login("enforcement_officer")
    detail = client.get(f"/api/v1/frames/{p.frame_id}").json()
    assert detail["evidence_ready"] is True
    r = client.get(f"/api/v1/frames/{p.frame_id}/evidence")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="evidence-frame-{p.frame_id}.json"'
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(r.content)
    assert json.loads(r.content)["frame"]["id"] == p.frame_id
    (key,) = site.client().get("/api/v1/ledger/keys").json()["data"]
    vkey = tmp_path / "department.vkey"
    vkey.write_text(key["vkey"] + "\n")
    done = subprocess.run(
        [sys.executable, str(TOOL), str(bundle), "--pubkey", str(vkey)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "VALID"
    # not yet covered by a signed checkpoint: 409 until the next one
    late = client.get(f"/api/v1/frames/{p.uncovered_frame_id}/evidence")
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "not_checkpointed"
    assert client.get(f"/api/v1/frames/{p.uncovered_frame_id}").json()["evidence_ready"] is False
    assert client.get("/api/v1/frames/999999/evidence").status_code == 404
    enterprise, _ = site.login("enterprise")
    assert enterprise.get(f"/api/v1/frames/{p.frame_id}/evidence").status_code == 403


def test_frame_is_decoded_again_beside_its_readings(site: Site) -> None:
    p = site.province
    client, _ = site.login("admin")
    d = client.get(f"/api/v1/frames/{p.frame_id}").json()
    dec = d["decoded"]
    assert dec["ok"] is True
    assert dec["mode"] == "strict"
    assert dec["edition"] == "2017"
    assert dec["header"]["MN"] == "OUT0000000000001"
    assert dec["header"]["PW"] == "******"  # never re-shown in the decoded view
    so2 = next(i for i in dec["items"] if i["code"] == "a21026")
    assert so2["name_en"]
    assert so2["fields"]["Flag"] == "N"
    assert float(so2["fields"]["Avg"]) == next(
        r["value"] for r in d["readings"] if r["parameter"] == "a21026"
    )
    bad = client.get(f"/api/v1/frames/{p.quarantined_frame_id}").json()["decoded"]
    assert bad["ok"] is False
    assert bad["error_kind"] in ("framing", "length", "crc", "syntax")
    page = client.get(f"/console/frames/{p.frame_id}").text
    assert 'id="decoded" data-ok="true"' in page
    assert 'id="evidence-download"' in page
    assert 'id="evidence-pending"' in client.get(f"/console/frames/{p.uncovered_frame_id}").text


# --- alarms ----------------------------------------------------------------------------------------


def _post(client: object, url: str, token: str, body: dict[str, object]) -> object:
    return client.post(url, json=body, headers={"X-CSRF-Token": token})  # type: ignore[attr-defined]


def test_enforcement_officer_works_an_exceedance_to_confirmed(site: Site) -> None:
    p = site.province
    aid = p.exceedance_alarm_id
    client, token = site.login("enforcement_officer")
    a = client.get(f"/api/v1/alarms/{aid}").json()
    assert a["actions"] == ["acknowledge", "assign", "comment"]
    assert a["evidence"][0]["source"] == "exceedance"
    assert a["evidence"][0]["threshold"] == pytest.approx(PERMIT_LIMIT)
    assert (
        _post(client, f"/api/v1/alarms/{aid}/acknowledge", token, {"expected_seq": a["last_seq"]}).json()[
            "state"
        ]
        == "acknowledged"
    )
    r = _post(
        client, f"/api/v1/alarms/{aid}/verify", token, {"note": "现场核查", "refs": ["核查单 2026-118"]}
    )
    assert r.json()["state"] == "under_verification"
    r = _post(
        client, f"/api/v1/alarms/{aid}/confirm", token, {"enforcement_type": "fine", "enforcement_ref": "X"}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_decision")
    r = _post(
        client,
        f"/api/v1/alarms/{aid}/confirm",
        token,
        {"enforcement_type": "case_filed", "enforcement_ref": "苏环罚〔2026〕12号", "expected_seq": 1},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "stale")
    seq = client.get(f"/api/v1/alarms/{aid}").json()["last_seq"]
    r = _post(
        client,
        f"/api/v1/alarms/{aid}/confirm",
        token,
        {"enforcement_type": "case_filed", "enforcement_ref": "苏环罚〔2026〕12号", "expected_seq": seq},
    )
    assert r.status_code == 200
    done = r.json()
    assert (done["state"], done["enforcement_type"], done["enforcement_ref"]) == (
        "confirmed",
        "case_filed",
        "苏环罚〔2026〕12号",
    )
    r = _post(
        client, f"/api/v1/alarms/{aid}/dismiss", token, {"reason_code": "other", "reason": "too late now"}
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "illegal_transition")
    # a discipline inspector reopens it: a new alarm naming the closed one
    inspector, itoken = site.login("discipline_inspector")
    r = _post(inspector, f"/api/v1/alarms/{aid}/reopen", itoken, {"reason": "处罚依据需复核"})
    assert r.status_code == 201
    new = r.json()
    assert new["supersedes_id"] == aid
    assert new["state"] == "new"
    r = _post(inspector, f"/api/v1/alarms/{aid}/reopen", itoken, {"reason": "again"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_superseded")


def test_reviewer_dismisses_and_roles_are_enforced(site: Site) -> None:
    p = site.province
    aid = p.other_alarm_id
    lab, ltoken = site.login("lab_analyst")
    r = _post(lab, f"/api/v1/alarms/{aid}/acknowledge", ltoken, {})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_permitted")  # fraud is not lab's
    reviewer, token = site.login("reviewer")
    for step in ("acknowledge", "verify"):
        assert _post(reviewer, f"/api/v1/alarms/{aid}/{step}", token, {}).status_code == 200
    assert set(reviewer.get(f"/api/v1/alarms/{aid}").json()["actions"]) == {
        "assign",
        "comment",
        "confirm",
        "dismiss",
    }
    r = _post(
        reviewer, f"/api/v1/alarms/{aid}/dismiss", token, {"reason_code": "nonsense", "reason": "xxxx yyyy"}
    )
    assert r.status_code == 400
    r = _post(
        reviewer,
        f"/api/v1/alarms/{aid}/dismiss",
        token,
        {"reason_code": "verified_genuine", "reason": "现场核查数据真实，工况稳定"},
    )
    assert r.json()["state"] == "dismissed"
    assert reviewer.get(f"/api/v1/alarms/{aid}").json()["dismiss_reason"] == "verified_genuine"
    monitoring, mtoken = site.login("monitoring_staff")
    assert "reopen" not in monitoring.get(f"/api/v1/alarms/{aid}").json()["actions"]
    assert _post(monitoring, f"/api/v1/alarms/{aid}/reopen", mtoken, {"reason": "x"}).status_code == 403


def test_assign_filters_evidence_and_overdue(site: Site) -> None:
    p = site.province
    client, token = site.login("monitoring_staff")
    a = client.get(f"/api/v1/alarms/{p.qc_alarm_id}").json()
    assert "lab_analyst" in a["assignable_roles"]
    assert "u_lab_analyst" in {u["username"] for u in a["assignable_users"]}
    r = _post(client, f"/api/v1/alarms/{p.qc_alarm_id}/assign", token, {"to_role": "lab_analyst"})
    assert r.json()["owner_role"] == "lab_analyst"
    assert r.json()["owner_user"] is None
    r = _post(
        client,
        f"/api/v1/alarms/{p.qc_alarm_id}/assign",
        token,
        {"to_user": "u_lab_analyst", "note": "请化验室复核"},
    )
    assert r.json()["owner_user"] == "u_lab_analyst"
    r = _post(client, f"/api/v1/alarms/{p.qc_alarm_id}/assign", token, {"to_user": "ghost"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "unknown_user")
    lab, _ = site.login("lab_analyst")
    assert [x["id"] for x in lab.get("/api/v1/alarms?queue=mine").json()["data"]] == [p.qc_alarm_id]
    ev = client.get(f"/api/v1/alarms/{p.alarm_id}/evidence").json()["data"]
    (fraud,) = ev
    assert (fraud["statistic"], fraud["baseline"], fraud["threshold"]) == (0.02, 1.6, 0.1)
    assert fraud["reason_zh"]
    assert fraud["reason_en"]
    assert len(fraud["plots"][0]["times"]) == 60
    assert [x["id"] for x in client.get("/api/v1/alarms?kind=exceedance").json()["data"]] == [
        p.exceedance_alarm_id
    ]
    assert {x["id"] for x in client.get(f"/api/v1/alarms?station_id={p.outlet_id}").json()["data"]} == {
        p.alarm_id,
        p.exceedance_alarm_id,
    }
    assert client.get("/api/v1/alarms?overdue=true").json()["count"] == 0
    past = int(time.time()) - 3 * 86400
    late = Evidence(
        detector="frozen",
        station="OUT0000000000002",
        parameters=("a21026",),
        start=past - 7200,
        end=past - 3600,
        pattern="flatline",
        kind="fraud",
        score=0.95,
        statistic=0.01,
        baseline=1.2,
        threshold=0.1,
        reason_en="old finding",
        reason_zh="旧发现",
        plots=(PlotSeries("SO2", (past - 7200,), (30.0,)),),
    )
    (old,) = raise_alarms(site.engine, [late], now=past).opened
    overdue = client.get("/api/v1/alarms?overdue=true").json()["data"]
    assert [x["id"] for x in overdue] == [old]
    assert overdue[0]["overdue"] is True
    assert 'id="alarm-overdue"' in client.get(f"/console/alarms/{old}").text
    opts = client.get("/api/v1/alarms/options").json()
    assert {o["code"] for o in opts["dismiss_reasons"]} >= {"instrument_fault", "other"}
    assert "case_filed" in {o["code"] for o in opts["enforcement_types"]}


def test_alarm_page_offers_only_allowed_decisions_and_explains_refusals(site: Site) -> None:
    p = site.province
    aid = p.exceedance_alarm_id
    signatory, _ = site.login("signatory")
    page = signatory.get(f"/console/alarms/{aid}").text
    assert 'id="do-acknowledge"' not in page
    assert 'id="do-comment"' in page
    officer, token = site.login("enforcement_officer")
    page = officer.get(f"/console/alarms/{aid}").text
    assert 'id="do-acknowledge"' in page
    assert 'id="do-confirm"' not in page
    assert 'id="evidence-data"' in page
    assert "evidence-plot" in page
    r = officer.post(
        f"/console/alarms/{aid}/acknowledge",
        data={"csrf_token": token, "expected_seq": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    # a decision on a stale view: 409, the page says so in the viewer's language, nothing written
    r = officer.post(f"/console/alarms/{aid}/verify", data={"csrf_token": token, "expected_seq": "1"})
    assert r.status_code == 409
    assert "该告警在您打开页面后已被他人处理" in r.text
    r = officer.post(
        f"/console/alarms/{aid}/verify",
        data={"csrf_token": token, "expected_seq": "2"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = officer.post(
        f"/console/alarms/{aid}/dismiss", data={"csrf_token": token, "reason_code": "other", "reason": ""}
    )
    assert r.status_code == 400
    assert "处置信息不完整" in r.text
    lab, ltoken = site.login("lab_analyst")
    r = lab.post(
        f"/console/alarms/{aid}/dismiss",
        data={"csrf_token": ltoken, "reason_code": "other", "reason": "xxxxxx"},
    )
    assert r.status_code == 403
    assert "无权" in r.text
    inbox = officer.get("/console/alarms?state=under_verification&kind=&station_id=").text
    assert f'id="alarm-{aid}"' in inbox


# --- registry: register a station from the console ---------------------------------------------------


def test_register_a_station_with_a_hashed_password(site: Site) -> None:
    p = site.province
    client, token = site.login("monitoring_staff")
    h = {"X-CSRF-Token": token}
    body = {
        "mn": "WAT0000000000007",
        "pw": "654321",
        "kind": "water",
        "edition": "2017",
        "st": "32",
        "tolerant": True,
    }
    r = client.post("/api/v1/stations", json=body, headers=h)
    assert r.status_code == 201
    new = r.json()
    assert (new["mn"], new["kind"], new["approved"]) == ("WAT0000000000007", "water", True)
    with site.engine.connect() as conn:
        row = conn.execute(
            select(station.c.pw_hash, station.c.tolerant).where(station.c.id == new["id"])
        ).one()
    assert row[0].startswith("scrypt$")
    assert "654321" not in row[0]
    assert verify_password("654321", row[0])
    assert row[1] is True
    assert client.post("/api/v1/stations", json=body, headers=h).status_code == 409
    enc = {**body, "mn": "ENC0000000000001", "edition": "2025", "encrypted": True}
    assert client.post("/api/v1/stations", json=enc, headers=h).status_code == 400
    assert client.post("/api/v1/stations", json={**enc, "sm4_key": "short"}, headers=h).status_code == 422
    weak = client.post("/api/v1/stations", json={**enc, "sm4_key": "30" * 16}, headers=h)  # A.2's test key
    assert weak.status_code == 400
    assert "30303030" not in weak.text  # the refusal names the rule, never the key
    strong = "Qm7#vT2pX9kLw4Zr"
    r = client.post("/api/v1/stations", json={**enc, "sm4_key": strong}, headers=h)
    assert r.status_code == 201
    with site.engine.connect() as conn:
        sealed = conn.execute(
            text(
                "SELECT k.sealed, k.state FROM station_key k JOIN station s ON s.id = k.station_id "
                "WHERE s.mn = :m"
            ),
            {"m": "ENC0000000000001"},
        ).one()
        registry_key = conn.execute(
            select(station.c.sm4_key).where(station.c.mn == "ENC0000000000001")
        ).scalar()
    assert sealed.state == "current"
    assert strong.encode() not in bytes(sealed.sealed)  # sealed at rest under the master key
    assert registry_key is None  # the registry row never holds the key
    assert (
        client.post("/api/v1/stations", json={**body, "mn": "X1", "point_id": 999999}, headers=h).status_code
        == 400
    )
    form = {
        "csrf_token": token,
        "mn": "AIR0000000000008",
        "pw": "111111",
        "kind": "ambient",
        "edition": "2017",
        "point_id": "",
    }
    r = client.post("/console/registry/stations", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/stations/")
    viewer, vtoken = site.login("reviewer")
    assert (
        viewer.post(
            "/api/v1/stations", json={**body, "mn": "Y1"}, headers={"X-CSRF-Token": vtoken}
        ).status_code
        == 403
    )
    assert 'id="add-station"' in client.get("/console/registry").text
    assert 'id="add-station"' not in viewer.get("/console/registry").text
    assert p.pending_id
