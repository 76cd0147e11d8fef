"""Standard-sample checks (HJ 212-2025 CN 2062) judged by HJ 75 practice: verdicts, out-of-control periods.

Drift limits are those of ``tables/hj75_drift_limits.csv`` (HJ 75-2017 table 4 as remembered,
UNVERIFIED): gaseous span 2.5 % FS drift / 10 % FS out of control, particulate 2 / 8, velocity 3 / 8.
"""

from __future__ import annotations

import pytest

from envtrace.standards import (
    DriftJudgement,
    InvalidInput,
    OutOfControl,
    Reason,
    cems_unit_kind,
    describe,
    hour_out_of_control,
    judge_check,
    out_of_control_periods,
)


@pytest.mark.parametrize(
    ("parameter", "kind"),
    [("a21026", "gaseous"), ("a19001", "gaseous"), ("a34013", "particulate"), ("a01011", "velocity"),
     ("w01018", None), ("a01012", None)],
)  # fmt: skip
def test_unit_kinds(parameter: str, kind: str | None) -> None:
    assert cems_unit_kind(parameter) == kind


@pytest.mark.parametrize(
    ("measured", "nominal", "span", "kind", "drift", "judgement"),
    [
        (410.0, 400.0, 500.0, "gaseous", 2.0, DriftJudgement.WITHIN),
        (412.5, 400.0, 500.0, "gaseous", 2.5, DriftJudgement.WITHIN),  # at the limit: within
        (449.0, 400.0, 500.0, "gaseous", 9.8, DriftJudgement.DRIFT_EXCEEDED),
        (350.0, 400.0, 500.0, "gaseous", -10.0, DriftJudgement.DRIFT_EXCEEDED),  # at the limit
        (451.0, 400.0, 500.0, "gaseous", 10.2, DriftJudgement.OUT_OF_CONTROL),
        (349.0, 400.0, 500.0, "gaseous", -10.2, DriftJudgement.OUT_OF_CONTROL),  # both signs
        (84.5, 80.0, 100.0, "particulate", 4.5, DriftJudgement.DRIFT_EXCEEDED),
        (88.5, 80.0, 100.0, "particulate", 8.5, DriftJudgement.OUT_OF_CONTROL),
    ],
)
def test_platform_drift_judgement(
    measured: float, nominal: float, span: float, kind: str, drift: float, judgement: DriftJudgement
) -> None:
    v = judge_check(measured, nominal, None, span=span, unit_kind=kind, basis="platform")
    assert v.drift_pct_fs == pytest.approx(drift)
    assert v.drift is judgement
    assert v.passed is (judgement is not DriftJudgement.OUT_OF_CONTROL)  # only out of control fails
    assert v.judged_by == "platform"


@pytest.mark.parametrize(
    ("result", "measured", "basis", "passed", "by"),
    [
        (0, 449.0, "station", False, "station"),
        (0, 449.0, "platform", True, "platform"),
        (0, 449.0, "either", False, "station+platform"),
        (1, 451.0, "station", True, "station"),
        (1, 451.0, "platform", False, "platform"),
        (1, 451.0, "either", False, "station+platform"),
        (1, 401.0, "either", True, "station+platform"),
        (None, 451.0, "station", None, "none"),  # no ResultType: the station basis cannot judge
        (None, 451.0, "either", False, "platform"),
        (None, 401.0, "either", True, "platform"),
    ],
)
def test_bases(result: int | None, measured: float, basis: str, passed: bool | None, by: str) -> None:
    v = judge_check(measured, 400.0, result, span=500.0, unit_kind="gaseous", basis=basis)
    assert (v.passed, v.judged_by) == (passed, by)
    assert v.station_passed is (None if result is None else result == 1)


@pytest.mark.parametrize(
    ("span", "kind", "measured"),
    [(None, "gaseous", 451.0), (0.0, "gaseous", 451.0), (500.0, None, 451.0), (500.0, "gaseous", None),
     (float("nan"), "gaseous", 451.0)],
)  # fmt: skip
def test_platform_falls_back_to_the_station_when_it_cannot_judge(
    span: float | None, kind: str | None, measured: float | None
) -> None:
    v = judge_check(measured, 400.0, 0, span=span, unit_kind=kind, basis="platform")
    assert (v.passed, v.judged_by, v.drift_pct_fs, v.drift) == (False, "station", None, None)
    neither = judge_check(measured, 400.0, None, span=span, unit_kind=kind, basis="either")
    assert (neither.passed, neither.judged_by) == (None, "none")


def test_a_result_type_outside_0_and_1_is_no_verdict() -> None:
    assert judge_check(1.0, 1.0, 2, span=None, unit_kind=None, basis="station").passed is None


T = 1_780_000_000 - 1_780_000_000 % 3600  # an hour start


def test_until_pass_runs_from_the_failed_check_to_the_next_passing_one() -> None:
    times = [T + 600, T + 4000, T + 8000, T + 9000, T + 20000, T + 30000]
    passed = [True, False, None, False, True, False]
    assert out_of_control_periods(times, passed, scope="until_pass") == [
        OutOfControl(T + 4000, T + 20000, 1),  # an unjudged check and a second failure change nothing
        OutOfControl(T + 30000, None, 5),  # no passing check yet: open
    ]


def test_hour_scope_is_the_hour_of_each_failed_check() -> None:
    times = [T + 600, T + 4000, T + 9000]
    assert out_of_control_periods(times, [False, True, False], scope="hour") == [
        OutOfControl(T, T + 3600, 0),
        OutOfControl(T + 7200, T + 10800, 2),
    ]


@pytest.mark.parametrize(
    ("hour", "found"),
    [(T - 3600, False), (T, True), (T + 3600, True), (T + 7200, True), (T + 10800, False)],
)
def test_an_hour_overlapping_the_period_is_out_of_control(hour: int, found: bool) -> None:
    # out of control from 00:50 to 02:10 (relative): the hours 00, 01 and 02 overlap it
    period = OutOfControl(T + 3000, T + 7800, 0)
    assert (hour_out_of_control(hour, [period]) is not None) is found


def test_a_pass_exactly_on_the_hour_leaves_that_hour_in_control() -> None:
    assert hour_out_of_control(T + 3600, [OutOfControl(T + 10, T + 3600, 0)]) is None
    assert hour_out_of_control(T + 3600, [OutOfControl(T + 10, None, 0)]) is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"times": [T, T + 1], "passed": [False], "scope": "until_pass"}, "differ in length"),
        ({"times": [T + 1, T], "passed": [False, True], "scope": "until_pass"}, "ascending"),
        ({"times": [T], "passed": [False], "scope": "day"}, "scope"),
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        out_of_control_periods(**kwargs)  # type: ignore[arg-type]


def test_an_unknown_basis_is_refused() -> None:
    with pytest.raises(InvalidInput, match="basis"):
        judge_check(1.0, 1.0, 1, span=None, unit_kind=None, basis="lab")


def test_the_reason_has_words() -> None:
    assert int(Reason.STANDARD_CHECK_FAILED) == 13  # stored in rollup_value.reason: never renumber
    assert "standard-sample check" in describe(Reason.STANDARD_CHECK_FAILED)
