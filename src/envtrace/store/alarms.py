"""Alarms: the cached current alarm, its sealed history, its evidence, and notification deliveries.

``alarm``
    one row per alarm: a *cache* of the fold of its events (``envtrace.alarms.history``), kept
    for the inbox queries (by state, owner, deadline, station). ``envtrace.alarms.audit`` recomputes
    it from the events and reports any disagreement.
``alarm_event``
    the history, append-only (database triggers refuse UPDATE and DELETE): one row per change, its
    ``payload`` the canonical JSON of the record appended to the ledger in the same transaction
    (``leaf_index``).
``alarm_evidence``
    the detector evidence (or exceedance record) behind an alarm, as JSON with the series to plot;
    ``fingerprint`` is the SHA-256 of that JSON, named by the sealed event that attached it, and
    unique, so the same evidence never counts twice. Append-only as well.
``alarm_notice`` / ``alarm_delivery`` / ``alarm_delivery_attempt``
    the notification outbox: which events have been turned into deliveries, each delivery (one
    channel and target per event) with its exact body, and every attempt to send it.

Every query takes the caller's ``Connection``; the caller owns the transaction. Rows come back
as ``RowMapping``; ``envtrace.alarms`` turns them into its typed values.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from envtrace.store.ledger_tables import ledger_leaf
from envtrace.store.metadata import metadata
from envtrace.store.registry import monitoring_point, station
from envtrace.store.types import Id

ALARM_STATES = ("new", "acknowledged", "under_verification", "confirmed", "dismissed")
OPEN_ALARM_STATES = ("new", "acknowledged", "under_verification")
DELIVERY_STATUSES = ("pending", "sent", "failed")
DELIVERY_CHANNELS = ("email", "webhook")

alarm = Table(
    "alarm",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", ForeignKey("station.id"), nullable=False),
    Column("enterprise_id", ForeignKey("enterprise.id"), comment="owner of the outlet, when known"),
    Column("pattern", String(64), nullable=False),
    Column("kind", String(16), nullable=False, comment="fraud | qc | exceedance | offline"),
    Column("detector", String(64), nullable=False, comment="detector of the first evidence"),
    Column("parameters", Text, nullable=False, comment="JSON list of parameter codes, sorted"),
    Column("start_ts", Id, nullable=False, comment="window start, inclusive"),
    Column("end_ts", Id, nullable=False, comment="window end, exclusive"),
    Column("severity", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("state", String(24), nullable=False),
    Column("owner_user", String(64), comment="null while the alarm waits in a role queue"),
    Column("owner_role", String(24), nullable=False),
    Column("escalation_level", Integer, nullable=False),
    Column("due_ts", Id, comment="current deadline; null once closed"),
    Column("opened_ts", Id, nullable=False),
    Column("updated_ts", Id, nullable=False),
    Column("closed_ts", Id),
    Column("supersedes_id", ForeignKey("alarm.id"), unique=True, comment="the closed alarm it reopens"),
    Column("superseded_by_id", Id),
    Column("enforcement_type", String(32)),
    Column("enforcement_ref", Text),
    Column("dismiss_reason", String(32)),
    Column("last_seq", Integer, nullable=False),
    CheckConstraint(f"state IN {ALARM_STATES!r}", name="state"),
)
Index("ix_alarm_station_pattern_state", alarm.c.station_id, alarm.c.pattern, alarm.c.state)
Index("ix_alarm_state_due", alarm.c.state, alarm.c.due_ts)
Index("ix_alarm_owner", alarm.c.owner_role, alarm.c.owner_user)

alarm_event = Table(
    "alarm_event",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alarm_id", ForeignKey("alarm.id"), nullable=False),
    Column("seq", Integer, nullable=False, comment="1, 2, ... within the alarm"),
    Column("ts", Id, nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(24), nullable=False),
    Column("prev_state", String(24)),
    Column("state", String(24), nullable=False),
    Column("payload", Text, nullable=False, comment="canonical JSON of the sealed record"),
    Column("leaf_index", Id, nullable=False, unique=True, comment="its leaf in the ledger"),
    UniqueConstraint("alarm_id", "seq"),
)

alarm_evidence = Table(
    "alarm_evidence",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alarm_id", ForeignKey("alarm.id"), nullable=False, index=True),
    Column("fingerprint", String(64), nullable=False, unique=True, comment="SHA-256 of body, hex"),
    Column("source", String(16), nullable=False, comment="detector | exceedance"),
    Column("detector", String(64), nullable=False),
    Column("start_ts", Id, nullable=False),
    Column("end_ts", Id, nullable=False),
    Column("score", Float, nullable=False),
    Column("body", Text, nullable=False, comment="canonical JSON: the evidence with its plot series"),
    Column("seq", Integer, nullable=False, comment="the alarm event that attached it"),
    Column("received_ts", Id, nullable=False),
)

alarm_notice = Table(
    "alarm_notice",
    metadata,
    Column("event_id", ForeignKey("alarm_event.id"), primary_key=True, autoincrement=False),
    Column("planned_ts", Id, nullable=False),
    Column("deliveries", Integer, nullable=False),
)

alarm_delivery = Table(
    "alarm_delivery",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", ForeignKey("alarm_event.id"), nullable=False, index=True),
    Column("channel", String(8), nullable=False),
    Column("target", Text, nullable=False, comment="URL, or comma-separated e-mail addresses"),
    Column("subject", Text),
    Column("body", Text, nullable=False, comment="exactly what is sent (webhook JSON, mail text)"),
    Column("status", String(8), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_ts", Id),
    Column("last_error", Text),
    Column("created_ts", Id, nullable=False),
    Column("sent_ts", Id),
    CheckConstraint(f"status IN {DELIVERY_STATUSES!r}", name="status"),
    CheckConstraint(f"channel IN {DELIVERY_CHANNELS!r}", name="channel"),
)
Index("ix_alarm_delivery_status_next", alarm_delivery.c.status, alarm_delivery.c.next_attempt_ts)

alarm_delivery_attempt = Table(
    "alarm_delivery_attempt",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", ForeignKey("alarm_delivery.id"), nullable=False, index=True),
    Column("ts", Id, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("detail", Text, nullable=False, comment="HTTP status, SMTP reply or the error"),
)


def _new_id(result: Any, what: str) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError(f"no primary key returned for the new {what}")
    return int(key[0])


# -- alarms --------------------------------------------------------------------------------------


def insert_alarm(conn: Connection, values: Mapping[str, object]) -> int:
    """Insert an alarm row (every cache column but ``id``); returns its id."""
    return _new_id(conn.execute(insert(alarm).values(**values)), "alarm")


def update_alarm(conn: Connection, alarm_id: int, values: Mapping[str, object]) -> None:
    conn.execute(update(alarm).where(alarm.c.id == alarm_id).values(**values))


def alarm_row(conn: Connection, alarm_id: int, *, for_update: bool = False) -> RowMapping | None:
    """One alarm; ``for_update`` locks the row on PostgreSQL (SQLite writers hold the lock anyway)."""
    query = select(alarm).where(alarm.c.id == alarm_id)
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).mappings().one_or_none()


def alarm_rows(
    conn: Connection,
    *,
    states: Collection[str] | None = None,
    kinds: Collection[str] | None = None,
    station_id: int | None = None,
    enterprise_id: int | None = None,
    owner_role: str | None = None,
    owner_user: str | None = None,
    queue_of: tuple[str, str] | None = None,
    overdue_at: int | None = None,
    hidden: Sequence[tuple[str, Collection[str]]] = (),
    before_id: int | None = None,
    limit: int = 100,
) -> list[RowMapping]:
    """Alarms matching every given filter, newest first (page with ``before_id``).

    ``queue_of=(user, role)``: owned by the user, or waiting in the role's queue. ``hidden``: leave
    out alarms of a kind while in the given states.
    """
    query = select(alarm).order_by(alarm.c.id.desc()).limit(limit)
    for kind, hidden_states in hidden:
        query = query.where(~and_(alarm.c.kind == kind, alarm.c.state.in_(list(hidden_states))))
    if queue_of is not None:
        user, role = queue_of
        query = query.where(
            or_(alarm.c.owner_user == user, and_(alarm.c.owner_user.is_(None), alarm.c.owner_role == role))
        )
    if states is not None:
        query = query.where(alarm.c.state.in_(list(states)))
    if kinds is not None:
        query = query.where(alarm.c.kind.in_(list(kinds)))
    if station_id is not None:
        query = query.where(alarm.c.station_id == station_id)
    if enterprise_id is not None:
        query = query.where(alarm.c.enterprise_id == enterprise_id)
    if owner_role is not None:
        query = query.where(alarm.c.owner_role == owner_role)
    if owner_user is not None:
        query = query.where(alarm.c.owner_user == owner_user)
    if overdue_at is not None:
        query = query.where(alarm.c.due_ts.is_not(None), alarm.c.due_ts <= overdue_at)
    if before_id is not None:
        query = query.where(alarm.c.id < before_id)
    return list(conn.execute(query).mappings())


def all_alarm_ids(conn: Connection) -> list[int]:
    return [int(i) for i in conn.execute(select(alarm.c.id).order_by(alarm.c.id)).scalars()]


def open_overlapping(
    conn: Connection, *, station_id: int, pattern: str, start_ts: int, end_ts: int
) -> RowMapping | None:
    """The oldest open alarm of this station and pattern whose window overlaps or touches
    ``[start_ts, end_ts)``, locked for update."""
    query = (
        select(alarm)
        .where(
            alarm.c.station_id == station_id,
            alarm.c.pattern == pattern,
            alarm.c.state.in_(OPEN_ALARM_STATES),
            alarm.c.start_ts <= end_ts,
            alarm.c.end_ts >= start_ts,
        )
        .order_by(alarm.c.id)
        .limit(1)
        .with_for_update()
    )
    return conn.execute(query).mappings().first()


def closed_covering(
    conn: Connection, *, station_id: int, pattern: str, start_ts: int, end_ts: int
) -> int | None:
    """A closed alarm of this station and pattern whose window contains ``[start_ts, end_ts)``."""
    query = (
        select(alarm.c.id)
        .where(
            alarm.c.station_id == station_id,
            alarm.c.pattern == pattern,
            alarm.c.state.not_in(OPEN_ALARM_STATES),
            alarm.c.start_ts <= start_ts,
            alarm.c.end_ts >= end_ts,
        )
        .order_by(alarm.c.id.desc())
        .limit(1)
    )
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def overdue_ids(conn: Connection, *, now: int, max_level: int, limit: int = 1000) -> list[int]:
    """Open alarms past their deadline that may still be escalated, oldest deadline first."""
    query = (
        select(alarm.c.id)
        .where(
            alarm.c.state.in_(OPEN_ALARM_STATES),
            alarm.c.due_ts.is_not(None),
            alarm.c.due_ts <= now,
            alarm.c.escalation_level < max_level,
        )
        .order_by(alarm.c.due_ts, alarm.c.id)
        .limit(limit)
    )
    return [int(i) for i in conn.execute(query).scalars()]


def station_enterprise(conn: Connection, station_id: int) -> tuple[bool, int | None]:
    """(whether the station exists, the enterprise of its monitoring point or None)."""
    row = conn.execute(
        select(station.c.id, monitoring_point.c.enterprise_id)
        .select_from(station.outerjoin(monitoring_point, monitoring_point.c.id == station.c.point_id))
        .where(station.c.id == station_id)
    ).first()
    if row is None:
        return False, None
    return True, None if row.enterprise_id is None else int(row.enterprise_id)


def lock_station(conn: Connection, station_id: int) -> bool:
    """Lock a station's row until the transaction ends (PostgreSQL; SQLite writers hold the
    database lock), so that two intakes for one station cannot both open an alarm; False if there
    is no such station."""
    query = select(station.c.id).where(station.c.id == station_id).with_for_update()
    return conn.execute(query).first() is not None


def station_by_mn(conn: Connection, mn: str) -> int | None:
    found = conn.execute(select(station.c.id).where(station.c.mn == mn)).scalar()
    return None if found is None else int(found)


def station_labels(conn: Connection, station_id: int) -> tuple[str, str | None, int]:
    """(MN, name, UTC offset in minutes) of a station, for notifications."""
    row = conn.execute(
        select(station.c.mn, station.c.name, station.c.utc_offset_min).where(station.c.id == station_id)
    ).one()
    return str(row.mn), row.name, int(row.utc_offset_min)


# -- events --------------------------------------------------------------------------------------


def insert_event(
    conn: Connection,
    *,
    alarm_id: int,
    seq: int,
    ts: int,
    action: str,
    actor: str,
    role: str,
    prev_state: str | None,
    state: str,
    payload: str,
    leaf_index: int,
) -> int:
    result = conn.execute(
        insert(alarm_event).values(
            alarm_id=alarm_id,
            seq=seq,
            ts=ts,
            action=action,
            actor=actor,
            role=role,
            prev_state=prev_state,
            state=state,
            payload=payload,
            leaf_index=leaf_index,
        )
    )
    return _new_id(result, "alarm event")


def event_rows(conn: Connection, alarm_id: int) -> list[RowMapping]:
    """The history of one alarm, event 1 first."""
    query = select(alarm_event).where(alarm_event.c.alarm_id == alarm_id).order_by(alarm_event.c.seq)
    return list(conn.execute(query).mappings())


def unstored_alarm_leaves(conn: Connection, kind: str) -> list[int]:
    """Leaves of ``kind`` that no ``alarm_event`` row points at (a sealed event that went missing)."""
    stored = exists().where(alarm_event.c.leaf_index == ledger_leaf.c.idx)
    query = select(ledger_leaf.c.idx).where(ledger_leaf.c.kind == kind, ~stored).order_by(ledger_leaf.c.idx)
    return [int(i) for i in conn.execute(query).scalars()]


def event_row(conn: Connection, event_id: int) -> RowMapping | None:
    return conn.execute(select(alarm_event).where(alarm_event.c.id == event_id)).mappings().one_or_none()


# -- evidence ------------------------------------------------------------------------------------


def insert_evidence(
    conn: Connection,
    *,
    alarm_id: int,
    fingerprint: str,
    source: str,
    detector: str,
    start_ts: int,
    end_ts: int,
    score: float,
    body: str,
    seq: int,
    received_ts: int,
) -> int:
    result = conn.execute(
        insert(alarm_evidence).values(
            alarm_id=alarm_id,
            fingerprint=fingerprint,
            source=source,
            detector=detector,
            start_ts=start_ts,
            end_ts=end_ts,
            score=score,
            body=body,
            seq=seq,
            received_ts=received_ts,
        )
    )
    return _new_id(result, "alarm evidence")


def known_fingerprints(conn: Connection, fingerprints: Sequence[str]) -> set[str]:
    if not fingerprints:
        return set()
    query = select(alarm_evidence.c.fingerprint).where(alarm_evidence.c.fingerprint.in_(list(fingerprints)))
    return {str(f) for f in conn.execute(query).scalars()}


def evidence_rows(conn: Connection, alarm_id: int) -> list[RowMapping]:
    """The evidence of one alarm, in the order it arrived."""
    query = select(alarm_evidence).where(alarm_evidence.c.alarm_id == alarm_id).order_by(alarm_evidence.c.id)
    return list(conn.execute(query).mappings())


# -- notification outbox -------------------------------------------------------------------------


def unplanned_events(conn: Connection, *, limit: int = 500) -> list[RowMapping]:
    """Events not yet turned into deliveries, oldest first."""
    planned = exists().where(alarm_notice.c.event_id == alarm_event.c.id)
    query = select(alarm_event).where(~planned).order_by(alarm_event.c.id).limit(limit)
    return list(conn.execute(query).mappings())


def mark_planned(conn: Connection, *, event_id: int, planned_ts: int, deliveries: int) -> None:
    conn.execute(insert(alarm_notice).values(event_id=event_id, planned_ts=planned_ts, deliveries=deliveries))


def insert_delivery(
    conn: Connection,
    *,
    event_id: int,
    channel: str,
    target: str,
    subject: str | None,
    body: str,
    created_ts: int,
) -> int:
    result = conn.execute(
        insert(alarm_delivery).values(
            event_id=event_id,
            channel=channel,
            target=target,
            subject=subject,
            body=body,
            status="pending",
            attempts=0,
            next_attempt_ts=created_ts,
            created_ts=created_ts,
        )
    )
    return _new_id(result, "alarm delivery")


def due_deliveries(conn: Connection, *, now: int, limit: int = 100) -> list[RowMapping]:
    """Pending deliveries whose next attempt is due, oldest first."""
    query = (
        select(alarm_delivery)
        .where(alarm_delivery.c.status == "pending", alarm_delivery.c.next_attempt_ts <= now)
        .order_by(alarm_delivery.c.next_attempt_ts, alarm_delivery.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def claim_delivery(conn: Connection, delivery_id: int, *, now: int, attempts: int) -> bool:
    """Take a due delivery for one attempt (compare-and-set on ``attempts``): False if another
    worker took it first."""
    result = conn.execute(
        update(alarm_delivery)
        .where(
            alarm_delivery.c.id == delivery_id,
            alarm_delivery.c.status == "pending",
            alarm_delivery.c.attempts == attempts,
            alarm_delivery.c.next_attempt_ts <= now,
        )
        .values(attempts=attempts + 1)
    )
    return bool(result.rowcount)


def finish_attempt(
    conn: Connection,
    delivery_id: int,
    *,
    ts: int,
    ok: bool,
    detail: str,
    status: str,
    next_attempt_ts: int | None,
) -> None:
    """Log one attempt and move the delivery to ``status`` (``pending`` with a next time to retry)."""
    conn.execute(insert(alarm_delivery_attempt).values(delivery_id=delivery_id, ts=ts, ok=ok, detail=detail))
    values: dict[str, object] = {"status": status, "next_attempt_ts": next_attempt_ts}
    if ok:
        values["sent_ts"] = ts
        values["last_error"] = None
    else:
        values["last_error"] = detail
    conn.execute(update(alarm_delivery).where(alarm_delivery.c.id == delivery_id).values(**values))


def delivery_rows(
    conn: Connection, *, alarm_id: int | None = None, statuses: Collection[str] | None = None
) -> list[RowMapping]:
    """Deliveries (optionally of one alarm, or in some statuses), oldest first."""
    query = select(alarm_delivery).order_by(alarm_delivery.c.id)
    if alarm_id is not None:
        query = query.join(alarm_event, alarm_event.c.id == alarm_delivery.c.event_id).where(
            alarm_event.c.alarm_id == alarm_id
        )
    if statuses is not None:
        query = query.where(alarm_delivery.c.status.in_(list(statuses)))
    return list(conn.execute(query).mappings())


def attempt_rows(conn: Connection, delivery_id: int) -> list[RowMapping]:
    query = (
        select(alarm_delivery_attempt)
        .where(alarm_delivery_attempt.c.delivery_id == delivery_id)
        .order_by(alarm_delivery_attempt.c.id)
    )
    return list(conn.execute(query).mappings())


def count_by_state(conn: Connection) -> dict[str, int]:
    query = select(alarm.c.state, func.count()).group_by(alarm.c.state)
    return {str(state): int(n) for state, n in conn.execute(query)}
