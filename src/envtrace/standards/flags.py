"""HJ 212 data flags (``xxxxxx-Flag``) and what each does to validity, per edition and system kind.

Implements
* the flag meanings of HJ 212-2017 Table 8 (N F M S D C T B), HJ/T 212-2005 (N F M S D C T P, plus the
  ambient-air digits 0 calibration, 1 meteorological, 2 abnormal, 3 normal) and HJ 212-2025 (no new
  value is known, so the 2017 meanings are kept: UNVERIFIED) in ``tables/hj212_flags.csv``;
* their effect per system kind (flue gas, wastewater, ambient): valid, invalid with a reason, stopped
  (F at a source: the period leaves the capture-rate denominators), or over range (T: kept as a lower
  bound; counted as valid unless the caller says otherwise, UNVERIFIED);
* the aggregated-flag rules in the notes to HJ 212-2017 tables C.16-C.18: wastewater, one abnormal
  value makes the period abnormal (we report the most severe flag present, ``severity`` column); flue
  gas, the period is N when more than 75 % of the values are N, otherwise D.

Leaves out: the EFlag (vendor defined, C4), the flags of the 2020 MEE pilot marking rules (St, Sd, Md ...,
not in any HJ 212 edition), and any aggregation rule for ambient air (HJ 212 gives none: use
``ambient.hourly_validity`` on minute counts instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import cache

import numpy as np
import numpy.typing as npt

from envtrace.standards import tables
from envtrace.standards.editions import Hj212Edition
from envtrace.standards.errors import InvalidInput, TableError, UnknownEdition, UnknownItem
from envtrace.standards.validity import Reason, Validity


class System(StrEnum):
    FLUE_GAS = "flue_gas"
    WASTEWATER = "wastewater"
    AMBIENT = "ambient"


class FlagStatus(IntEnum):
    VALID = 0
    INVALID = 1
    STOPPED = 2
    OVER_RANGE = 3


@dataclass(frozen=True, slots=True)
class FlagRule:
    edition: str
    system: System
    flag: str
    meaning_zh: str
    meaning_en: str
    status: FlagStatus
    reason: Reason
    severity: int
    source: str


_STATUS = {
    "valid": FlagStatus.VALID,
    "invalid": FlagStatus.INVALID,
    "stopped": FlagStatus.STOPPED,
    "over_range": FlagStatus.OVER_RANGE,
}


@cache
def flag_rules(edition: str, system: System | str) -> Mapping[str, FlagRule]:
    """The flags defined for an HJ 212 edition and system kind, by flag letter or digit."""
    sys_ = _system(system)
    known_editions = [e.value for e in Hj212Edition]
    if edition not in known_editions:
        raise UnknownEdition("hj212", edition, known_editions)
    out: dict[str, FlagRule] = {}
    for row in tables.load("hj212_flags"):
        if row["edition"] != edition or row["system"] != sys_.value:
            continue
        if row["status"] not in _STATUS:
            raise TableError("hj212_flags", f"unknown status {row['status']!r}")
        reason = Reason[row["reason"]] if row["reason"] else Reason.VALID
        out[row["flag"]] = FlagRule(
            edition,
            sys_,
            row["flag"],
            row["meaning_zh"],
            row["meaning_en"],
            _STATUS[row["status"]],
            reason,
            int(row["severity"]),
            row["source"],
        )
    return out


def _system(system: System | str) -> System:
    try:
        return System(system)
    except ValueError as exc:
        raise UnknownItem("system kind", str(system), [s.value for s in System]) from exc


def flag_status(
    flags: npt.ArrayLike, *, edition: str, system: System | str, missing_flag: str = "N"
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int16]]:
    """Status (:class:`FlagStatus`) and reason code for each flag; any shape.

    An empty flag is read as ``missing_flag`` (devices often omit ``-Flag`` on normal data; pass
    another letter to be stricter). A flag the edition does not define is INVALID / UNKNOWN_FLAG.
    """
    rules = flag_rules(edition, system)
    arr = np.asarray(flags, dtype=str)
    uniq, inverse = np.unique(arr, return_inverse=True)
    status = np.empty(len(uniq), dtype=np.int8)
    reason = np.empty(len(uniq), dtype=np.int16)
    for i, f in enumerate(uniq):
        rule = rules.get(str(f).strip() or missing_flag)
        if rule is None:
            status[i], reason[i] = FlagStatus.INVALID, Reason.UNKNOWN_FLAG
        else:
            status[i], reason[i] = rule.status, rule.reason
    shape = arr.shape
    return status[inverse].reshape(shape), reason[inverse].reshape(shape)


def flag_validity(
    flags: npt.ArrayLike, *, edition: str, system: System | str, over_range_valid: bool = True
) -> Validity:
    """Validity of single values from their flags (T counts as valid unless ``over_range_valid`` is False)."""
    status, reason = flag_status(flags, edition=edition, system=system)
    ok = status == FlagStatus.VALID
    if over_range_valid:
        ok = ok | (status == FlagStatus.OVER_RANGE)
    return Validity(ok, np.where(ok, Reason.VALID, reason).astype(np.int16))


def aggregate_flags(flags: npt.ArrayLike, *, edition: str, system: System | str) -> npt.NDArray[np.str_]:
    """The flag of each period from the flags of its values (2-D: one row per period).

    Empty strings are absent values and take no part. A period with no values gets ``""``.
    """
    sys_ = _system(system)
    arr = np.asarray(flags, dtype=str)
    if arr.ndim != 2:
        raise InvalidInput(f"aggregate_flags needs a 2-D array (periods x values), got shape {arr.shape}")
    present = np.char.str_len(arr) > 0
    n_present = present.sum(axis=1)
    n_normal = (arr == "N").sum(axis=1)
    if sys_ is System.FLUE_GAS:
        share = float(_cems_number("flag_aggregate_normal_share"))
        normal = n_normal > share * n_present
        out = np.where(normal, "N", "D")
    elif sys_ is System.WASTEWATER:
        rules = flag_rules(edition, sys_)
        order = sorted(rules.values(), key=lambda r: -r.severity)
        out = np.full(arr.shape[0], "N", dtype="<U2")
        chosen = np.zeros(arr.shape[0], dtype=bool)
        for rule in order:
            if rule.status == FlagStatus.VALID:
                continue
            has = (arr == rule.flag).any(axis=1) & ~chosen
            out[has] = rule.flag
            chosen |= has
        unknown = (present & ~np.isin(arr, list(rules))).any(axis=1) & ~chosen
        out[unknown] = "D"
    else:
        raise UnknownItem(
            "flag aggregation rule for system", sys_.value, [System.FLUE_GAS, System.WASTEWATER]
        )
    result: npt.NDArray[np.str_] = np.where(n_present > 0, out, "")
    return result


def _cems_number(rule: str) -> float:
    for row in tables.load("cems_validity"):
        if row["rule"] == rule:
            return tables.number("cems_validity", row, "minimum")
    raise TableError("cems_validity", f"no rule {rule!r}")
