"""Ambient-air statistics and their validity (GB 3095-2012/2026 Table 4; HJ 663 for O3).

Implements, on numpy arrays with one station per row and NaN for an invalid or missing value:
* hourly validity from minutes of sampling (>= 45; gaseous pollutants; PM by the same rule, an envtrace
  choice since Table 4 lists no 1-h PM rule), from counts or from the HJ 212 flags of each minute (the
  reason of an invalid hour is then its commonest cause, as for CEMS hours);
* daily means from >= 20 hourly means;
* O3 8-h moving means from >= 6 hourly means in the 8 h (labelled by the window's **last** hour, hours
  stamped by their start: the 8-h mean at index t covers hours t-7..t);
* O3 daily maximum 8-h mean over the 17 windows inside the natural day (hours 0-7 ... 16-23), valid from
  >= 14 valid 8-h means (HJ 663-2013, UNVERIFIED: configurable);
* annual validity: >= 324 daily means a year and >= 27 in every month (February >= 25);
* the daily-report inputs of HJ 633 (24-h means, O3 max 1-h and max 8-h) from a day's hourly means.
Figures in ``tables/gb3095_validity.csv``.

Leaves out: the TSP/Pb/BaP sampling rules (24-h samples, >= 60 evenly spread days), the HJ 663 rule that a
day with too few 8-h means still counts when its maximum already exceeds the limit (not confirmed), and
outlier screening (HJ 630/817/818: belongs to ``envtrace.detect``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np
import numpy.typing as npt

from envtrace.standards import tables
from envtrace.standards.cems import hourly_validity as _hourly_validity_from_flags
from envtrace.standards.errors import InvalidInput, TableError
from envtrace.standards.flags import System
from envtrace.standards.validity import Reason, Validity, count_validity

FloatArray = npt.NDArray[np.float64]


@cache
def minimum(rule: str, column: str = "minimum") -> int:
    """A figure of ``tables/gb3095_validity.csv`` (annual, daily, o3_8h, hourly, o3_daily_max_8h ...)."""
    for row in tables.load("gb3095_validity"):
        if row["rule"] == rule:
            return int(tables.number("gb3095_validity", row, column))
    raise TableError("gb3095_validity", f"no rule {rule!r}")


def hourly_validity(minute_counts: npt.ArrayLike, *, need: int | None = None) -> Validity:
    """An hourly mean is valid from ``need`` (45) minutes of sampling."""
    return count_validity(
        minute_counts, minimum("hourly") if need is None else need, Reason.INSUFFICIENT_MINUTES
    )


PARTICULATES = ("PM10", "PM2.5")


def hourly_validity_from_flags(
    minute_flags: npt.ArrayLike, *, edition: str, pollutant: str | None = None, over_range_valid: bool = True
) -> Validity:
    """Hourly validity from the HJ 212 flags of each minute of the hour (rows = hours, 60 columns, ``""``
    = no value): valid from the GB 3095 Table 4 minimum of minutes of sampling (``hourly``, 45; PM10 and
    PM2.5 by ``pm_hourly``, the same figure by envtrace choice). Flags are read with the ambient meanings
    of ``edition`` (F = analyser stopped: a gap that counts). An invalid hour's reason is the commonest
    cause among its minutes that are not valid (ties to the more severe), as for CEMS hours.

    >>> flags = [["N"] * 45 + [""] * 15, ["N"] * 44 + ["C"] * 16]
    >>> v = hourly_validity_from_flags(flags, edition="HJ 212-2017", pollutant="SO2")
    >>> v.valid.tolist(), [Reason(r).name for r in v.reason]
    ([True, False], ['VALID', 'CALIBRATION'])
    """
    rule = "pm_hourly" if pollutant in PARTICULATES else "hourly"
    return _hourly_validity_from_flags(
        minute_flags,
        edition=edition,
        system=System.AMBIENT,
        minimum=minimum(rule),
        over_range_valid=over_range_valid,
    )


def _valid_values(hourly: npt.ArrayLike) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    h = np.asarray(hourly, dtype=np.float64)
    ok = ~np.isnan(h)
    return h, ok


def daily_mean(hourly: npt.ArrayLike, *, need: int | None = None) -> tuple[FloatArray, Validity]:
    """Mean over the last axis (24 hourly means of a day), valid from ``need`` (20) values; NaN if not."""
    h, ok = _valid_values(hourly)
    n = ok.sum(axis=-1)
    validity = count_validity(n, minimum("daily") if need is None else need, Reason.INSUFFICIENT_HOURS)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(validity.valid, np.where(ok, h, 0.0).sum(axis=-1) / np.maximum(n, 1), np.nan)
    return mean, validity


def moving_mean(hourly: npt.ArrayLike, window: int, need: int) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Trailing moving mean over ``window`` hours along the last axis, NaN where fewer than ``need``.

    Returns (means, counts of valid hours in each window). The first ``window - 1`` positions see only
    the hours available so far.
    """
    if window < 1 or need < 1 or need > window:
        raise InvalidInput(f"need 1 <= need <= window, got window={window}, need={need}")
    h, ok = _valid_values(hourly)
    vals = np.where(ok, h, 0.0)
    pad = [(0, 0)] * (h.ndim - 1) + [(1, 0)]
    csum = np.cumsum(np.pad(vals, pad), axis=-1)
    ccnt = np.cumsum(np.pad(ok.astype(np.int64), pad), axis=-1)
    n = h.shape[-1]
    hi = np.arange(1, n + 1)
    lo = np.maximum(hi - window, 0)
    sums = np.take(csum, hi, axis=-1) - np.take(csum, lo, axis=-1)
    counts = np.take(ccnt, hi, axis=-1) - np.take(ccnt, lo, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts >= need, sums / np.maximum(counts, 1), np.nan)
    return means, counts


def o3_8h_moving(hourly: npt.ArrayLike, *, need: int | None = None) -> tuple[FloatArray, Validity]:
    """O3 8-h moving means (index t covers t-7..t), valid from ``need`` (6) hourly means."""
    k = minimum("o3_8h") if need is None else need
    means, counts = moving_mean(hourly, 8, k)
    return means, count_validity(counts, k, Reason.INSUFFICIENT_8H_HOURS)


def o3_daily_max_8h(
    hourly_days: npt.ArrayLike, *, need_hours: int | None = None, need_windows: int | None = None
) -> tuple[FloatArray, Validity]:
    """Daily maximum 8-h O3 from one row of 24 hourly means per day (last axis = hours 0-23)."""
    h = np.asarray(hourly_days, dtype=np.float64)
    if h.shape[-1] != 24:
        raise InvalidInput(f"o3_daily_max_8h needs 24 hourly values per day, got {h.shape[-1]}", h.shape)
    k = minimum("o3_8h") if need_hours is None else need_hours
    w = minimum("o3_daily_max_8h") if need_windows is None else need_windows
    means, _ = moving_mean(h, 8, k)
    inside = means[..., 7:]
    n_valid = (~np.isnan(inside)).sum(axis=-1)
    validity = count_validity(n_valid, w, Reason.INSUFFICIENT_8H_MEANS)
    with np.errstate(invalid="ignore"):
        best = np.where(n_valid > 0, np.nanmax(np.where(np.isnan(inside), -np.inf, inside), axis=-1), np.nan)
    return np.where(validity.valid, best, np.nan), validity


def daily_max_1h(hourly_days: npt.ArrayLike, *, need: int | None = None) -> tuple[FloatArray, Validity]:
    """Daily maximum hourly mean; valid when the day has ``need`` (20) hourly means (envtrace rule)."""
    h, ok = _valid_values(hourly_days)
    n = ok.sum(axis=-1)
    validity = count_validity(n, minimum("daily") if need is None else need, Reason.INSUFFICIENT_HOURS)
    best = np.where(n > 0, np.where(ok, h, -np.inf).max(axis=-1), np.nan)
    return np.where(validity.valid, best, np.nan), validity


def annual_validity(daily_valid_per_month: npt.ArrayLike) -> Validity:
    """Annual statistic validity from counts of valid daily means per month (last axis: Jan..Dec)."""
    counts = np.asarray(daily_valid_per_month)
    if counts.shape[-1] != 12:
        raise InvalidInput(f"need 12 monthly counts on the last axis, got {counts.shape}", counts.shape)
    per_month = np.full(12, minimum("annual", "per_month_minimum"))
    per_month[1] = minimum("annual", "february_minimum")
    months_ok = (counts >= per_month).all(axis=-1)
    total_ok = counts.sum(axis=-1) >= minimum("annual")
    reason = np.where(
        total_ok,
        np.where(months_ok, Reason.VALID, Reason.INSUFFICIENT_DAYS_IN_MONTH),
        Reason.INSUFFICIENT_DAYS,
    ).astype(np.int16)
    return Validity(reason == Reason.VALID, reason)


def daily_report_inputs(hourly_days: Mapping[str, npt.ArrayLike]) -> dict[str, FloatArray]:
    """HJ 633 daily-report items from the 24 hourly means of each day (rows = days or station-days).

    Keys in: SO2, NO2, CO, O3, PM10, PM2.5 (any subset). Keys out: ``<P>_24h`` for the five daily
    means, ``O3_1h_max`` and ``O3_8h_max``; NaN where the statistic is not valid.
    """
    out: dict[str, FloatArray] = {}
    for pollutant, values in hourly_days.items():
        if pollutant == "O3":
            out["O3_1h_max"], _ = daily_max_1h(values)
            out["O3_8h_max"], _ = o3_daily_max_8h(values)
        else:
            out[f"{pollutant}_24h"], _ = daily_mean(values)
    return out
