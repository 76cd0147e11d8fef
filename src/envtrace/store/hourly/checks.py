"""What the roll-up reads of a station's automatic standard-sample checks (HJ 212-2025 CN 2062).

The checks themselves are stored by the gateway (``envtrace.store.payloads.standard_check``); these
queries give the roll-up the checks that decide a range of hours (the newest *judgeable* check of
each parameter before the range, then every check in it), and the hours a newly arrived check can
change (up to the parameter's next check).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

from envtrace.store.payloads import CHECK_COLUMNS, StandardCheck, standard_check


def _judgeable(*, verdict_only: bool) -> ColumnElement[bool]:
    c = standard_check.c
    if verdict_only:
        return c.result.is_not(None)
    return or_(c.result.is_not(None), and_(c.measured.is_not(None), c.nominal.is_not(None)))


def checks_deciding(
    conn: Connection,
    station_id: int,
    *,
    parameters: Iterable[str],
    start: int,
    end: int,
    verdict_only: bool = False,
) -> list[StandardCheck]:
    """Per parameter, the newest check before ``start`` that carries a verdict or both values (only a
    verdict with ``verdict_only``: the state the range starts in), then every check with
    ``start <= data_ts < end``; by parameter and time."""
    params = sorted(set(parameters))
    if not params:
        return []
    c = standard_check.c
    newest = (
        select(c.parameter, func.max(c.data_ts).label("ts"))
        .where(
            c.station_id == station_id,
            c.parameter.in_(params),
            c.data_ts < start,
            _judgeable(verdict_only=verdict_only),
        )
        .group_by(c.parameter)
        .subquery()
    )
    before = select(standard_check).join(
        newest, and_(c.parameter == newest.c.parameter, c.data_ts == newest.c.ts)
    )
    before = before.where(c.station_id == station_id)
    within = select(standard_check).where(
        c.station_id == station_id, c.parameter.in_(params), c.data_ts >= start, c.data_ts < end
    )
    rows = [*conn.execute(before).mappings(), *conn.execute(within).mappings()]
    found = [StandardCheck(**{k: r[k] for k in CHECK_COLUMNS}) for r in rows]
    return sorted(found, key=lambda x: (x.parameter, x.data_ts))


def next_check_ts(conn: Connection, station_id: int, parameter: str, after: int) -> int | None:
    """The time of the parameter's first check after ``after``, if any."""
    c = standard_check.c
    found = conn.execute(
        select(func.min(c.data_ts)).where(
            c.station_id == station_id, c.parameter == parameter, c.data_ts > after
        )
    ).scalar()
    return None if found is None else int(found)
