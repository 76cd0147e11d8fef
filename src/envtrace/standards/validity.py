"""Validity results shared by every rule: a mask plus a reason code per element.

A value is either valid (reason ``VALID``) or carries exactly one reason, the first rule it failed in the
order the calling function documents. ``STOPPED`` is special: the source (or the plant) was not
operating, so the period leaves the capture-rate denominators instead of counting against them
(HJ 212 flag F; HJ 75 practice, see ``cems.capture_rate``).

Reason codes are small integers so that millions of them fit in an ``int16`` array; :func:`describe`
turns one into words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt


class Reason(IntEnum):
    VALID = 0
    MISSING = 1
    STOPPED = 2
    INSTRUMENT_STOPPED = 3
    MAINTENANCE = 4
    CALIBRATION = 5
    FAULT = 6
    COMMS = 7
    MANUAL_VALUE = 8
    POWER_FAILURE = 9
    INSTRUMENT_ABNORMAL = 10
    OVER_RANGE = 11
    UNKNOWN_FLAG = 12
    STANDARD_CHECK_FAILED = 13
    INSUFFICIENT_READINGS = 20
    INSUFFICIENT_MINUTES = 21
    INSUFFICIENT_HOURS = 22
    INSUFFICIENT_DAYS = 23
    INSUFFICIENT_8H_HOURS = 24
    INSUFFICIENT_8H_MEANS = 25
    INSUFFICIENT_DAYS_IN_MONTH = 26
    NEGATIVE_VALUE = 30
    ZERO_FLOW = 31
    OUT_OF_PHYSICAL_RANGE = 32
    O2_AT_OR_ABOVE_AMBIENT = 40
    O2_ABOVE_CAP = 41
    MOISTURE_INVALID = 42


_WORDS: dict[Reason, str] = {
    Reason.VALID: "valid",
    Reason.MISSING: "no value",
    Reason.STOPPED: "source stopped (flag F): outside the capture-rate denominator",
    Reason.INSTRUMENT_STOPPED: "analyser stopped: a gap that counts against capture",
    Reason.MAINTENANCE: "maintenance period (flag M)",
    Reason.CALIBRATION: "calibration or QC check (flag C / 2005 ambient flag 0)",
    Reason.FAULT: "instrument fault (flag D)",
    Reason.COMMS: "instrument-DAQ communication abnormal (flag B)",
    Reason.MANUAL_VALUE: "manually entered set value (flag S)",
    Reason.POWER_FAILURE: "power failure (2005 flag P)",
    Reason.INSTRUMENT_ABNORMAL: "abnormal (2005 ambient flag 2)",
    Reason.OVER_RANGE: "above the measuring range (flag T)",
    Reason.UNKNOWN_FLAG: "flag not defined by the HJ 212 edition in force",
    Reason.STANDARD_CHECK_FAILED: "analyser out of control: an automatic standard-sample check "
    "(HJ 212-2025 CN 2062) failed and no check has passed since (HJ 75 practice)",
    Reason.INSUFFICIENT_READINGS: "fewer valid readings than the minute rule needs",
    Reason.INSUFFICIENT_MINUTES: "fewer valid minutes than the hour rule needs",
    Reason.INSUFFICIENT_HOURS: "fewer valid hours than the day rule needs",
    Reason.INSUFFICIENT_DAYS: "fewer valid days than the month or year rule needs",
    Reason.INSUFFICIENT_8H_HOURS: "fewer valid hours in the 8-h window than needed",
    Reason.INSUFFICIENT_8H_MEANS: "fewer valid 8-h means in the day than needed",
    Reason.INSUFFICIENT_DAYS_IN_MONTH: "a month has fewer valid days than the annual rule needs",
    Reason.NEGATIVE_VALUE: "negative reading",
    Reason.ZERO_FLOW: "zero flow",
    Reason.OUT_OF_PHYSICAL_RANGE: "outside the physically possible range",
    Reason.O2_AT_OR_ABOVE_AMBIENT: "O2 at or above 21 %: reference-O2 correction undefined",
    Reason.O2_ABOVE_CAP: "O2 above the configured cap: correction unsuitable",
    Reason.MOISTURE_INVALID: "moisture fraction outside [0, 1)",
}


def describe(reason: int) -> str:
    """Words for a reason code."""
    return _WORDS[Reason(reason)]


@dataclass(frozen=True, slots=True)
class Validity:
    """``valid[i]`` is True exactly when ``reason[i] == Reason.VALID``."""

    valid: npt.NDArray[np.bool_]
    reason: npt.NDArray[np.int16]

    @property
    def stopped(self) -> npt.NDArray[np.bool_]:
        out: npt.NDArray[np.bool_] = self.reason == Reason.STOPPED
        return out


def count_validity(counts: npt.ArrayLike, minimum: int, short: Reason) -> Validity:
    """Valid where ``counts >= minimum``; otherwise reason ``short``."""
    c = np.asarray(counts)
    ok = c >= minimum
    reason = np.where(ok, Reason.VALID, short).astype(np.int16)
    return Validity(ok, reason)
