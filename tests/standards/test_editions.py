"""Edition selection by data time: exact switch instants and monotone switching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrace.standards import Family, edition_at, edition_codes_at, editions
from envtrace.standards.editions import cst_to_unix, switch_instants

SWITCHES = [
    (Family.HJ212, (2017, 5, 1), "HJ/T 212-2005", "HJ 212-2017"),
    (Family.HJ212, (2026, 1, 1), "HJ 212-2017", "HJ 212-2025"),
    (Family.AQI, (2026, 3, 1), "HJ 633-2012", "HJ 633-2026"),
    (Family.GB3095, (2026, 3, 1), "GB 3095-2012", "GB 3095-2026 transitional"),
    (Family.GB3095, (2031, 1, 1), "GB 3095-2026 transitional", "GB 3095-2026 full"),
]


@pytest.mark.parametrize(("family", "day", "before", "after"), SWITCHES)
def test_switch_at_the_instant(family: Family, day: tuple[int, int, int], before: str, after: str) -> None:
    t = cst_to_unix(*day)
    assert edition_at(family, t - 1) == before
    assert edition_at(family, t) == after
    assert edition_at(family, t + 1) == after


def test_switch_is_midnight_china_standard_time() -> None:
    # 2026-03-01 00:00 CST is 2026-02-28 16:00 UTC
    assert cst_to_unix(2026, 3, 1) == 1772294400
    assert edition_at(Family.AQI, 1772294400 - 1) == "HJ 633-2012"


def test_release_hour_labels() -> None:
    # The release's T00 hour (23:00-24:00 on 28 Feb) is 2012, T01 (00:00-01:00) is 2026 (cnemc README)
    start_of_t00 = cst_to_unix(2026, 3, 1) - 3600
    assert edition_at(Family.AQI, start_of_t00) == "HJ 633-2012"
    assert edition_at(Family.AQI, start_of_t00 + 3600) == "HJ 633-2026"


def test_history_is_judged_by_its_own_rules() -> None:
    assert edition_at(Family.AQI, cst_to_unix(2013, 1, 1)) == "HJ 633-2012"
    assert edition_at(Family.GB3095, cst_to_unix(2040, 1, 1)) == "GB 3095-2026 full"


@given(st.sampled_from(list(Family)), st.lists(st.integers(min_value=0, max_value=2**40), min_size=2))
def test_editions_never_go_back_in_time(family: Family, times: list[int]) -> None:
    times.sort()
    codes = edition_codes_at(family, times).tolist()
    assert codes == sorted(codes)
    assert all(0 <= c < len(editions(family)) for c in codes)


@given(st.sampled_from(list(Family)), st.integers(min_value=-(2**31), max_value=2**40))
def test_vector_matches_scalar(family: Family, t: int) -> None:
    assert editions(family)[int(edition_codes_at(family, [t])[0])] == edition_at(family, t)


@given(st.sampled_from(list(Family)), st.integers(min_value=0, max_value=2**40))
def test_code_counts_switches_passed(family: Family, t: int) -> None:
    passed = sum(1 for s in switch_instants(family) if s <= t)
    assert int(edition_codes_at(family, [t])[0]) == passed
