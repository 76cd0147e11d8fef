"""Limit rules: local and permit limits, and assignments of national emission-limit tables."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import (
    Connection,
    insert,
    or_,
    select,
)

from envtrace.store.hourly.tables import LIMIT_AVERAGING, LIMIT_SCOPES, limit_rule


@dataclass(frozen=True, slots=True)
class LimitRule:
    """A ``limit_rule`` row: a limit value, or (``standard``/``facility``/``condition``) the assignment
    of a national emission-limit table to the stations it selects."""

    id: int
    scope: str
    station_id: int | None
    station_kind: str | None
    city: str | None
    industry: str | None
    parameter: str | None
    value: float | None
    unit: str | None
    averaging: str
    o2_ref_pct: float | None
    standard: str | None
    facility: str | None
    condition: str | None
    effective_from: int | None
    effective_to: int | None
    source: str
    created_ts: int
    created_by: str | None


_LIMIT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LimitRule))


def add_limit_rule(
    conn: Connection,
    *,
    scope: str,
    source: str,
    created_ts: int,
    station_id: int | None = None,
    station_kind: str | None = None,
    city: str | None = None,
    industry: str | None = None,
    parameter: str | None = None,
    value: float | None = None,
    unit: str | None = None,
    averaging: str = "1h",
    o2_ref_pct: float | None = None,
    standard: str | None = None,
    facility: str | None = None,
    condition: str | None = None,
    effective_from: int | None = None,
    effective_to: int | None = None,
    created_by: str | None = None,
) -> int:
    """Add a limit rule (rules are never edited: a change is a new row with a later effective_from).

    Raises ``ValueError`` for an unknown scope or averaging, or a row that is neither a value
    (parameter, value, unit) nor a national assignment (standard, facility, condition).
    """
    if scope not in LIMIT_SCOPES:
        raise ValueError(f"limit scope {scope!r} is not one of {', '.join(LIMIT_SCOPES)}")
    if averaging not in LIMIT_AVERAGING:
        raise ValueError(f"limit averaging {averaging!r} is not one of {', '.join(LIMIT_AVERAGING)}")
    assignment = standard is not None and facility is not None and condition is not None
    if assignment and scope != "national":
        raise ValueError(f"a national-table assignment ({standard}) must have scope 'national'")
    if not assignment and (parameter is None or value is None or unit is None):
        raise ValueError("a limit rule needs parameter, value and unit (or standard, facility, condition)")
    if effective_from is not None and effective_to is not None and effective_to <= effective_from:
        raise ValueError(f"effective_to {effective_to} is not after effective_from {effective_from}")
    result = conn.execute(
        insert(limit_rule).values(
            scope=scope,
            station_id=station_id,
            station_kind=station_kind,
            city=city,
            industry=industry,
            parameter=parameter,
            value=value,
            unit=unit,
            averaging=averaging,
            o2_ref_pct=o2_ref_pct,
            standard=standard,
            facility=facility,
            condition=condition,
            effective_from=effective_from,
            effective_to=effective_to,
            source=source,
            created_ts=created_ts,
            created_by=created_by,
        )
    )
    pk = result.inserted_primary_key
    return int(pk[0]) if pk else 0


def limit_rules(conn: Connection, *, station_id: int | None = None) -> list[LimitRule]:
    """Every limit rule, or those that may apply to one station (its own and the general ones)."""
    q = select(limit_rule).order_by(limit_rule.c.id)
    if station_id is not None:
        q = q.where(or_(limit_rule.c.station_id == station_id, limit_rule.c.station_id.is_(None)))
    return [LimitRule(**{f: r[f] for f in _LIMIT_FIELDS}) for r in conn.execute(q).mappings()]
