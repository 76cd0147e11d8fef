"""HJ 212-2025 CN 2062 automatic standard-sample checks in the hourly verdict of CEMS data.

Checks are stored as the gateway's storage process stores them (``ingest.payloads.payload_rows`` on
the decoded items, ``store.payloads.insert_payloads`` in the frame's transaction), then the roll-up
runs on real SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, update

from envtrace.ingest.payloads import payload_rows
from envtrace.rollup import BadOption, RollupOptions, jobs, recompute, run
from envtrace.standards import Reason
from envtrace.store import hourly
from envtrace.store.engine import write_transaction
from envtrace.store.payloads import insert_payloads
from envtrace.store.raw import RAW_FRAME_COLUMNS, allocate_frame_ids, insert_frames
from envtrace.store.registry import station_parameter

from .feeding import Feed, cst

H = cst(2026, 9, 7, 8)
LATER = H + 30 * 86400
SO2, O2 = "a21026", "a19001"


def store_check(engine: Engine, sid: int, data_ts: int, items: dict[str, dict[str, str]]) -> int:
    """One accepted CN 2062 frame with its ``standard_check`` rows, as the storage process commits it."""
    with write_transaction(engine) as conn:
        (fid,) = allocate_frame_ids(conn, 1)
        frame = {
            "id": fid, "received_us": data_ts * 1_000_000, "peer": "127.0.0.1:1", "station_id": sid,
            "mn": None, "st": "31", "cn": "2062", "qn": None, "flag": 9, "pnum": None, "pno": None,
            "data_ts": data_ts, "edition": "2025", "status": "accepted", "rf": False, "wire": "plain",
            "deviations": None, "leaf_index": None, "raw": b"##2062",
        }  # fmt: skip
        insert_frames(conn, [tuple(frame[c] for c in RAW_FRAME_COLUMNS)])
        measurements, checks = payload_rows("2062", items, sid, data_ts, 480, fid)
        assert checks
        assert not measurements
        insert_payloads(conn, measurements, checks)
    return fid


def check(measured: float, nominal: float, result: str | None) -> dict[str, str]:
    item = {"SampleRd": f"{measured:g}", "StandardValue": f"{nominal:g}"}
    if result is not None:
        item["ResultType"] = result
    return item


def set_span(engine: Engine, sid: int, parameter: str, span: float) -> None:
    with write_transaction(engine) as conn:
        conn.execute(
            update(station_parameter)
            .where(station_parameter.c.station_id == sid, station_parameter.c.parameter == parameter)
            .values(span=span)
        )


def hour(engine: Engine, sid: int, parameter: str, hour_ts: int) -> hourly.JudgedValue:
    with engine.connect() as conn:
        (v,) = hourly.values(conn, sid, parameter, start=hour_ts, end=hour_ts + 1)
    return v


def detail(v: hourly.JudgedValue) -> dict[str, Any]:
    found = json.loads(v.detail or "{}")
    assert isinstance(found, dict)
    return found


def verdicts(engine: Engine, sid: int, parameter: str, n: int) -> list[tuple[bool, int]]:
    return [(v.valid, v.reason) for v in (hour(engine, sid, parameter, H + 3600 * k) for k in range(n))]


BAD = (False, Reason.STANDARD_CHECK_FAILED)
GOOD = (True, Reason.VALID)


def test_a_failed_check_invalidates_its_hours_until_the_next_passing_one(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CHK-A", "flue_gas")
    for k in range(6):
        feed.minutes_many(sid, H + 3600 * k, {SO2: 50.0})
    fail = store_check(engine, sid, H + 3600 + 20 * 60, {SO2: check(300.2, 400, "0")})
    store_check(engine, sid, H + 3 * 3600 + 10 * 60, {SO2: check(401.5, 400, "1")})
    run(engine, LATER)
    assert verdicts(engine, sid, SO2, 6) == [GOOD, BAD, BAD, BAD, GOOD, GOOD]
    # the hour of the failure cites it precisely: when, measured, nominal, ResultType, its frame
    first = detail(hour(engine, sid, SO2, H + 3600))["standard_check"]
    assert first["failed"] == {
        "parameter": SO2, "ts": H + 3600 + 1200, "measured": 300.2, "nominal": 400.0, "result": 0,
        "passed": False, "judged_by": "station", "drift_pct_fs": None, "drift": None, "frame_id": fail,
    }  # fmt: skip
    assert (first["basis"], first["scope"], len(first["checks"])) == ("either", "until_pass", 1)
    # an hour with no check of its own is invalid by the same (still governing) failure
    middle = detail(hour(engine, sid, SO2, H + 7200))["standard_check"]
    assert middle["checks"] == []
    assert middle["failed"]["ts"] == H + 3600 + 1200
    # the passing check at 11:10 leaves 11:00-11:10 out of control: that hour stays invalid, and the
    # passing check is shown as the hour's QC evidence
    closing = detail(hour(engine, sid, SO2, H + 3 * 3600))["standard_check"]
    assert [c["passed"] for c in closing["checks"]] == [True]
    # after the pass: valid, and no check detail at all
    assert "standard_check" not in detail(hour(engine, sid, SO2, H + 4 * 3600))
    # an out-of-control hour keeps the mean of its data for display, never as a valid value
    assert hour(engine, sid, SO2, H + 7200).value == 50.0
    assert hour(engine, sid, SO2, H + 7200).mass_kg is None


def test_a_passing_check_is_evidence_of_qc_and_changes_nothing(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CHK-B", "flue_gas")
    feed.minutes_many(sid, H, {SO2: 50.0})
    fid = store_check(engine, sid, H + 600, {SO2: check(398.0, 400, "1")})
    run(engine, LATER)
    v = hour(engine, sid, SO2, H)
    assert (v.valid, v.reason, v.value) == (True, Reason.VALID, 50.0)
    block = detail(v)["standard_check"]
    assert "failed" not in block
    assert block["checks"] == [
        {"ts": H + 600, "measured": 398.0, "nominal": 400.0, "result": 1, "passed": True,
         "judged_by": "station", "drift_pct_fs": None, "drift": None, "frame_id": fid},
    ]  # fmt: skip


def test_a_check_arriving_after_the_hours_were_judged_reopens_them(
    fresh_engine: Engine, fresh_feed: Feed
) -> None:
    sid = fresh_feed.station("CHK-C", "flue_gas")
    for k in range(4):
        fresh_feed.minutes_many(sid, H + 3600 * k, {SO2: 50.0, O2: 8.0})
    run(fresh_engine, LATER)
    assert verdicts(fresh_engine, sid, SO2, 4) == [GOOD] * 4
    store_check(fresh_engine, sid, H + 3600 + 300, {SO2: check(280.0, 400, "0")})  # e.g. a resend
    counts = run(fresh_engine, LATER + 60)
    assert (counts["checks"], counts["check_hours"]) == (1, 3)  # its hour and every later hour with data
    assert verdicts(fresh_engine, sid, SO2, 4) == [GOOD, BAD, BAD, BAD]
    assert verdicts(fresh_engine, sid, O2, 4) == [GOOD] * 4  # another analyser: not touched
    with fresh_engine.connect() as conn:
        old, new = hourly.value_versions(conn, sid, SO2, H + 7200)
    assert (old.valid, new.valid, new.version) == (True, False, 2)  # the old verdict is kept
    # the passing check that follows closes the period: the hours after it are valid again
    store_check(fresh_engine, sid, H + 3 * 3600, {SO2: check(399.0, 400, "1")})
    counts = run(fresh_engine, LATER + 120)
    assert counts["check_hours"] == 1
    assert verdicts(fresh_engine, sid, SO2, 4) == [GOOD, BAD, BAD, GOOD]  # the pass on the hour
    with fresh_engine.connect() as conn:
        assert [v.version for v in hourly.value_versions(conn, sid, SO2, H + 3 * 3600)] == [1, 2, 3]
    # running again, or recomputing, changes nothing: the cited check does not depend on the reading
    assert run(fresh_engine, LATER + 180).get("hour_versions", 0) == 0
    assert recompute(fresh_engine, H, H + 4 * 3600, now_ts=LATER + 240).get("hour_versions", 0) == 0


def test_an_out_of_control_o2_analyser_withholds_the_corrected_values(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CHK-D", "flue_gas", params={SO2: (None, 6.0)})
    feed.minutes_many(sid, H, {SO2: 50.0, O2: 9.0})
    store_check(engine, sid, H + 900, {O2: check(12.9, 10.0, "0")})
    run(engine, LATER)
    o2, so2 = hour(engine, sid, O2, H), hour(engine, sid, SO2, H)
    assert (o2.valid, o2.reason) == BAD
    assert so2.valid  # the SO2 analyser itself passed no judgement
    assert (so2.zs_value, so2.zs_reason) == (None, Reason.STANDARD_CHECK_FAILED)


# measured vs nominal with a 500 mg/m3 span: 449 is a 9.8 % FS drift (above the 2.5 % calibration
# limit, within the 10 % out-of-control limit of HJ 75 table 4 for gaseous units), 451 is 10.2 %
@pytest.mark.parametrize(
    ("basis", "mn", "want_pass_449_fail", "want_fail_451_pass"),
    [
        ("station", "CHK-E1", BAD, GOOD),
        ("platform", "CHK-E2", GOOD, BAD),
        ("either", "CHK-E3", BAD, BAD),
    ],
)
def test_the_basis_decides_which_verdict_counts(
    engine: Engine,
    feed: Feed,
    basis: str,
    mn: str,
    want_pass_449_fail: tuple[bool, int],
    want_fail_451_pass: tuple[bool, int],
) -> None:
    sid = feed.station(mn, "flue_gas", params={SO2: ("mg/m3", None)})
    set_span(engine, sid, SO2, 500.0)
    for k in range(2):
        feed.minutes_many(sid, H + 3600 * k, {SO2: 50.0})
    store_check(engine, sid, H + 600, {SO2: check(449, 400, "0")})  # station: fail, drift 9.8 %
    store_check(engine, sid, H + 3600 + 600, {SO2: check(451, 400, "1")})  # station: pass, drift 10.2 %
    run(engine, LATER, RollupOptions(standard_check_basis=basis, standard_check_scope="hour"))
    assert verdicts(engine, sid, SO2, 2) == [want_pass_449_fail, want_fail_451_pass]
    first, second = (detail(hour(engine, sid, SO2, H + 3600 * k))["standard_check"] for k in range(2))
    (a,), (b,) = first["checks"], second["checks"]
    assert (a["drift_pct_fs"], a["drift"]) == (9.8, "drift_exceeded")
    assert (b["drift_pct_fs"], b["drift"]) == (10.2, "out_of_control")
    assert (
        a["judged_by"] == {"station": "station", "platform": "platform", "either": "station+platform"}[basis]
    )


def test_platform_basis_without_a_span_falls_back_to_the_station(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CHK-F", "flue_gas")
    feed.minutes_many(sid, H, {SO2: 50.0})
    store_check(engine, sid, H + 600, {SO2: check(451, 400, "0")})
    run(engine, LATER, RollupOptions(standard_check_basis="platform"))
    v = hour(engine, sid, SO2, H)
    assert (v.valid, v.reason) == BAD
    assert detail(v)["standard_check"]["failed"]["judged_by"] == "station"


def test_hour_scope_invalidates_only_the_hour_of_the_failed_check(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CHK-G", "flue_gas")
    for k in range(3):
        feed.minutes_many(sid, H + 3600 * k, {SO2: 50.0})
    store_check(engine, sid, H + 3600 + 3000, {SO2: check(200.0, 400, "0")})
    run(engine, LATER, RollupOptions(standard_check_scope="hour"))
    assert verdicts(engine, sid, SO2, 3) == [GOOD, BAD, GOOD]


def test_a_stopped_hour_stays_stopped_and_another_reason_is_kept_beside(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CHK-H", "flue_gas")
    feed.minutes(sid, SO2, H, [0.0] * 60, ["F"] * 60)
    feed.minutes(sid, SO2, H + 3600, [50.0] * 60, ["N"] * 40 + ["C"] * 20)  # calibration minutes
    store_check(engine, sid, H + 60, {SO2: check(200.0, 400, "0")})
    run(engine, LATER)
    stopped, calibrating = hour(engine, sid, SO2, H), hour(engine, sid, SO2, H + 3600)
    assert (stopped.valid, stopped.reason) == (False, Reason.STOPPED)  # out of the capture denominator
    assert "failed" in detail(stopped)["standard_check"]
    assert (calibrating.valid, calibrating.reason) == BAD
    assert detail(calibrating)["standard_check"]["superseded_reason"] == Reason.CALIBRATION


def test_an_unjudgeable_check_is_evidence_only(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CHK-I", "flue_gas")
    feed.minutes_many(sid, H, {SO2: 50.0})
    store_check(engine, sid, H + 600, {SO2: check(200.0, 400, None)})  # no ResultType, no span
    run(engine, LATER)
    v = hour(engine, sid, SO2, H)
    assert (v.valid, v.reason) == GOOD
    assert detail(v)["standard_check"]["checks"][0]["judged_by"] == "none"


def test_other_station_kinds_are_not_judged_by_checks_by_default(engine: Engine, feed: Feed) -> None:
    sid = feed.station("CHK-J", "water")
    feed.minutes_many(sid, H, {"w01018": 30.0})
    store_check(engine, sid, H + 600, {"w01018": check(10.0, 40, "0")})
    run(engine, LATER)
    v = hour(engine, sid, "w01018", H)
    assert v.valid
    assert "standard_check" not in detail(v)


def test_the_worker_job_reads_the_basis_setting(fresh_engine: Engine, fresh_feed: Feed) -> None:
    sid = fresh_feed.station("CHK-K", "flue_gas", params={SO2: ("mg/m3", None)})
    set_span(fresh_engine, sid, SO2, 500.0)
    fresh_feed.minutes_many(sid, H, {SO2: 50.0})
    store_check(fresh_engine, sid, H + 600, {SO2: check(449, 400, "0")})  # station fail, platform pass
    (job,) = jobs(SimpleNamespace(rollup_standard_check_basis="platform", rollup_standard_check_scope="hour"))
    job.run(fresh_engine, LATER)
    assert verdicts(fresh_engine, sid, SO2, 1) == [GOOD]


@pytest.mark.parametrize(
    ("name", "value"), [("standard_check_basis", "lab"), ("standard_check_scope", "day")]
)
def test_unknown_check_options_are_refused(name: str, value: str) -> None:
    with pytest.raises(BadOption, match=name):
        RollupOptions(**{name: value})  # type: ignore[arg-type]
