"""envtrace.standards: the national technical standards as pure, table-driven rules.

Validity (HJ 212 flags, HJ 75/76 CEMS, HJ 355/356 wastewater, GB 3095/HJ 663 ambient), corrections and
conversions (HJ 212-2017 appendix D), AQI (HJ 633-2012 and -2026), limits (GB 3095, GB 13223, GB 13271)
and the edition of each standard in force at a data time. Every number lives in ``tables/*.csv`` with a
``source`` column; each module's docstring says what it implements and what it leaves out. Functions take
and return numpy arrays (one station-hour per element). No I/O beyond reading the package's own tables.
"""

from envtrace.standards.ambient import (
    annual_validity,
    daily_mean,
    daily_report_inputs,
    moving_mean,
    o3_8h_moving,
    o3_daily_max_8h,
)
from envtrace.standards.ambient import hourly_validity as ambient_hourly_validity
from envtrace.standards.ambient import hourly_validity_from_flags as ambient_hourly_validity_from_flags
from envtrace.standards.aqi import ITEMS, AqiTable, Missing, Report, aqi_series, aqi_table, report_items
from envtrace.standards.aqi import hourly_items as aqi_hourly_items
from envtrace.standards.cems import (
    DriftJudgement,
    HourState,
    Substitution,
    capture_rate,
    drift_limit,
    hour_states,
    judge_drift,
    monthly_validity,
    substitute_invalid_hours,
)
from envtrace.standards.cems import daily_validity as cems_daily_validity
from envtrace.standards.cems import hourly_validity as cems_hourly_validity
from envtrace.standards.cems import hourly_validity_from_counts as cems_hourly_validity_from_counts
from envtrace.standards.checks import (
    CheckVerdict,
    OutOfControl,
    cems_unit_kind,
    hour_out_of_control,
    judge_check,
    out_of_control_periods,
)
from envtrace.standards.editions import (
    AqiEdition,
    Family,
    Gb3095Edition,
    Hj212Edition,
    edition_at,
    edition_codes_at,
    editions,
)
from envtrace.standards.errors import (
    AmbiguousLimit,
    InvalidInput,
    StandardsError,
    TableError,
    UnknownEdition,
    UnknownItem,
)
from envtrace.standards.flags import (
    FlagStatus,
    System,
    aggregate_flags,
    flag_rules,
    flag_status,
    flag_validity,
)
from envtrace.standards.fluegas import (
    Corrected,
    correct_by_excess_air,
    correct_to_reference_o2,
    emission_rate_kg_h,
    emission_total_t,
    flow_m3_per_h,
    mg_m3_to_ppm,
    nox_as_no2_mg_m3,
    ppm_to_mg_m3,
    reference_o2,
    standard_dry_flow_m3_per_h,
    to_dry_basis,
    to_standard_state,
)
from envtrace.standards.iaqi import breakpoints, categories, iaqi, levels
from envtrace.standards.limits import (
    AmbientLimit,
    EmissionLimit,
    LimitRow,
    Scope,
    ambient_limit,
    ambient_limit_at,
    find_emission_limits,
    resolve_limit,
    resolve_limits,
)
from envtrace.standards.rounding import round_gbt8170
from envtrace.standards.validity import Reason, Validity, describe

__all__ = [
    "ITEMS",
    "AmbientLimit",
    "AmbiguousLimit",
    "AqiEdition",
    "AqiTable",
    "CheckVerdict",
    "Corrected",
    "DriftJudgement",
    "EmissionLimit",
    "Family",
    "FlagStatus",
    "Gb3095Edition",
    "Hj212Edition",
    "HourState",
    "InvalidInput",
    "LimitRow",
    "Missing",
    "OutOfControl",
    "Reason",
    "Report",
    "Scope",
    "StandardsError",
    "Substitution",
    "System",
    "TableError",
    "UnknownEdition",
    "UnknownItem",
    "Validity",
    "aggregate_flags",
    "ambient_hourly_validity",
    "ambient_hourly_validity_from_flags",
    "ambient_limit",
    "ambient_limit_at",
    "annual_validity",
    "aqi_hourly_items",
    "aqi_series",
    "aqi_table",
    "breakpoints",
    "capture_rate",
    "categories",
    "cems_daily_validity",
    "cems_hourly_validity",
    "cems_hourly_validity_from_counts",
    "cems_unit_kind",
    "correct_by_excess_air",
    "correct_to_reference_o2",
    "daily_mean",
    "daily_report_inputs",
    "describe",
    "drift_limit",
    "edition_at",
    "edition_codes_at",
    "editions",
    "emission_rate_kg_h",
    "emission_total_t",
    "find_emission_limits",
    "flag_rules",
    "flag_status",
    "flag_validity",
    "flow_m3_per_h",
    "hour_out_of_control",
    "hour_states",
    "iaqi",
    "judge_check",
    "judge_drift",
    "levels",
    "mg_m3_to_ppm",
    "monthly_validity",
    "moving_mean",
    "nox_as_no2_mg_m3",
    "o3_8h_moving",
    "o3_daily_max_8h",
    "out_of_control_periods",
    "ppm_to_mg_m3",
    "reference_o2",
    "report_items",
    "resolve_limit",
    "resolve_limits",
    "round_gbt8170",
    "standard_dry_flow_m3_per_h",
    "substitute_invalid_hours",
    "to_dry_basis",
    "to_standard_state",
]
