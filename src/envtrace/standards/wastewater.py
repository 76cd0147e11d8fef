"""Wastewater monitoring (HJ 355/356-2019 as far as known; HJ 212-2017 appendix D computations).

Implements
* value validity: flags through :mod:`envtrace.standards.flags` (calibration/QC, maintenance, fault ...
  invalid), plus negative readings and readings at zero flow invalid, and pH outside 0-14 impossible
  (``tables/wastewater_rules.csv``; the HJ 356-2019 text was not available: UNVERIFIED);
* discharge ``D = Q * T * 1e-3`` m³ (Q in L/s, T in s), load ``G = D * C * 1e-3`` kg (C in mg/L),
  flow-weighted period mean ``C = G / D * 1e3`` mg/L, and the arithmetic-mean alternative
  (HJ 212-2017 appendix D);
* filling a missing hour from the valid hours around it: mean, median for pH (a public platform's
  practice, UNVERIFIED);
* period validity (``tables/wastewater_validity.csv``): an hour needs at least one valid value and a day
  at least one valid hour, reading HJ 212-2017 appendix D's sums (hour = sum of its 1-6 ten-minute
  slices, day = sum of its 1-24 hours) as the only count rule available (UNVERIFIED: the HJ 356-2019
  text was not available; configurable with ``minimum=``).

Leaves out: HJ 355-2019 comparison-test acceptance (values not available), abrupt-jump and long
constant-run checks (they belong to ``envtrace.detect`` and must not delete data), and the slice
counts of appendix D (>= 120 slices per 10 min), which the field unit applies before sending.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from envtrace.standards import tables
from envtrace.standards.errors import InvalidInput, TableError
from envtrace.standards.flags import System, flag_validity
from envtrace.standards.validity import Reason, Validity, count_validity

FloatArray = npt.NDArray[np.float64]


def value_validity(
    values: npt.ArrayLike,
    flow_lps: npt.ArrayLike | None = None,
    flags: npt.ArrayLike | None = None,
    *,
    edition: str = "HJ 212-2017",
    is_ph: bool = False,
) -> Validity:
    """Validity of concentration values; reasons by priority: flag, missing, negative/pH range, zero flow."""
    v = np.asarray(values, dtype=np.float64)
    reason = np.full(v.shape, Reason.VALID, dtype=np.int16)
    if flow_lps is not None:
        q = np.broadcast_to(np.asarray(flow_lps, dtype=np.float64), v.shape)
        reason[q == 0] = Reason.ZERO_FLOW
    if is_ph:
        reason[(v < 0) | (v > 14)] = Reason.OUT_OF_PHYSICAL_RANGE
    else:
        reason[v < 0] = Reason.NEGATIVE_VALUE
    reason[np.isnan(v)] = Reason.MISSING
    if flags is not None:
        fv = flag_validity(
            np.broadcast_to(np.asarray(flags, dtype=str), v.shape), edition=edition, system=System.WASTEWATER
        )
        reason = np.where(fv.valid, reason, fv.reason).astype(np.int16)
    return Validity(reason == Reason.VALID, reason)


def flow_validity(
    flow_lps: npt.ArrayLike, flags: npt.ArrayLike | None = None, *, edition: str = "HJ 212-2017"
) -> Validity:
    """Validity of flow values: negative or missing flow is invalid; zero flow is valid (no discharge)."""
    q = np.asarray(flow_lps, dtype=np.float64)
    reason = np.full(q.shape, Reason.VALID, dtype=np.int16)
    reason[q < 0] = Reason.NEGATIVE_VALUE
    reason[np.isnan(q)] = Reason.MISSING
    if flags is not None:
        fv = flag_validity(
            np.broadcast_to(np.asarray(flags, dtype=str), q.shape), edition=edition, system=System.WASTEWATER
        )
        reason = np.where(fv.valid, reason, fv.reason).astype(np.int16)
    return Validity(reason == Reason.VALID, reason)


Period = Literal["hourly", "daily"]
_SHORT: dict[str, Reason] = {"hourly": Reason.INSUFFICIENT_MINUTES, "daily": Reason.INSUFFICIENT_HOURS}


def period_minimum(period: Period) -> int:
    """The minimum count of ``tables/wastewater_validity.csv`` for ``hourly`` or ``daily`` values."""
    for row in tables.load("wastewater_validity"):
        if row["rule"] == period:
            return int(tables.number("wastewater_validity", row, "minimum"))
    raise TableError("wastewater_validity", f"no rule {period!r}")


def period_validity(valid_counts: npt.ArrayLike, *, period: Period, minimum: int | None = None) -> Validity:
    """Validity of hourly (count of valid values in the hour) or daily (count of valid hours) values.

    >>> period_validity([0, 1], period="hourly").valid.tolist()
    [False, True]
    """
    if period not in _SHORT:
        raise InvalidInput(f"period must be 'hourly' or 'daily', got {period!r}", period)
    need = period_minimum(period) if minimum is None else minimum
    return count_validity(valid_counts, need, _SHORT[period])


def discharge_m3(flow_lps: npt.ArrayLike, seconds: npt.ArrayLike) -> FloatArray:
    """``D = Q * T * 1e-3`` m³ for Q in L/s over T seconds."""
    out: FloatArray = np.asarray(flow_lps, dtype=np.float64) * np.asarray(seconds, dtype=np.float64) * 1e-3
    return out


def load_kg(concentration_mg_l: npt.ArrayLike, discharge: npt.ArrayLike) -> FloatArray:
    """``G = D * C * 1e-3`` kg for C in mg/L and D in m³."""
    out: FloatArray = (
        np.asarray(discharge, dtype=np.float64) * np.asarray(concentration_mg_l, dtype=np.float64) * 1e-3
    )
    return out


def flow_weighted_mean(
    concentration_mg_l: npt.ArrayLike,
    flow_lps: npt.ArrayLike,
    seconds: npt.ArrayLike,
    valid: npt.ArrayLike,
    *,
    axis: int = -1,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Period (along ``axis``) mean ``G / D * 1e3`` from valid slices: (mean mg/L, discharge m³, load kg).

    Discharge counts every slice with a valid flow reading (``valid`` marks the concentration); the mean
    uses only slices whose concentration is valid too. NaN mean where no such slice has discharge.
    """
    c = np.asarray(concentration_mg_l, dtype=np.float64)
    q = np.asarray(flow_lps, dtype=np.float64)
    ok = np.asarray(valid, dtype=bool)
    if c.shape != q.shape or c.shape != ok.shape:
        raise InvalidInput(
            f"concentration, flow and valid must share a shape: {c.shape} {q.shape} {ok.shape}"
        )
    d = discharge_m3(np.where(np.isnan(q) | (q < 0), 0.0, q), np.broadcast_to(np.asarray(seconds), c.shape))
    total_d = d.sum(axis=axis)
    g = load_kg(np.where(ok, c, 0.0), np.where(ok, d, 0.0))
    total_g = g.sum(axis=axis)
    d_valid = np.where(ok, d, 0.0).sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(d_valid > 0, total_g / d_valid * 1e3, np.nan)
    return mean, total_d, total_g


def arithmetic_mean(values: npt.ArrayLike, valid: npt.ArrayLike, *, axis: int = -1) -> FloatArray:
    """Mean of the valid values along ``axis`` (NaN when none)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.asarray(valid, dtype=bool) & ~np.isnan(v)
    n = ok.sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(n > 0, np.where(ok, v, 0.0).sum(axis=axis) / n, np.nan)
    return out


def fill_missing(
    values: npt.ArrayLike, valid: npt.ArrayLike, *, is_ph: bool = False, neighbours: int = 1
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Fill each invalid hour from up to ``neighbours`` valid hours on each side (mean; median for pH).

    Returns (filled values, filled mask). Hours with no valid neighbour on either side stay NaN.
    UNVERIFIED practice (module docstring); keep the original values and flags beside the result.
    """
    if neighbours < 1:
        raise InvalidInput(f"neighbours must be >= 1, got {neighbours}", neighbours)
    v = np.asarray(values, dtype=np.float64)
    ok = np.asarray(valid, dtype=bool) & ~np.isnan(v)
    if v.ndim != 1 or ok.shape != v.shape:
        raise InvalidInput("fill_missing takes one 1-D series and a mask of the same length")
    out = np.where(ok, v, np.nan)
    filled = np.zeros(v.shape, dtype=bool)
    idx = np.flatnonzero(ok)
    for i in np.flatnonzero(~ok):
        pos = np.searchsorted(idx, i)
        around = np.concatenate((idx[max(0, pos - neighbours) : pos], idx[pos : pos + neighbours]))
        if around.size == 0:
            continue
        out[i] = float(np.median(v[around])) if is_ph else float(np.mean(v[around]))
        filled[i] = True
    return out, filled
