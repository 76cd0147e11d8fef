"""IAQI by HJ 633-2012/2026: every breakpoint of both editions, round-up, monotonicity, known bugs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrace.standards import breakpoints, categories, iaqi, levels
from envtrace.standards.iaqi import BEYOND, MISSING
from envtrace.standards.tables import load

ROWS = [
    (r["edition"], r["pollutant"], r["averaging"], float(r["concentration"]), int(r["iaqi"]))
    for r in load("hj633_breakpoints")
]
TABLES = sorted({(e, p, a) for e, p, a, _, _ in ROWS})


@pytest.mark.parametrize(
    ("edition", "pollutant", "averaging", "conc", "want"),
    ROWS,
    ids=[f"{e[-4:]}-{p}-{a}-{c:g}" for e, p, a, c, _ in ROWS],
)
def test_every_breakpoint(edition: str, pollutant: str, averaging: str, conc: float, want: int) -> None:
    assert iaqi(pollutant, [conc], edition=edition, averaging=averaging)[0] == want


@pytest.mark.parametrize(
    ("edition", "pollutant", "averaging", "conc", "want"),
    ROWS,
    ids=[f"{e[-4:]}-{p}-{a}-{c:g}+" for e, p, a, c, _ in ROWS],
)
def test_one_unit_above_every_breakpoint(
    edition: str, pollutant: str, averaging: str, conc: float, want: int
) -> None:
    table = breakpoints(edition, pollutant, averaging)
    unit = 10.0**-table.decimals
    got = int(iaqi(pollutant, [conc + unit], edition=edition, averaging=averaging)[0])
    top = conc == table.concentration[-1] / 10**table.decimals
    if top:
        assert got == (BEYOND if table.truncated else 500)
    else:
        # the next segment's slope, rounded up: strictly above the breakpoint's IAQI
        nxt = int(np.searchsorted(table.concentration, round((conc + unit) * 10**table.decimals)))
        lo_c, hi_c = table.concentration[nxt - 1], table.concentration[nxt]
        lo_i, hi_i = table.iaqi[nxt - 1], table.iaqi[nxt]
        exact = lo_i + (hi_i - lo_i) * (round((conc + unit) * 10**table.decimals) - lo_c) / (hi_c - lo_c)
        assert got == math.ceil(exact - 1e-9)
        assert got > want


@pytest.mark.parametrize(
    ("pollutant", "averaging", "conc", "want_2012", "want_2026", "desc"),
    [
        ("PM2.5", "24h", 75, 100, 114, "2026 moved the PM2.5 IAQI-100 point from 75 to 60"),
        ("PM2.5", "24h", 60, 82, 100, "60 is IAQI 100 in 2026; 50 + 25/40*50 = 81.25 -> 82 in 2012"),
        ("PM10", "24h", 120, 85, 100, "2026 moved the PM10 IAQI-100 point from 150 to 120"),
        ("PM10", "24h", 150, 100, 112, "150 lies in the 120-250 segment in 2026: 100 + 30/130*50 -> 112"),
        ("SO2", "24h", 150, 100, 100, "not 50: caiyunapp/aqi-hub put the 1-h SO2 points into its 24-h table"),
        ("CO", "1h", 5.04, 50, 50, "CO rounded to 0.1 first (5.0) then IAQI 50"),
        ("CO", "1h", 5.05, 50, 50, "5.05 -> 5.0 by GB/T 8170 (half to even)"),
        ("CO", "1h", 5.15, 52, 52, "5.15 -> 5.2: 50 + 0.2/5*50 = 52"),
        ("O3", "8h", 100.5, 50, 50, "100.5 -> 100 (even) before the IAQI"),
        ("O3", "8h", 101.5, 52, 52, "101.5 -> 102: 50 + 2/60*50 = 51.67 -> 52"),
        ("NO2", "1h", 101, 51, 51, "50 + 1/100*50 = 50.5 rounded up to 51"),
    ],
)
def test_worked_values(
    pollutant: str, averaging: str, conc: float, want_2012: int, want_2026: int, desc: str
) -> None:
    assert iaqi(pollutant, [conc], edition="HJ 633-2012", averaging=averaging)[0] == want_2012, desc
    assert iaqi(pollutant, [conc], edition="HJ 633-2026", averaging=averaging)[0] == want_2026, desc


def test_missing_and_negative_are_missing() -> None:
    got = iaqi("PM10", [np.nan, -1.0, np.inf], edition="HJ 633-2026", averaging="24h").tolist()
    assert got == [MISSING, MISSING, MISSING]


def test_full_tables_end_at_500() -> None:
    assert iaqi("PM10", [601, 5000], edition="HJ 633-2012", averaging="24h").tolist() == [500, 500]


def test_truncated_tables_mark_beyond() -> None:
    assert iaqi("SO2", [801], edition="HJ 633-2012", averaging="1h")[0] == BEYOND
    assert iaqi("O3", [801], edition="HJ 633-2026", averaging="8h")[0] == BEYOND


@given(
    st.sampled_from(TABLES), st.floats(min_value=0, max_value=5000), st.floats(min_value=0, max_value=5000)
)
def test_monotone_in_concentration(table: tuple[str, str, str], a: float, b: float) -> None:
    edition, pollutant, averaging = table
    lo, hi = sorted((a, b))
    got = iaqi(pollutant, [lo, hi], edition=edition, averaging=averaging)
    # BEYOND (-2) only happens above the table, where it stands for "higher than everything"
    ranked = [500 + 1 if v == BEYOND else v for v in got.tolist()]
    assert ranked[0] <= ranked[1]


@given(st.sampled_from(TABLES), st.floats(min_value=0, max_value=5000))
def test_never_below_exact_value(table: tuple[str, str, str], c: float) -> None:
    edition, pollutant, averaging = table
    t = breakpoints(edition, pollutant, averaging)
    got = int(iaqi(pollutant, [c], edition=edition, averaging=averaging)[0])
    if got < 0 or got == 500:
        return
    assert 0 <= got <= int(t.iaqi[-1])


@pytest.mark.parametrize("edition", ["HJ 633-2012", "HJ 633-2026"])
def test_categories_and_levels(edition: str) -> None:
    cats = categories(edition)
    assert [c.name_zh for c in cats] == ["优", "良", "轻度污染", "中度污染", "重度污染", "严重污染"]
    assert cats[0].rgb == (0, 228, 0)
    assert cats[-1].rgb == (126, 0, 35)
    assert levels([0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500, -1], edition).tolist() == [
        1,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
        5,
        5,
        6,
        6,
        0,
    ]
