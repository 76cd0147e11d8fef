"""Wastewater: flow-weighted hourly and daily means, loads, discharge, invalid values."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from envtrace.rollup import run
from envtrace.standards import Reason
from envtrace.store import hourly

from .feeding import Feed, R, cst

H = cst(2026, 9, 1, 8)
LATER = H + 30 * 86400


def test_flow_weighted_mean_load_and_discharge(engine: Engine, feed: Feed) -> None:
    sid = feed.station("WW-A", "water")
    # 10-minute data: COD 100 mg/L at 10 L/s, then 200 mg/L at 30 L/s; then a negative COD reading
    feed.frames(
        sid,
        [
            [R("min", "w01018", H, 100.0), R("min", "w00000", H, 10.0)],
            [R("min", "w01018", H + 600, 200.0), R("min", "w00000", H + 600, 30.0)],
            [R("min", "w01018", H + 1200, -5.0), R("min", "w00000", H + 1200, 20.0)],
        ],
    )
    feed.frame(
        sid, [R("hour", "w01018", H, 175.0, "N", cou=4.2), R("hour", "w00000", H, 20.0, "N", cou=36.0)]
    )
    run(engine, LATER)
    with engine.connect() as conn:
        (cod,) = hourly.values(conn, sid, "w01018", start=H, end=H + 1)
        (flow,) = hourly.values(conn, sid, "w00000", start=H, end=H + 1)
        (day,) = hourly.values(conn, sid, "w01018", granularity="day", start=H - 8 * 3600, end=H + 86400)
        found = hourly.disagreements(conn, station_id=sid)
    assert cod.valid
    assert cod.value == pytest.approx(175.0)  # (10 x 100 + 30 x 200) / 40
    assert cod.mass_kg == pytest.approx((10 * 600 * 100 + 30 * 600 * 200) * 1e-6)  # 4.2 kg
    assert (cod.n_total, cod.n_valid) == (30, 20)
    assert flow.volume_m3 == pytest.approx((10 + 30 + 20) * 600 * 1e-3)  # 36 m³
    assert (day.valid, day.value, day.mass_kg) == (True, pytest.approx(175.0), pytest.approx(4.2))
    assert found == []  # incomplete hour: no comparison


def test_zero_flow_makes_an_invalid_hour(engine: Engine, feed: Feed) -> None:
    sid = feed.station("WW-B", "water")
    feed.frames(
        sid, [[R("min", "w01018", H + 600 * i, 80.0), R("min", "w00000", H + 600 * i, 0.0)] for i in range(6)]
    )
    run(engine, LATER)
    with engine.connect() as conn:
        (cod,) = hourly.values(conn, sid, "w01018", start=H, end=H + 1)
        (flow,) = hourly.values(conn, sid, "w00000", start=H, end=H + 1)
    assert (cod.valid, cod.reason) == (False, Reason.ZERO_FLOW)
    assert (flow.valid, flow.volume_m3) == (True, 0.0)
