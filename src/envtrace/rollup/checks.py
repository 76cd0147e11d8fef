"""Automatic standard-sample checks (HJ 212-2025 CN 2062) in the hourly verdict of CEMS data.

Each check the gateway stored (``standard_check``) is judged on ``RollupOptions.standard_check_basis``
(``envtrace.standards.judge_check``: the station's ResultType, the platform's HJ 75 drift
judgement from measured vs nominal vs the analyser span of ``station_parameter.span``, or either).
A failed check puts the parameter's analyser out of control, by ``standard_check_scope``: from the
failed check until the next passing check (``until_pass``, HJ 75 practice, UNVERIFIED) or only the
hour the check started in (``hour``). An hour overlapping that period is invalid with reason
``STANDARD_CHECK_FAILED`` -- except a stopped hour (flag F), which stays out of the capture
denominators -- and its ``detail.standard_check`` cites the failed check (time, measured, nominal,
ResultType, drift, who judged it, its raw frame) and, when the hour had another reason before,
``superseded_reason``. Checks made during an hour are listed in the same place whatever their
outcome: a passing check is the hour's evidence of quality control.

Only stations of the kinds in ``standard_check_kinds`` (flue gas by default) are judged this way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from envtrace.rollup.minutes import Judged
from envtrace.rollup.options import RollupOptions
from envtrace.standards import (
    CheckVerdict,
    OutOfControl,
    Reason,
    cems_unit_kind,
    hour_out_of_control,
    judge_check,
    out_of_control_periods,
)
from envtrace.store.hourly import StationContext, clean
from envtrace.store.payloads import StandardCheck

HOUR = 3600


@dataclass(frozen=True, slots=True)
class ParameterChecks:
    """One parameter's checks (ascending), their verdicts and the out-of-control periods."""

    checks: tuple[StandardCheck, ...]
    verdicts: tuple[CheckVerdict, ...]
    periods: tuple[OutOfControl, ...]


def _record(check: StandardCheck, verdict: CheckVerdict) -> dict[str, object]:
    return {
        "ts": check.data_ts,
        "measured": clean(check.measured),
        "nominal": clean(check.nominal),
        "result": check.result,
        "passed": verdict.passed,
        "judged_by": verdict.judged_by,
        "drift_pct_fs": clean(verdict.drift_pct_fs),
        "drift": None if verdict.drift is None else verdict.drift.name.lower(),
        "frame_id": check.frame_id,
    }


class StationChecks:
    """The checks deciding a station's hours (``store.hourly.checks_deciding``), judged once."""

    def __init__(self, ctx: StationContext, checks: Iterable[StandardCheck], options: RollupOptions) -> None:
        self.basis = options.standard_check_basis
        self.scope = options.standard_check_scope
        grouped: dict[str, list[StandardCheck]] = {}
        for c in sorted(checks, key=lambda c: (c.parameter, c.data_ts)):
            grouped.setdefault(c.parameter, []).append(c)
        self.by_parameter: dict[str, ParameterChecks] = {}
        for parameter, found in grouped.items():
            verdicts = tuple(
                judge_check(
                    c.measured,
                    c.nominal,
                    c.result,
                    span=ctx.spans.get(parameter),
                    unit_kind=cems_unit_kind(parameter),
                    basis=self.basis,
                )
                for c in found
            )
            periods = out_of_control_periods(
                [c.data_ts for c in found], [v.passed for v in verdicts], scope=self.scope
            )
            self.by_parameter[parameter] = ParameterChecks(tuple(found), verdicts, tuple(periods))

    def detail(self, parameter: str, hour_ts: int) -> tuple[bool, dict[str, object] | None]:
        """(out of control, ``detail.standard_check``) of a parameter's hour; None: nothing to say."""
        pc = self.by_parameter.get(parameter)
        if pc is None:
            return False, None
        end = hour_ts + HOUR
        during = [
            _record(c, v) for c, v in zip(pc.checks, pc.verdicts, strict=True) if hour_ts <= c.data_ts < end
        ]
        period = hour_out_of_control(hour_ts, pc.periods)
        if period is None and not during:
            return False, None
        out: dict[str, object] = {"basis": self.basis, "scope": self.scope, "checks": during}
        if period is not None:
            cited = max(
                (
                    i
                    for i, (c, v) in enumerate(zip(pc.checks, pc.verdicts, strict=True))
                    if v.passed is False and period.start <= c.data_ts < end
                ),
                default=period.failed,
            )
            # the newest failed check governing the hour (never the start of the whole period: that
            # would depend on how far back a computation happened to read)
            out["failed"] = {"parameter": parameter, **_record(pc.checks[cited], pc.verdicts[cited])}
        return period is not None, out


def apply(
    judged: Mapping[str, Judged], hour_ts: int, checks: StationChecks | None
) -> tuple[dict[str, Judged], dict[str, dict[str, object]]]:
    """The parameters' hours with the checks applied, and ``detail.standard_check`` by parameter."""
    out = dict(judged)
    details: dict[str, dict[str, object]] = {}
    if checks is None:
        return out, details
    for parameter, j in judged.items():
        failed, detail = checks.detail(parameter, hour_ts)
        if detail is None:
            continue
        if failed and j.reason != Reason.STOPPED:
            if j.reason != Reason.VALID:
                detail["superseded_reason"] = j.reason
            out[parameter] = replace(j, valid=False, reason=int(Reason.STANDARD_CHECK_FAILED))
        details[parameter] = detail
    return out, details


def hours_to_requeue(check: StandardCheck, next_check: int | None, scope: str) -> tuple[int, int]:
    """``[start, end)`` of the hours a newly arrived check can change: its own hour, and with
    ``until_pass`` every later hour up to the hour of the parameter's next check."""
    start = check.data_ts - check.data_ts % HOUR
    if scope == "hour":
        return start, start + HOUR
    if next_check is None:
        return start, 2**62
    return start, next_check - next_check % HOUR + HOUR
