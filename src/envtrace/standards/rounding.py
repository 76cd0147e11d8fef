"""Numerical rounding of GB/T 8170-2008 (数值修约规则) and the "round up" of HJ 633.

GB/T 8170-2008 §3.2 ("四舍六入五考虑"): when the first discarded digit is below 5, drop; above 5, or 5
followed by any non-zero digit, carry; exactly 5 followed only by zeros, carry when the kept last
digit is odd and drop when it is even (0 counts as even), so that the kept digit is even. Negative
numbers are rounded by magnitude and keep their sign (§3.2.5); that is the same as the symmetric
half-to-even rule. The standard forbids repeated rounding (不允许连续修约): round once, from the
measured value, to the final number of decimals.

Inputs arrive as binary floating point numbers that stand for decimal strings (``0.15`` is stored as
0.1499999999999999944...). A value whose scaled fraction lies within ``1e-9`` (relative) of one half is
therefore treated as an exact half: that reproduces the rule on the decimal number the instrument sent.

HJ 633 (2012 §6.2, 2026 §4.2.6) rounds IAQI and AQI **up** (进位取整); :func:`ceil_div` does that
exactly on integers.

Not implemented: rounding to a unit other than a power of ten (GB/T 8170 §3.3, "0.5 单位" and
"0.2 单位" rounding).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

HALF_TOLERANCE = 1e-9


def _round_scaled(x: npt.NDArray[np.float64], decimals: int) -> npt.NDArray[np.float64]:
    """``x * 10**decimals`` rounded by GB/T 8170 to whole numbers (still floats; NaN stays NaN)."""
    y = x * 10.0**decimals
    rounded = np.rint(y)  # IEEE half-to-even: right for every value that is not a near-half
    odd_cases = np.flatnonzero(y != rounded)  # non-integers and NaN; usually few for reported data
    if odd_cases.size:
        sub = y[odd_cases]
        floor = np.floor(sub)
        frac = sub - floor
        tolerance = HALF_TOLERANCE * np.maximum(1.0, np.abs(sub))
        is_half = np.abs(frac - 0.5) <= tolerance
        odd = np.mod(floor, 2.0) == 1.0
        rounded[odd_cases] = np.where(is_half, np.where(odd, floor + 1.0, floor), rounded[odd_cases])
    return rounded


def round_gbt8170(values: npt.ArrayLike, decimals: int = 0) -> npt.NDArray[np.float64]:
    """Round to ``decimals`` places by GB/T 8170 (half to even on the decimal value). NaN stays NaN.

    >>> round_gbt8170([0.5, 1.5, 2.5, 2.51, -2.5]).tolist()
    [0.0, 2.0, 2.0, 3.0, -2.0]
    >>> round_gbt8170([0.15, 0.25, 1.35], 1).tolist()
    [0.2, 0.2, 1.4]
    """
    x = np.asarray(values, dtype=np.float64)
    out: npt.NDArray[np.float64] = _round_scaled(x, decimals) / 10.0**decimals
    return out


def round_gbt8170_to_int(values: npt.ArrayLike, decimals: int = 0) -> npt.NDArray[np.int64]:
    """The rounded value times ``10**decimals`` as an exact integer (NaN and infinities: mask them first)."""
    x = np.asarray(values, dtype=np.float64)
    out: npt.NDArray[np.int64] = _round_scaled(x, decimals).astype(np.int64)
    return out


def ceil_div(numerator: npt.NDArray[np.int64], denominator: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Exact ceiling of ``numerator / denominator`` for a positive denominator."""
    out: npt.NDArray[np.int64] = -np.floor_divide(-numerator, denominator)
    return out
