"""The limit that applies to a station's parameter, its reference O2, and the exceedance judgement.

Limit rows come from the ``limit_rule`` table (``envtrace.store.hourly``):

* a *value* row (permit, local or national scope) gives a parameter's limit, unit, averaging
  (``1h`` hourly, ``24h`` daily), optional reference O2 and effective dates, for one station or for
  every station its selectors (kind, city, enterprise industry) match;
* a *national assignment* row names a national emission-limit table (``standard``, ``facility``,
  ``condition`` of ``envtrace.standards.find_emission_limits``): its rows for that condition apply, and
  the table's ``all`` rows for the pollutants the condition does not name.

``envtrace.standards.resolve_limit`` picks the row in force: permit > local > national, a station's
own row before a general one, then the latest effective-from; two rows still tied raise
``AmbiguousLimit``, which the job counts and logs instead of guessing.

Reference O2 of a corrected value, in order: the station's parameter registry (``o2_ref``), the
applicable limit row, the industry table (``standards.reference_o2`` of the enterprise's industry and
a national assignment's facility), else none (no corrected value: the standard dry concentration
stands, HJ 212-2017 appendix D).

An exceedance is a **valid** hour (``1h`` limits) or day (``24h``) whose value, corrected to the
limit's reference O2 when the limit has one (else the corrected value when the station corrects, else
the measured one), is above the limit in the same unit family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from envtrace.rollup import units
from envtrace.standards import (
    AmbiguousLimit,
    LimitRow,
    Scope,
    StandardsError,
    correct_to_reference_o2,
    find_emission_limits,
    reference_o2,
    resolve_limit,
)
from envtrace.store.hourly import ExceedanceDraft, JudgedValue, LimitRule, StationContext

SCOPES = {"national": Scope.NATIONAL, "local": Scope.LOCAL, "permit": Scope.PERMIT}
SCOPE_NAMES = {v: k for k, v in SCOPES.items()}
AVERAGING_OF = {"hour": "1h", "day": "24h"}


@dataclass(frozen=True, slots=True)
class Applied:
    row: LimitRow
    rule_id: int | None


def _selects(rule: LimitRule, ctx: StationContext) -> bool:
    if rule.station_id is not None:
        return rule.station_id == ctx.id
    return (
        (rule.station_kind is None or rule.station_kind == ctx.kind)
        and (rule.city is None or rule.city == ctx.city)
        and (rule.industry is None or rule.industry == ctx.industry)
    )


def _national_rows(rule: LimitRule, outlet: str | None) -> list[LimitRow]:
    if rule.standard is None or rule.facility is None or rule.condition is None:
        return []
    own = find_emission_limits(standard=rule.standard, facility=rule.facility, condition=rule.condition)
    named = {e.pollutant for e in own}
    general = [
        e
        for e in find_emission_limits(standard=rule.standard, facility=rule.facility, condition="all")
        if e.pollutant not in named and rule.condition != "all"
    ]
    out = []
    for e in (*own, *general):
        if not e.hj212_code:
            continue
        start = (
            e.effective_from if rule.effective_from is None else max(e.effective_from, rule.effective_from)
        )
        row = e.as_row(outlet=outlet, effective_to=rule.effective_to)
        out.append(
            LimitRow(
                row.scope,
                row.parameter,
                row.value,
                row.unit,
                f"{row.source} ({rule.standard} {rule.facility}/{rule.condition}; {rule.source})",
                row.outlet,
                row.averaging,
                start,
                row.effective_to,
                row.o2_ref_pct,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class StationLimits:
    """The limit rows that may apply to one station, and the facilities of its national assignments."""

    outlet: str
    rows: tuple[LimitRow, ...]
    rule_ids: tuple[int | None, ...]
    facilities: tuple[str, ...]

    @classmethod
    def build(cls, ctx: StationContext, rules: Sequence[LimitRule]) -> StationLimits:
        outlet = str(ctx.id)
        rows: list[LimitRow] = []
        ids: list[int | None] = []
        facilities: list[str] = []
        for rule in rules:
            if not _selects(rule, ctx):
                continue
            mine = outlet if rule.station_id is not None else None
            if rule.standard is not None:
                expanded = _national_rows(rule, mine)
                rows.extend(expanded)
                ids.extend([rule.id] * len(expanded))
                if rule.facility:
                    facilities.append(rule.facility)
                continue
            if rule.parameter is None or rule.value is None or rule.unit is None:
                continue
            rows.append(
                LimitRow(
                    SCOPES[rule.scope],
                    rule.parameter,
                    rule.value,
                    rule.unit,
                    rule.source,
                    mine,
                    rule.averaging,
                    rule.effective_from,
                    rule.effective_to,
                    rule.o2_ref_pct,
                )
            )
            ids.append(rule.id)
        return cls(outlet, tuple(rows), tuple(ids), tuple(facilities))

    def applicable(self, parameter: str, at: int, averaging: str) -> Applied | None:
        """The row in force (raises ``AmbiguousLimit`` when two rows tie)."""
        picks = [(r, i) for r, i in zip(self.rows, self.rule_ids, strict=True) if r.averaging == averaging]
        row = resolve_limit([r for r, _ in picks], outlet=self.outlet, parameter=parameter, at=at)
        if row is None:
            return None
        rule_id = next(i for r, i in picks if r is row)
        return Applied(row, rule_id)

    def o2_ref(
        self, ctx: StationContext, parameter: str, at: int, averaging: str
    ) -> tuple[float | None, str | None]:
        """Reference O2 % for a parameter and where it came from (module docstring)."""
        if parameter in ctx.o2_ref:
            return ctx.o2_ref[parameter], "station_parameter"
        try:
            applied = self.applicable(parameter, at, averaging)
        except AmbiguousLimit:
            applied = None
        if applied is not None and applied.row.o2_ref_pct is not None:
            return applied.row.o2_ref_pct, "limit"
        if ctx.industry:
            for facility in self.facilities:
                try:
                    return reference_o2(ctx.industry, facility).o2_ref_pct, "industry_table"
                except StandardsError:
                    continue
        return None, None


def judge(value: JudgedValue, limits: StationLimits) -> ExceedanceDraft | None:
    """The exceedance of a judged value, or None (invalid, no limit, not above it, units unrelated).

    Raises ``AmbiguousLimit`` when the limit rows tie (the caller counts it).
    """
    averaging = AVERAGING_OF.get(value.granularity)
    if averaging is None or not value.valid or value.value is None:
        return None
    applied = limits.applicable(value.parameter, value.period_ts, averaging)
    if applied is None:
        return None
    row = applied.row
    concentration: float | None
    o2_ref: float | None
    if row.o2_ref_pct is not None:
        basis, o2_ref = "corrected", row.o2_ref_pct
        if value.zs_value is not None and value.o2_ref == row.o2_ref_pct:
            concentration = value.zs_value
        elif value.o2 is not None:
            c = correct_to_reference_o2([value.value], [value.o2], row.o2_ref_pct)
            concentration = float(c.values[0]) if c.validity.valid[0] else None
        else:
            concentration = None
    elif value.zs_value is not None:
        basis, o2_ref, concentration = "corrected", value.o2_ref, value.zs_value
    else:
        basis, o2_ref, concentration = "measured", None, value.value
    if concentration is None:
        return None
    f = units.factor(value.unit, row.unit)
    if f is None:
        return None
    concentration *= f
    if not concentration > row.value or row.value <= 0:
        return None
    return ExceedanceDraft(
        station_id=value.station_id,
        parameter=value.parameter,
        granularity=value.granularity,
        period_ts=value.period_ts,
        period_end=value.period_end,
        version=value.version,
        value=round(concentration, 6),
        limit_value=row.value,
        unit=units.canonical(row.unit) or row.unit,
        basis=basis,
        o2_ref=o2_ref,
        limit_scope=SCOPE_NAMES[Scope(row.scope)],
        limit_source=row.source,
        limit_rule_id=applied.rule_id,
        averaging=averaging,
    )
