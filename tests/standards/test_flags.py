"""HJ 212 data flags per edition and system kind, and the aggregated-flag rules of tables C.16-C.18."""

from __future__ import annotations

import pytest

from envtrace.standards import (
    FlagStatus,
    Reason,
    System,
    UnknownEdition,
    UnknownItem,
    aggregate_flags,
    flag_rules,
    flag_status,
    flag_validity,
)


@pytest.mark.parametrize(
    ("flag", "status", "reason"),
    [
        ("N", FlagStatus.VALID, Reason.VALID),
        ("F", FlagStatus.STOPPED, Reason.STOPPED),
        ("M", FlagStatus.INVALID, Reason.MAINTENANCE),
        ("S", FlagStatus.INVALID, Reason.MANUAL_VALUE),
        ("D", FlagStatus.INVALID, Reason.FAULT),
        ("C", FlagStatus.INVALID, Reason.CALIBRATION),
        ("T", FlagStatus.OVER_RANGE, Reason.OVER_RANGE),
        ("B", FlagStatus.INVALID, Reason.COMMS),
        ("P", FlagStatus.INVALID, Reason.UNKNOWN_FLAG),  # P was dropped in 2017
        ("X", FlagStatus.INVALID, Reason.UNKNOWN_FLAG),
    ],
)
def test_2017_flue_gas(flag: str, status: FlagStatus, reason: Reason) -> None:
    s, r = flag_status([flag], edition="HJ 212-2017", system="flue_gas")
    assert (s[0], r[0]) == (status, reason)


def test_2005_meanings() -> None:
    _s, r = flag_status(["P", "B", "F"], edition="HJ/T 212-2005", system="wastewater")
    assert r.tolist() == [Reason.POWER_FAILURE, Reason.UNKNOWN_FLAG, Reason.STOPPED]
    assert flag_rules("HJ/T 212-2005", "wastewater")["F"].meaning_en == "emission source stopped"


def test_2005_ambient_digits() -> None:
    v = flag_validity(["0", "1", "2", "3"], edition="HJ/T 212-2005", system="ambient")
    assert v.valid.tolist() == [False, True, False, True]
    assert v.reason.tolist() == [Reason.CALIBRATION, 0, Reason.INSTRUMENT_ABNORMAL, 0]
    # digits are 2005 ambient only
    assert not flag_validity(["3"], edition="HJ 212-2017", system="ambient").valid[0]


def test_stopped_differs_by_system() -> None:
    assert flag_status(["F"], edition="HJ 212-2017", system="ambient")[1][0] == Reason.INSTRUMENT_STOPPED
    assert flag_status(["F"], edition="HJ 212-2017", system="wastewater")[1][0] == Reason.STOPPED


def test_2025_keeps_2017_flags() -> None:
    assert set(flag_rules("HJ 212-2025", "flue_gas")) == set(flag_rules("HJ 212-2017", "flue_gas"))


def test_over_range_configurable_and_empty_flag() -> None:
    assert flag_validity(["T", ""], edition="HJ 212-2017", system="flue_gas").valid.tolist() == [True, True]
    v = flag_validity(["T"], edition="HJ 212-2017", system="flue_gas", over_range_valid=False)
    assert v.reason.tolist() == [Reason.OVER_RANGE]


def test_aggregate_flue_gas_75_percent() -> None:
    # 60 minute flags: 46 N (76.7 %) -> N; 45 N (75 %, not more than) -> D
    rows = [["N"] * 46 + ["C"] * 14, ["N"] * 45 + ["M"] * 15, ["F"] * 60, [""] * 60]
    assert aggregate_flags(rows, edition="HJ 212-2017", system="flue_gas").tolist() == ["N", "D", "D", ""]


def test_aggregate_wastewater_one_abnormal() -> None:
    rows = [["N"] * 5 + ["C"], ["N"] * 6, ["T", "D", "N", "N", "N", ""], ["M", "X", "N", "N", "N", "N"]]
    assert aggregate_flags(rows, edition="HJ 212-2017", system="wastewater").tolist() == ["C", "N", "D", "M"]


def test_aggregate_ambient_has_no_rule() -> None:
    with pytest.raises(UnknownItem):
        aggregate_flags([["N"]], edition="HJ 212-2017", system=System.AMBIENT)


def test_unknown_edition() -> None:
    with pytest.raises(UnknownEdition):
        flag_status(["N"], edition="HJ 212-2099", system="flue_gas")
