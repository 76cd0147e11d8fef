"""Exceedance and disagreement records: stored once per fact and value version, read by increasing id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Select,
    Table,
    func,
    insert,
    select,
)

from envtrace.store.hourly.tables import clean, rollup_disagreement, rollup_exceedance, rollup_value


@dataclass(frozen=True, slots=True)
class ExceedanceDraft:
    """A valid period whose (corrected) concentration is above the limit that applies.

    ``period_ts`` inclusive, ``period_end`` exclusive; ``value`` and ``limit_value`` in ``unit``;
    ``basis`` ``corrected`` (at ``o2_ref`` %) or ``measured``; ``limit_scope`` permit > local >
    national; ``limit_source`` names the document, clause or permit; ``version`` is the version of
    the judged value (``rollup_value``) the record was made from.
    """

    station_id: int
    parameter: str
    granularity: str
    period_ts: int
    period_end: int
    version: int
    value: float
    limit_value: float
    unit: str
    basis: str
    o2_ref: float | None
    limit_scope: str
    limit_source: str
    limit_rule_id: int | None
    averaging: str

    @property
    def ratio(self) -> float:
        return self.value / self.limit_value

    def fact(self) -> tuple[object, ...]:
        """What makes two records the same fact (the version aside)."""
        return tuple(getattr(self, f) for f in _EXCEEDANCE_FIELDS if f != "version")


_EXCEEDANCE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ExceedanceDraft))


@dataclass(frozen=True, slots=True)
class ExceedanceRecord(ExceedanceDraft):
    """A stored exceedance. ``current``: judged on the value's current version."""

    id: int
    repeats: int | None
    detected_ts: int
    current: bool


@dataclass(frozen=True, slots=True)
class DisagreementDraft:
    """The station's own value for a period and the platform's recomputation disagree.

    ``field``: ``avg`` (Avg), ``zs_avg`` (ZsAvg, the corrected value: a strong sign of a forged
    correction) or ``cou`` (Cou, the period total). The platform's admissible values form a band
    ``[min(platform_value, platform_alt), max(...)]``; ``difference`` is the station value's distance
    from it and ``tolerance`` the distance allowed (``docs/rollup.md``).
    """

    station_id: int
    parameter: str
    granularity: str
    period_ts: int
    version: int
    field: str
    station_value: float
    platform_value: float
    platform_alt: float | None
    difference: float
    tolerance: float
    decimals: int
    unit: str | None
    station_frame_id: int | None

    def fact(self) -> tuple[object, ...]:
        return (
            self.station_id,
            self.parameter,
            self.granularity,
            self.period_ts,
            self.field,
            self.station_value,
            self.platform_value,
        )


_DISAGREEMENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(DisagreementDraft))


@dataclass(frozen=True, slots=True)
class DisagreementRecord(DisagreementDraft):
    id: int
    repeats: int | None
    detected_ts: int
    current: bool


def _current_version(table: Table) -> Any:
    v = rollup_value.c
    return (
        select(func.max(v.version))
        .where(
            v.station_id == table.c.station_id,
            v.granularity == table.c.granularity,
            v.parameter == table.c.parameter,
            v.period_ts == table.c.period_ts,
        )
        .scalar_subquery()
        .label("current_version")
    )


def _append_facts(
    conn: Connection,
    table: Table,
    drafts: Sequence[ExceedanceDraft] | Sequence[DisagreementDraft],
    names: Sequence[str],
    detected_ts: int,
) -> list[int]:
    ids: list[int] = []
    for d in drafts:
        t = table.c
        same = select(table).where(
            t.station_id == d.station_id,
            t.parameter == d.parameter,
            t.granularity == d.granularity,
            t.period_ts == d.period_ts,
        )
        earlier = [r for r in conn.execute(same.order_by(t.id)).mappings() if _fact_of(table, r) == d.fact()]
        if any(r["version"] == d.version for r in earlier):
            continue  # this version was judged already
        row = {n: getattr(d, n) for n in names}
        if table is rollup_exceedance:
            row["ratio"] = clean(d.value / d.limit_value)  # type: ignore[union-attr]
        row.update(repeats=earlier[0]["id"] if earlier else None, detected_ts=detected_ts)
        result = conn.execute(insert(table).values(**row))
        pk = result.inserted_primary_key
        if pk is not None:
            ids.append(int(pk[0]))
    return ids


def _fact_of(table: Table, r: RowMapping) -> tuple[object, ...]:
    if table is rollup_exceedance:
        return tuple(r[f] for f in _EXCEEDANCE_FIELDS if f != "version")
    return (
        r["station_id"],
        r["parameter"],
        r["granularity"],
        r["period_ts"],
        r["field"],
        r["station_value"],
        r["platform_value"],
    )


def add_exceedances(conn: Connection, drafts: Sequence[ExceedanceDraft], *, detected_ts: int) -> list[int]:
    """Store exceedances (one per value version); an identical earlier fact is named in ``repeats``."""
    return _append_facts(conn, rollup_exceedance, drafts, _EXCEEDANCE_FIELDS, detected_ts)


def add_disagreements(
    conn: Connection, drafts: Sequence[DisagreementDraft], *, detected_ts: int
) -> list[int]:
    """Store disagreements (one per value version and field); identical earlier facts in ``repeats``."""
    return _append_facts(conn, rollup_disagreement, drafts, _DISAGREEMENT_FIELDS, detected_ts)


def _fact_query(
    table: Table,
    *,
    station_id: int | None,
    parameter: str | None,
    start: int | None,
    end: int | None,
    after_id: int | None,
) -> Select[Any]:
    t = table.c
    q = select(table, _current_version(table))
    if station_id is not None:
        q = q.where(t.station_id == station_id)
    if parameter is not None:
        q = q.where(t.parameter == parameter)
    if start is not None:
        q = q.where(t.period_ts >= start)
    if end is not None:
        q = q.where(t.period_ts < end)
    if after_id is not None:
        q = q.where(t.id > after_id)
    return q.order_by(t.id)


def exceedances(
    conn: Connection,
    *,
    station_id: int | None = None,
    parameter: str | None = None,
    start: int | None = None,
    end: int | None = None,
    after_id: int | None = None,
    current_only: bool = False,
    new_only: bool = False,
    limit: int = 10_000,
) -> list[ExceedanceRecord]:
    """Exceedance records by increasing id (the alarms consumer passes its last ``after_id``).

    ``current_only``: only those judged on the current version of their value. ``new_only``: skip
    records that repeat an earlier identical fact (a re-judgement after an unrelated change).
    """
    q = _fact_query(
        rollup_exceedance,
        station_id=station_id,
        parameter=parameter,
        start=start,
        end=end,
        after_id=after_id,
    )
    if new_only:
        q = q.where(rollup_exceedance.c.repeats.is_(None))
    out = []
    for r in conn.execute(q.limit(limit)).mappings():
        current = r["current_version"] == r["version"]
        if current_only and not current:
            continue
        out.append(
            ExceedanceRecord(
                **{f: r[f] for f in _EXCEEDANCE_FIELDS},
                id=int(r["id"]),
                repeats=r["repeats"],
                detected_ts=int(r["detected_ts"]),
                current=current,
            )
        )
    return out


def disagreements(
    conn: Connection,
    *,
    station_id: int | None = None,
    parameter: str | None = None,
    start: int | None = None,
    end: int | None = None,
    after_id: int | None = None,
    current_only: bool = False,
    new_only: bool = False,
    limit: int = 10_000,
) -> list[DisagreementRecord]:
    """Disagreement records by increasing id; filters as for :func:`exceedances`."""
    q = _fact_query(
        rollup_disagreement,
        station_id=station_id,
        parameter=parameter,
        start=start,
        end=end,
        after_id=after_id,
    )
    if new_only:
        q = q.where(rollup_disagreement.c.repeats.is_(None))
    out = []
    for r in conn.execute(q.limit(limit)).mappings():
        current = r["current_version"] == r["version"]
        if current_only and not current:
            continue
        out.append(
            DisagreementRecord(
                **{f: r[f] for f in _DISAGREEMENT_FIELDS},
                id=int(r["id"]),
                repeats=r["repeats"],
                detected_ts=int(r["detected_ts"]),
                current=current,
            )
        )
    return out
