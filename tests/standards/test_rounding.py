"""GB/T 8170-2008 rounding ("四舍六入五考虑") and the exact round-up of HJ 633."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrace.standards import round_gbt8170
from envtrace.standards.rounding import ceil_div, round_gbt8170_to_int


@pytest.mark.parametrize(
    ("value", "decimals", "want", "desc"),
    [
        (12.4, 0, 12.0, "discarded digit below 5: drop"),
        (12.6, 0, 13.0, "discarded digit above 5: carry"),
        (12.51, 0, 13.0, "5 followed by a non-zero digit: carry"),
        (12.5, 0, 12.0, "exactly 5, kept digit even: drop"),
        (13.5, 0, 14.0, "exactly 5, kept digit odd: carry"),
        (0.5, 0, 0.0, "0 counts as even"),
        (-2.5, 0, -2.0, "negative: round the magnitude, keep the sign"),
        (-3.5, 0, -4.0, "negative odd: carry on the magnitude"),
        (0.15, 1, 0.2, "0.15 is stored as 0.1499...; the decimal value is an exact half, 1 is odd"),
        (0.25, 1, 0.2, "exact half, 2 is even"),
        (0.35, 1, 0.4, "exact half, 3 is odd (stored as 0.34999...)"),
        (1.45, 1, 1.4, "exact half, 4 is even"),
        (1.451, 1, 1.5, "5 followed by 1: carry"),
        (2.675, 2, 2.68, "stored as 2.67499999...; decimal half, 7 odd: carry"),
        (1234.5, 0, 1234.0, "large value, exact half, even"),
    ],
)
def test_gbt8170_cases(value: float, decimals: int, want: float, desc: str) -> None:
    assert round_gbt8170([value], decimals)[0] == pytest.approx(want), desc


def test_nan_stays_nan() -> None:
    assert math.isnan(round_gbt8170([float("nan")])[0])


def test_to_int_scales() -> None:
    assert round_gbt8170_to_int([0.15, 1.25, 3.0], 1).tolist() == [2, 12, 30]


@given(st.integers(min_value=-10_000, max_value=10_000))
def test_integers_unchanged(k: int) -> None:
    assert round_gbt8170([float(k)])[0] == k


@given(st.integers(min_value=-100_000, max_value=100_000), st.integers(min_value=0, max_value=2))
def test_decimal_half_goes_to_even(k: int, decimals: int) -> None:
    # k + 0.5 units of the last kept place: the result is the even neighbour
    value = (k + 0.5) / 10**decimals
    got = round(round_gbt8170([value], decimals)[0] * 10**decimals)
    assert got % 2 == 0
    assert got in (k, k + 1)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_within_half_a_unit(x: float) -> None:
    assert abs(round_gbt8170([x])[0] - x) <= 0.5 + 1e-6


@given(st.integers(min_value=-(10**9), max_value=10**9), st.integers(min_value=1, max_value=10**6))
def test_ceil_div_exact(a: int, b: int) -> None:
    assert int(ceil_div(np.array([a]), np.array([b]))[0]) == -(-a // b)
