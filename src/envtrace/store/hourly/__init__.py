"""Validity-judged hourly and daily values, AQI, exceedances, disagreements and limit rules.

These tables hold what the platform itself computes from the primary data by the national rules
(``envtrace.rollup`` computes, this module stores and queries). Unlike the raw statistics of
``envtrace.store.rollups`` every value here carries a verdict: valid or not, and why.

Nothing is edited in place. ``rollup_value``, ``rollup_aqi``, ``rollup_city_aqi``,
``rollup_exceedance``, ``rollup_disagreement`` and ``limit_rule`` are append-only (database triggers
refuse UPDATE and DELETE). A recomputation that gives another result appends a new *version* of the
key; the current view of a key is its highest version, and the older ones stay as superseded
versions. A recomputation that gives the same result appends nothing.

``rollup_value``
    one row per station x granularity (``hour`` | ``day``) x parameter x period x version.
``rollup_aqi`` / ``rollup_city_aqi``
    hourly and daily AQI of a station / of a city (mean of its stations' concentrations, then AQI).
``rollup_exceedance`` / ``rollup_disagreement``
    what ``envtrace.alarms`` consumes, by increasing ``id``. Each names the version of the value it
    was judged on; it is *current* while that version is. ``repeats`` names an earlier record with
    the same content (a re-judgement of an unchanged fact): consumers that want new facts only skip
    those (``new_only=True``).
``limit_rule``
    local and permit-specific limits, and assignments of national emission-limit tables to stations.
``rollup_cursor`` / ``rollup_series`` / ``rollup_pending`` / ``rollup_city_pending`` / ``rollup_run``
    the job's bookkeeping: the raw-frame cursor, the series each station sends, the station and city
    periods waiting to be (re)computed, and a log of runs that did work.

Every query takes the caller's ``Connection``; the caller owns the transaction. Times are Unix
seconds (UTC); hours and days are named by their start (days by the station's local midnight).

Modules: ``tables`` · ``judged`` (judged values) · ``aqi`` · ``facts`` (exceedances,
disagreements) · ``checks`` (standard-sample checks deciding hours) · ``limits`` (limit rules) ·
``inputs`` (registry facts, primary readings) · ``queue`` (cursor, queues, run log). Import from
``envtrace.store.hourly``.
"""

from envtrace.store.hourly.aqi import (
    AqiDraft,
    AqiValue,
    append_aqi,
    city_aqi,
    current_cities_aqi,
    current_city_aqi,
    current_station_aqi,
    station_aqi,
    station_aqi_at,
)
from envtrace.store.hourly.checks import checks_deciding, next_check_ts
from envtrace.store.hourly.facts import (
    DisagreementDraft,
    DisagreementRecord,
    ExceedanceDraft,
    ExceedanceRecord,
    add_disagreements,
    add_exceedances,
    disagreements,
    exceedances,
)
from envtrace.store.hourly.inputs import (
    PrimaryReading,
    StationContext,
    city_stations,
    periods_with_data,
    primary_readings,
    station_contexts,
)
from envtrace.store.hourly.judged import (
    JudgedValue,
    ValueDraft,
    append_values,
    current_values,
    station_values,
    value_versions,
    values,
)
from envtrace.store.hourly.limits import (
    LimitRule,
    add_limit_rule,
    limit_rules,
)
from envtrace.store.hourly.queue import (
    Pending,
    Touched,
    add_city_pending,
    add_pending,
    add_series,
    count_pending,
    cursor,
    cursor_value,
    done_city_pending,
    done_pending,
    due_city_pending,
    due_pending,
    newest_frame,
    postpone_pending,
    record_run,
    runs,
    series,
    set_cursor,
    stations_with_series,
    touched,
)
from envtrace.store.hourly.tables import (
    APPEND_ONLY,
    DISAGREEMENT_FIELDS,
    GRANULARITIES,
    LIMIT_AVERAGING,
    LIMIT_SCOPES,
    PERIOD_S,
    SOURCES,
    canonical,
    clean,
    limit_rule,
    rollup_aqi,
    rollup_city_aqi,
    rollup_city_pending,
    rollup_cursor,
    rollup_disagreement,
    rollup_exceedance,
    rollup_pending,
    rollup_run,
    rollup_series,
    rollup_value,
)

__all__ = [
    "APPEND_ONLY",
    "DISAGREEMENT_FIELDS",
    "GRANULARITIES",
    "LIMIT_AVERAGING",
    "LIMIT_SCOPES",
    "PERIOD_S",
    "SOURCES",
    "AqiDraft",
    "AqiValue",
    "DisagreementDraft",
    "DisagreementRecord",
    "ExceedanceDraft",
    "ExceedanceRecord",
    "JudgedValue",
    "LimitRule",
    "Pending",
    "PrimaryReading",
    "StationContext",
    "Touched",
    "ValueDraft",
    "add_city_pending",
    "add_disagreements",
    "add_exceedances",
    "add_limit_rule",
    "add_pending",
    "add_series",
    "append_aqi",
    "append_values",
    "canonical",
    "checks_deciding",
    "city_aqi",
    "city_stations",
    "clean",
    "count_pending",
    "current_cities_aqi",
    "current_city_aqi",
    "current_station_aqi",
    "current_values",
    "cursor",
    "cursor_value",
    "disagreements",
    "done_city_pending",
    "done_pending",
    "due_city_pending",
    "due_pending",
    "exceedances",
    "limit_rule",
    "limit_rules",
    "newest_frame",
    "next_check_ts",
    "periods_with_data",
    "postpone_pending",
    "primary_readings",
    "record_run",
    "rollup_aqi",
    "rollup_city_aqi",
    "rollup_city_pending",
    "rollup_cursor",
    "rollup_disagreement",
    "rollup_exceedance",
    "rollup_pending",
    "rollup_run",
    "rollup_series",
    "rollup_value",
    "runs",
    "series",
    "set_cursor",
    "station_aqi",
    "station_aqi_at",
    "station_contexts",
    "station_values",
    "stations_with_series",
    "touched",
    "value_versions",
    "values",
]
