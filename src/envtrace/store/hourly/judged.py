"""Judged values: their content, the append-a-version rule, and the queries of current values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    insert,
    select,
)

from envtrace.store.hourly.tables import PERIOD_S, latest, rollup_value


@dataclass(frozen=True, slots=True)
class ValueDraft:
    """The content of one judged value; see the ``rollup_value`` column comments."""

    station_id: int
    granularity: str
    parameter: str
    period_ts: int
    kind: str
    source: str
    valid: bool
    reason: int
    flag: str | None
    n_total: int | None
    n_valid: int | None
    n_stopped: int | None
    unit: str | None
    value: float | None
    vmin: float | None
    vmax: float | None
    zs_value: float | None
    zs_reason: int | None
    o2_ref: float | None
    o2: float | None
    volume_m3: float | None
    mass_kg: float | None
    max_1h: float | None
    max_8h: float | None
    station_value: float | None
    station_zs_value: float | None
    station_cou: float | None
    station_flag: str | None
    edition: str
    flag_edition: str | None
    rules: str
    detail: str

    @property
    def key(self) -> tuple[int, str, str, int]:
        return (self.station_id, self.granularity, self.parameter, self.period_ts)

    @property
    def period_end(self) -> int:
        return self.period_ts + PERIOD_S[self.granularity]

    @property
    def mass_t(self) -> float | None:
        """The period's emitted or discharged mass in tonnes (daily totals are reported in t)."""
        return None if self.mass_kg is None else self.mass_kg / 1000.0

    @property
    def rate_kg_h(self) -> float | None:
        """Emission rate of an hour (kg/h: the hour's mass); None for days."""
        return self.mass_kg if self.granularity == "hour" else None

    def content(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in VALUE_FIELDS)


VALUE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ValueDraft))


@dataclass(frozen=True, slots=True)
class JudgedValue(ValueDraft):
    """A stored version of a judged value."""

    id: int
    version: int
    computed_ts: int

    def draft(self) -> ValueDraft:
        return ValueDraft(**{f: getattr(self, f) for f in VALUE_FIELDS})


def _judged(row: RowMapping) -> JudgedValue:
    return JudgedValue(**{f: row[f] for f in (*VALUE_FIELDS, "id", "version", "computed_ts")})


_VALUE_KEY = ("station_id", "granularity", "parameter", "period_ts")


def current_values(
    conn: Connection, station_id: int, granularity: str, periods: Iterable[int]
) -> dict[tuple[str, int], JudgedValue]:
    """The current version of every parameter's value of a station at the given periods."""
    wanted = sorted(set(periods))
    out: dict[tuple[str, int], JudgedValue] = {}
    v = rollup_value.c
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        q = latest(
            rollup_value,
            _VALUE_KEY,
            v.station_id == station_id,
            v.granularity == granularity,
            v.period_ts.in_(chunk),
        )
        for row in conn.execute(q).mappings():
            out[(row["parameter"], row["period_ts"])] = _judged(row)
    return out


def append_values(conn: Connection, drafts: Sequence[ValueDraft], *, computed_ts: int) -> list[JudgedValue]:
    """Append a new version for each draft whose content differs from its key's current version.

    Returns the versions appended (unchanged drafts append nothing).
    """
    groups: dict[tuple[int, str], list[ValueDraft]] = {}
    for d in drafts:
        groups.setdefault((d.station_id, d.granularity), []).append(d)
    rows: list[dict[str, Any]] = []
    for (sid, gran), items in groups.items():
        current = current_values(conn, sid, gran, (d.period_ts for d in items))
        for d in items:
            old = current.get((d.parameter, d.period_ts))
            if old is not None and old.content() == d.content():
                continue
            row: dict[str, Any] = {f: getattr(d, f) for f in VALUE_FIELDS}
            row.update(version=1 if old is None else old.version + 1, computed_ts=computed_ts)
            rows.append(row)
    if not rows:
        return []
    result = conn.execute(
        insert(rollup_value).returning(rollup_value.c.id, sort_by_parameter_order=True), rows
    )
    ids = [int(i) for i in result.scalars()]
    return [JudgedValue(**row, id=i) for row, i in zip(rows, ids, strict=True)]


def values(
    conn: Connection,
    station_id: int,
    parameter: str,
    *,
    granularity: str = "hour",
    start: int | None = None,
    end: int | None = None,
    limit: int = 10_000,
) -> list[JudgedValue]:
    """Current judged values of a station's parameter with ``start <= period_ts < end``, by time."""
    v = rollup_value.c
    where = [v.station_id == station_id, v.parameter == parameter, v.granularity == granularity]
    if start is not None:
        where.append(v.period_ts >= start)
    if end is not None:
        where.append(v.period_ts < end)
    q = latest(rollup_value, _VALUE_KEY, *where).order_by(v.period_ts).limit(limit)
    return [_judged(r) for r in conn.execute(q).mappings()]


def station_values(
    conn: Connection, station_id: int, *, granularity: str = "hour", start: int, end: int
) -> list[JudgedValue]:
    """Current judged values of every parameter of a station in ``[start, end)``, by time then parameter."""
    v = rollup_value.c
    q = latest(
        rollup_value,
        _VALUE_KEY,
        v.station_id == station_id,
        v.granularity == granularity,
        v.period_ts >= start,
        v.period_ts < end,
    ).order_by(v.period_ts, v.parameter)
    return [_judged(r) for r in conn.execute(q).mappings()]


def value_versions(
    conn: Connection, station_id: int, parameter: str, period_ts: int, *, granularity: str = "hour"
) -> list[JudgedValue]:
    """Every version of one value, oldest first (the last is current)."""
    v = rollup_value.c
    q = (
        select(rollup_value)
        .where(
            v.station_id == station_id,
            v.parameter == parameter,
            v.granularity == granularity,
            v.period_ts == period_ts,
        )
        .order_by(v.version)
    )
    return [_judged(r) for r in conn.execute(q).mappings()]
