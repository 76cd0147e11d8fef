"""Versions, idempotence and incrementality: late data re-open a period as a new version, nothing is
edited in place, a second run changes nothing, a run touches only the periods new data touch."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from envtrace.rollup import RollupOptions, recompute, run
from envtrace.store import hourly
from envtrace.store.engine import write_transaction

from .feeding import Feed, R, cst

H = cst(2026, 8, 3, 10)
DAY = cst(2026, 8, 3)
LATER = H + 30 * 86400

TABLES = ("rollup_value", "rollup_aqi", "rollup_exceedance", "rollup_disagreement", "rollup_city_aqi")


def _rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: int(conn.execute(select(func.count()).select_from(text(t))).scalar_one()) for t in TABLES}


def test_late_data_append_a_version_and_keep_the_old(fresh_engine: Engine, fresh_feed: Feed) -> None:
    sid = fresh_feed.station("LATE-A", "flue_gas")
    fresh_feed.minutes(sid, "a21026", H, [20.0] * 45 + [None] * 15, ["N"] * 60)
    run(fresh_engine, LATER)
    fresh_feed.minutes(sid, "a21026", H, [None] * 45 + [40.0] * 15, ["N"] * 60)  # resent late
    counts = run(fresh_engine, LATER + 60)
    assert counts["hour_versions"] == 1
    with fresh_engine.connect() as conn:
        old, new = hourly.value_versions(conn, sid, "a21026", H)
        (current,) = hourly.values(conn, sid, "a21026", start=H, end=H + 1)
        day_versions = hourly.value_versions(conn, sid, "a21026", DAY, granularity="day")
    assert (old.version, old.n_valid, old.value, old.computed_ts) == (1, 45, 20.0, LATER)
    assert (new.version, new.n_valid, new.value, new.computed_ts) == (2, 60, 25.0, LATER + 60)
    assert current == new
    assert [d.version for d in day_versions] == [1, 2]  # the day re-opened with its hour


def test_results_are_append_only(engine: Engine, feed: Feed) -> None:
    sid = feed.station("LATE-B", "flue_gas")
    feed.minutes(sid, "a21026", H, [20.0] * 60, ["N"] * 60)
    run(engine, LATER)
    for statement in ("UPDATE rollup_value SET value = 1", "DELETE FROM rollup_value"):
        with pytest.raises(DBAPIError, match="append-only"), write_transaction(engine) as conn:
            conn.execute(text(statement))


def test_idempotent_and_incremental(fresh_engine: Engine, fresh_feed: Feed) -> None:
    a = fresh_feed.station("INC-A", "flue_gas")
    b = fresh_feed.station("INC-B", "flue_gas")
    for sid in (a, b):
        for k in range(3):
            fresh_feed.minutes_many(sid, H + 3600 * k, {"a21026": 30.0, "a19001": 8.0})
    first = run(fresh_engine, LATER)
    assert (first["hours"], first["hour_versions"]) == (12, 12)  # 2 stations x 3 hours x 2 parameters
    assert first["days"] == 4
    before = _rows(fresh_engine)
    again = run(fresh_engine, LATER + 60)
    assert again.get("hours", 0) == 0
    assert again.get("frames", 0) == 0
    assert _rows(fresh_engine) == before
    # one late reading for station A's second hour: only that station-hour is redone
    fresh_feed.frame(a, [R("min", "a21026", H + 3600 + 59 * 60 + 30, 30.0, "N")])
    late = run(fresh_engine, LATER + 120)
    assert (late["frames"], late["queued"], late["hours"], late.get("days", 0)) == (1, 1, 2, 0)
    assert late.get("hour_versions", 0) == 0  # the same minute already counted: same result
    assert _rows(fresh_engine) == before


def test_an_open_hour_waits_for_its_end(fresh_engine: Engine, fresh_feed: Feed) -> None:
    sid = fresh_feed.station("OPEN-A", "flue_gas")
    fresh_feed.minutes(sid, "a21026", H, [20.0] * 30 + [None] * 30, ["N"] * 60)
    during = run(fresh_engine, H + 1800)
    assert during.get("hours", 0) == 0
    assert during["pending"] == 1
    fresh_feed.minutes(sid, "a21026", H, [None] * 30 + [20.0] * 30, ["N"] * 60)
    grace = RollupOptions().hour_grace_s
    assert run(fresh_engine, H + 3600 + grace - 1).get("hours", 0) == 0
    after = run(fresh_engine, H + 3600 + grace)
    assert (after["hours"], after["hour_versions"]) == (1, 1)  # computed once, complete
    with fresh_engine.connect() as conn:
        (v,) = hourly.value_versions(conn, sid, "a21026", H)
    assert (v.version, v.n_valid) == (1, 60)


def test_recompute_appends_only_what_changes(fresh_engine: Engine, fresh_feed: Feed) -> None:
    sid = fresh_feed.station("REC-A", "flue_gas", params={"a00000": ("m3/s", None)})
    minute = {"a21026": 50.0, "a00000": 10.0, "a01012": 100.0, "a01013": 101.325, "a01014": 10.0}
    fresh_feed.minutes_many(sid, H, minute)
    run(fresh_engine, LATER)
    before = _rows(fresh_engine)
    same = recompute(fresh_engine, H, H + 3600, now_ts=LATER + 60)
    assert same["hours"] == 5
    assert same.get("hour_versions", 0) == 0
    assert _rows(fresh_engine) == before
    # another flow basis (as a corrected rule would): the flow and emission rows get a new version
    other = recompute(
        fresh_engine, H, H + 3600, now_ts=LATER + 120, options=RollupOptions(flow_basis="as_reported")
    )
    assert other["hour_versions"] == 2
    with fresh_engine.connect() as conn:
        old, new = hourly.value_versions(conn, sid, "a21026", H)
        runs = hourly.runs(conn)
    assert old.mass_kg is not None
    assert new.mass_kg == pytest.approx(50.0 * 36000.0 * 1e-6)
    assert [r["kind"] for r in runs[:2]] == ["recompute", "recompute"]


def test_a_failing_station_is_retried_later_and_others_go_on(
    fresh_engine: Engine, fresh_feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envtrace.rollup import hours

    good = fresh_feed.station("FAIL-A", "flue_gas")
    bad = fresh_feed.station("FAIL-B", "flue_gas")
    for sid in (good, bad):
        fresh_feed.minutes(sid, "a21026", H, [20.0] * 60, ["N"] * 60)
    real = hours.station_hour

    def broken(ctx: object, *args: object, **kwargs: object) -> object:
        if getattr(ctx, "id", None) == bad:
            raise RuntimeError("simulated bug")
        return real(ctx, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hours, "station_hour", broken)
    counts = run(fresh_engine, LATER)
    assert counts["errors"] == 1
    assert counts["pending"] == 1  # the failed station-hour waits (its retry is due an hour later)
    with fresh_engine.connect() as conn:
        assert hourly.values(conn, good, "a21026")
        assert hourly.values(conn, bad, "a21026") == []
    monkeypatch.setattr(hours, "station_hour", real)
    assert run(fresh_engine, LATER + 60).get("hours", 0) == 0  # not yet due again
    retried = run(fresh_engine, LATER + 3600)
    assert retried["hour_versions"] == 1
