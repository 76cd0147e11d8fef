"""GB 3095 limits by edition and time, national emission limits, permit > local > national."""

from __future__ import annotations

import numpy as np
import pytest

from envtrace.standards import (
    AmbiguousLimit,
    LimitRow,
    Scope,
    UnknownEdition,
    ambient_limit,
    ambient_limit_at,
    find_emission_limits,
    resolve_limit,
    resolve_limits,
)
from envtrace.standards.editions import cst_to_unix


def test_gb3095_editions() -> None:
    assert ambient_limit("PM2.5", "24h", 2, "GB 3095-2012").value == 75
    assert ambient_limit("PM2.5", "24h", 2, "GB 3095-2026 transitional").value == 60
    assert ambient_limit("PM2.5", "24h", 2, "GB 3095-2026 full").value == 50
    assert ambient_limit("SO2", "1h", 2, "GB 3095-2026 full").value == 150
    assert ambient_limit("CO", "24h", 1, "GB 3095-2012").unit == "mg/m3"
    with pytest.raises(UnknownEdition):
        ambient_limit("PM2.5", "24h", 2, "GB 3095-1996")


def test_gb3095_by_time() -> None:
    assert ambient_limit_at("PM10", "year", 2, cst_to_unix(2025, 6, 1)).value == 70
    assert ambient_limit_at("PM10", "year", 2, cst_to_unix(2026, 3, 1)).value == 60
    assert ambient_limit_at("PM10", "year", 2, cst_to_unix(2030, 12, 31, 23)).value == 60
    assert ambient_limit_at("PM10", "year", 2, cst_to_unix(2031, 1, 1)).value == 50


def test_emission_limit_tables() -> None:
    ul = {e.pollutant: e.value for e in find_emission_limits(condition="ultra_low")}
    assert ul == {"particulate": 10, "SO2": 35, "NOx": 50}
    assert all(e.o2_ref_pct == 6 for e in find_emission_limits(condition="ultra_low"))
    new_coal = find_emission_limits(standard="GB 13223-2011", facility="coal_boiler", condition="new")
    assert [(e.pollutant, e.value) for e in new_coal] == [("SO2", 100)]
    boiler = find_emission_limits(standard="GB 13271-2014", facility="industrial_gas_boiler", condition="new")
    assert {e.pollutant: e.value for e in boiler if e.pollutant != "blackness"} == {
        "particulate": 20,
        "SO2": 50,
        "NOx": 200,
    }
    assert all(e.verification for e in find_emission_limits())


T0 = cst_to_unix(2024, 1, 1)
T1 = cst_to_unix(2025, 1, 1)
ROWS = [
    LimitRow(Scope.NATIONAL, "a21026", 100.0, "mg/m3", "GB 13223-2011 Table 1"),
    LimitRow(Scope.LOCAL, "a21026", 50.0, "mg/m3", "provincial standard", effective_from=T0),
    LimitRow(Scope.PERMIT, "a21026", 35.0, "mg/m3", "permit 123", outlet="DA001", effective_from=T1),
    LimitRow(
        Scope.PERMIT,
        "a21026",
        30.0,
        "mg/m3",
        "permit 456",
        outlet="DA002",
        effective_from=T1,
        effective_to=T1 + 86400,
    ),
]


@pytest.mark.parametrize(
    ("outlet", "at", "want"),
    [
        ("DA001", T0 - 1, 100.0),  # only the national standard
        ("DA001", T0, 50.0),  # local standard from its first instant
        ("DA001", T1, 35.0),  # permit beats local
        ("DA002", T1 + 3600, 30.0),
        ("DA002", T1 + 86400, 50.0),  # permit expired (effective_to exclusive): back to local
        ("DA003", T1, 50.0),  # other outlets keep the local limit
    ],
)
def test_resolution(outlet: str, at: int, want: float) -> None:
    row = resolve_limit(ROWS, outlet=outlet, parameter="a21026", at=at)
    assert row is not None
    assert row.value == want


def test_nothing_applies() -> None:
    assert resolve_limit(ROWS, outlet="DA001", parameter="a21002", at=T1) is None


def test_ambiguous_rows_raise() -> None:
    rows = [
        *ROWS,
        LimitRow(
            Scope.PERMIT, "a21026", 20.0, "mg/m3", "duplicate permit", outlet="DA001", effective_from=T1
        ),
    ]
    with pytest.raises(AmbiguousLimit):
        resolve_limit(rows, outlet="DA001", parameter="a21026", at=T1)


def test_vectorised_resolution_matches_scalar() -> None:
    times = np.array([T0 - 10, T0, T1 - 1, T1, T1 + 86399, T1 + 86400, T1 + 10**7])
    values, chosen = resolve_limits(ROWS, outlet="DA002", parameter="a21026", times=times)
    want = [resolve_limit(ROWS, outlet="DA002", parameter="a21026", at=int(t)) for t in times]
    assert values.tolist() == [r.value for r in want if r is not None]
    assert chosen == want


def test_national_row_conversion() -> None:
    (e,) = [x for x in find_emission_limits(condition="ultra_low") if x.pollutant == "SO2"]
    row = e.as_row(outlet="DA001")
    assert row.parameter == "a21026"
    assert row.scope is Scope.NATIONAL
    assert row.o2_ref_pct == 6
