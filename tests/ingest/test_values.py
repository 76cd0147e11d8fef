"""Readings and their digest: the planned (column-wise) path, the general path and the store's
reference encoding give the same rows and the same ``readings_sha256``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.ingest.values import frame_readings, full_row, item_row, items_of, planned_readings
from envtrace.store.series import digest_of_records, reading_record, readings_digest, record_json

TS = 1_785_500_000
CODES = ["a21026", "a21002", "a34013", "w01018", "011", "B01", "S01", "PM25", "x" * 40, "é1", "a{1}", 'q"']
SUFFIXES = ["Rtd", "Avg", "Min", "Max", "Cou", "ZsRtd", "ZsAvg", "ZsMin", "ZsMax", "Flag", "EFlag",
            "SampleTime", "Info", "SN"]  # fmt: skip
VALUES = ["12.5", "0", "-3.25", "1e3", "nan", "inf", "abc", "", "N", "Dd", "TOOLONGFLAG", "20260801085857",
          "2026080108585", " 7 ", "1_000", "40.10"]  # fmt: skip


def _legacy(cn: str, st_: str | None, items: dict[str, dict[str, str]], offset: int) -> list[tuple[Any, ...]]:
    """The rows as the gateway made them before (item_row per item, extra as JSON)."""
    rows = []
    seen: set[str] = set()
    from envtrace.hj212.factors import code_2017

    for received, fields in items.items():
        code = code_2017(received, st=st_) or received
        if len(code) > 32 or code in seen:
            continue
        seen.add(code)
        row = item_row(code, fields, offset)
        extra: dict[str, str] = row[-1]
        if code != received:
            extra["code"] = received
        text = json.dumps(extra, sort_keys=True, separators=(",", ":"), ensure_ascii=True) if extra else None
        rows.append((*row[:-1], text))
    return rows


def _digest(granularity: str, rows: list[tuple[Any, ...]]) -> str:
    return readings_digest(reading_record(r[0], granularity, TS, r[1:8], *r[8:]) for r in rows)


pairs_strategy = st.lists(
    st.tuples(
        st.one_of(
            st.builds(lambda c, s: f"{c}-{s}", st.sampled_from(CODES), st.sampled_from(SUFFIXES)),
            st.sampled_from(["DataTime", " a21026-Rtd", "-Rtd", "a21026-", "a-b-c"]),
        ),
        st.sampled_from(VALUES),
    ),
    max_size=24,
)


@settings(max_examples=400, deadline=None)
@given(
    pairs=pairs_strategy, st_=st.sampled_from(["31", "32", "22", None]), cn=st.sampled_from(["2011", "2061"])
)
def test_all_paths_agree(pairs: list[tuple[str, str]], st_: str | None, cn: str) -> None:
    items = items_of(pairs)
    granularity, rows, digest = frame_readings(cn, st_, items, TS, 480)
    legacy = _legacy(cn, st_, items, 480)
    assert [full_row(r) for r in rows] == legacy
    if rows:
        assert granularity is not None
        assert digest == _digest(granularity, legacy)
    else:
        assert digest is None
    planned = planned_readings(cn, st_, tuple(pairs), TS, 480)
    if planned is not None:
        p_granularity, p_rows, p_digest = planned
        assert p_granularity == granularity
        assert sorted(full_row(r) for r in p_rows) == sorted(legacy)
        assert p_digest == digest


def test_the_plan_is_used_for_plain_packets_and_matches() -> None:
    pairs = (
        ("DataTime", "20260801085857"),
        ("a21026-Rtd", "35.00"),
        ("a21026-Flag", "N"),
        ("a21002-Avg", "48.1"),
        ("a21002-Min", "40"),
        ("a21002-Max", "50.5"),
        ("a21002-Flag", "N"),
        ("a01012-Rtd", "62.0"),
        ("a01012-ZsRtd", "70.1"),
        ("a01012-EFlag", "A1"),
        ("a01012-SampleTime", "20260801085800"),
        ("a01012-Flag", "N"),
    )
    planned = planned_readings("2011", "31", pairs, TS, 480)
    assert planned is not None
    general = frame_readings("2011", "31", items_of(pairs), TS, 480)
    assert planned[0] == general[0] == "rtd"
    assert sorted(planned[1]) == sorted(general[1])
    assert planned[2] == general[2]


@pytest.mark.parametrize(
    "pairs",
    [
        (("a21026-Rtd", "abc"), ("a21026-Flag", "N")),  # not a number: extra
        (("a21026-Rtd", "1"), ("a21026-Flag", "TOOLONG")),  # flag too long: extra
        (("a21026-Rtd", "1"), ("a21026-Avg", "2")),  # two values for one slot
        (("011-Rtd", "1"),),  # a 2005 code to map
        (("a21026-Rtd", "1"), ("a21026-Info", "x")),  # a field for extra
        (("a21026-Rtd", "1"), ("a21026-Rtd", "2")),  # a repeated key
    ],
)
def test_packets_outside_a_plan_take_the_general_path(pairs: tuple[tuple[str, str], ...]) -> None:
    assert planned_readings("2011", "32", pairs, TS, 480) is None
    _, rows, digest = frame_readings("2011", "32", items_of(pairs), TS, 480)
    assert rows
    assert digest is not None


def test_record_json_is_the_canonical_encoding() -> None:
    from envtrace.store.series import _DUMPS

    record = ('a\u00e9"x', "rtd", TS, [1.5, None, 1e-7, 3.0, 1e20, None, -0.0], "N", None, TS, '{"a":"b"}')
    assert record_json(*record) == _DUMPS(reading_record(*record))
    rows = [("b", 1.0), ("a", 2.0)]
    records = [(p, record_json(p, "rtd", TS, [v, None, None, None, None, None, None], None, None, None, None))
               for p, v in rows]  # fmt: skip
    slow = readings_digest(
        reading_record(p, "rtd", TS, [v, None, None, None, None, None, None], None, None, None, None)
        for p, v in rows
    )
    assert digest_of_records(records) == slow


def test_non_readings_commands_make_nothing() -> None:
    assert frame_readings("2021", "31", {"a21026": {"Rtd": "1"}}, TS, 480) == (None, [], None)
    assert planned_readings("2021", "31", (("a21026-Rtd", "1"),), TS, 480) == (None, [], None)
