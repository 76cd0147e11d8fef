"""Code tables (ST, CN, answer codes, flags) and the factor table with 2005 -> 2017 mapping."""

from __future__ import annotations

import pytest

from envtrace.hj212 import (
    COMMANDS,
    DATA_FLAGS,
    SYSTEMS,
    ExeRtn,
    QnRtn,
    code_2017,
    command_info,
    data_flag_meaning,
    factor,
    factor_kind,
    factors,
    system_category,
    system_medium,
)

# The command set the contract's reference accepts as known (2005 + 2017 + 2025).
CONTRACT_CN = {1000, 1001, 1002, 1011, 1012, 1013, 1014, 1021, 1022, 1031, 1032, 1041, 1042, 1061, 1062,
               1063, 1064, 1072, 2011, 2012, 2013, 2021, 2022, 2031, 2041, 2051, 2052, 2061, 2062, 2071,
               2072, 2081, 2111, *range(3011, 3023), 3024, 9011, 9012, 9013, 9014, 9015}  # fmt: skip


def test_command_table_covers_every_edition() -> None:
    assert set(COMMANDS) == CONTRACT_CN
    assert all(c.source for c in COMMANDS.values())
    heartbeat = command_info("9015")
    assert heartbeat is not None
    assert heartbeat.editions == {"2025"}
    deleted = {c.cn for c in COMMANDS.values() if c.deleted_in_2025}
    assert deleted == {3014, 3015, 3016, 3017}
    assert command_info("abcd") is None
    assert command_info(1234) is None


@pytest.mark.parametrize(
    ("st", "category"),
    [("22", "environmental-quality"), ("31", "pollution-source"), ("51", "process"),
     ("91", "interaction"), ("A1", "extension"), ("101", None), ("70", None), ("a1", None), ("AA", None)],
)  # fmt: skip
def test_system_categories(st: str, category: str | None) -> None:
    assert system_category(st) == category


def test_system_names_and_media() -> None:
    assert SYSTEMS["22"].name_en == "ambient air quality"
    assert system_medium("32") == "water"
    assert system_medium("31") == "gas"
    assert system_medium("91") is None


def test_answer_codes() -> None:
    assert int(QnRtn.CRC_ERROR) == 9
    assert int(QnRtn.UNKNOWN_ERROR) == 100
    assert int(ExeRtn.NO_DATA) == 100
    assert int(ExeRtn.SUCCESS) == 1


def test_data_flags_by_edition() -> None:
    assert data_flag_meaning("F", "2017") == "instrument stopped (停运)"
    assert data_flag_meaning("F", "2005") == "emission source stopped"
    assert data_flag_meaning("B", "2005") is None
    assert data_flag_meaning("P", "2017") is None
    assert data_flag_meaning("3", "2005") == "ambient station: normal"
    assert data_flag_meaning("Z", "2017") is None
    assert set(DATA_FLAGS) >= set("NFMSDCTB")


def test_factor_table_rows() -> None:
    table = factors()
    assert len(table) >= 70
    cod = factor("w01018")
    assert cod is not None
    assert (cod.code_2005, cod.unit, cod.value_type, cod.kind) == (
        "011",
        "mg/L",
        "N5.1",
        "water",
    )
    o3 = factor("a05024")
    assert o3 is not None
    assert o3.kind == "ambient"
    assert "not in" not in o3.source
    assert "B.2" in (o3.note or "")
    pm25 = factor("a34004")
    assert pm25 is not None
    assert pm25.unit == "ng/m³"
    assert "per station" in (pm25.note or "")
    flow = factor("a00000")
    assert flow is not None
    assert flow.cumulative_unit == "m³"
    assert flow.code_2005 == "B02"
    assert all(f.source for f in table.values())


@pytest.mark.parametrize(
    ("code", "st", "expected"),
    [
        ("B01", "32", "w00000"), ("011", "32", "w01018"), ("060", "32", "w21003"), ("001", "32", "w01001"),
        ("B02", "31", "a00000"), ("S01", "31", "a19001"), ("01", "31", "a34013"), ("02", "31", "a21026"),
        ("S01", None, "a19001"),  # only the gas list has it
        ("01", "32", None),  # a gas code in a water system: no guess
        ("w01018", "32", "w01018"), ("a21026", "22", "a21026"),  # already 2017
        ("PM25", "22", None), ("ele01", "32", None),  # vendor codes stay as received
    ],
)  # fmt: skip
def test_2005_codes_map_by_system(code: str, st: str | None, expected: str | None) -> None:
    assert code_2017(code, st=st) == expected


@pytest.mark.parametrize(
    ("code", "kind"),
    [("a21026", "flue_gas"), ("a34004", "ambient"), ("w01018", "water"), ("Leq", "noise"),
     ("i12001", "info"), ("g10101", "process"), ("e70101", "process"), ("i99999", "info"),
     ("w99999", "water"), ("a99999", None), ("PM25", None)],
)  # fmt: skip
def test_factor_kind(code: str, kind: str | None) -> None:
    assert factor_kind(code) == kind
