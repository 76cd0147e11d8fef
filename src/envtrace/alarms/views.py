"""Reading alarms as a given user sees them: the inbox, one alarm with its history and evidence.

The read rules of ``envtrace.alarms.permissions`` apply throughout: an alarm the viewer may not
read does not exist for it (:class:`AlarmNotFound`), and a viewer without ``internal_notes`` gets
the history without officials' free text, references and comments. Every function takes the
caller's ``Connection`` (a read transaction is enough).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping

from envtrace.alarms.errors import AlarmNotFound
from envtrace.alarms.history import AlarmEvent, AlarmStatus
from envtrace.alarms.machine import Action, State, allowed_actions
from envtrace.alarms.permissions import (
    INTERNAL_ROLES,
    READ_RULES,
    ROLES,
    SYSTEM_ROLE,
    Actor,
    can_read,
    may,
    sees_internal_notes,
)
from envtrace.alarms.records import load_events, load_status, status_from_row
from envtrace.store import alarms as db

EXTERNAL_ROLES = frozenset(ROLES) - INTERNAL_ROLES


@dataclass(frozen=True, slots=True)
class Plot:
    """A series to draw: Unix-second times and values (None where missing)."""

    label: str
    times: tuple[int, ...]
    values: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One piece of evidence behind an alarm, as the detector (or standards) gave it."""

    alarm_id: int
    seq: int
    fingerprint: str
    source: str
    detector: str
    parameters: tuple[str, ...]
    start_ts: int
    end_ts: int
    pattern: str
    kind: str
    score: float
    statistic: float | None
    baseline: float | None
    threshold: float | None
    reason_zh: str
    reason_en: str
    plots: tuple[Plot, ...]
    received_ts: int
    extra: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AlarmDetail:
    """One alarm for the console: its status, its (visible) history, its evidence, and what the
    viewer may do with it now."""

    status: AlarmStatus
    station_mn: str
    station_name: str | None
    events: tuple[AlarmEvent, ...]
    evidence: tuple[EvidenceItem, ...]
    actions: tuple[Action, ...]
    overdue: bool


_EVIDENCE_KEYS = frozenset(
    {
        "source",
        "detector",
        "station",
        "parameters",
        "start",
        "end",
        "pattern",
        "kind",
        "score",
        "statistic",
        "baseline",
        "threshold",
        "reason_zh",
        "reason_en",
        "plots",
    }
)


def _opt_float(value: object) -> float | None:
    return None if value is None else float(str(value))


def evidence_item(row: RowMapping) -> EvidenceItem:
    body: dict[str, Any] = json.loads(str(row["body"]))
    return EvidenceItem(
        alarm_id=int(row["alarm_id"]),
        seq=int(row["seq"]),
        fingerprint=str(row["fingerprint"]),
        source=str(row["source"]),
        detector=str(row["detector"]),
        parameters=tuple(body.get("parameters", ())),
        start_ts=int(row["start_ts"]),
        end_ts=int(row["end_ts"]),
        pattern=str(body.get("pattern", "")),
        kind=str(body.get("kind", "")),
        score=float(row["score"]),
        statistic=_opt_float(body.get("statistic")),
        baseline=_opt_float(body.get("baseline")),
        threshold=_opt_float(body.get("threshold")),
        reason_zh=str(body.get("reason_zh", "")),
        reason_en=str(body.get("reason_en", "")),
        plots=tuple(
            Plot(
                str(p.get("label", "")),
                tuple(int(t) for t in p.get("times", ())),
                tuple(_opt_float(v) for v in p.get("values", ())),
            )
            for p in body.get("plots", ())
        ),
        received_ts=int(row["received_ts"]),
        extra={k: v for k, v in body.items() if k not in _EVIDENCE_KEYS},
    )


def _visible(viewer: Actor, status: AlarmStatus) -> bool:
    return can_read(viewer, status.kind, status.state, status.enterprise_id)


def available_actions(viewer: Actor, status: AlarmStatus) -> tuple[Action, ...]:
    """The actions the state machine and the role rules both allow ``viewer`` now."""
    return tuple(
        action
        for action in allowed_actions(status.state)
        if action not in (Action.OPEN, Action.EXTEND, Action.ESCALATE)
        and not (action is Action.REOPEN and status.superseded_by_id is not None)
        and may(viewer, action, status.kind, status.enterprise_id)
    )


def redact(viewer: Actor, events: list[AlarmEvent]) -> tuple[AlarmEvent, ...]:
    """The history as ``viewer`` may see it: without ``internal_notes``, the comments of officials
    are left out and the names, free text and references of everything not done by an enterprise
    user are blanked (role, decision, reason code and states stay)."""
    if sees_internal_notes(viewer):
        return tuple(events)
    shown: list[AlarmEvent] = []
    for event in events:
        if event.role in EXTERNAL_ROLES:
            shown.append(event)
        elif event.action is not Action.COMMENT:
            shown.append(dataclasses.replace(event, actor="", reason=None, refs=()))
    return tuple(shown)


def shown_status(viewer: Actor, status: AlarmStatus) -> AlarmStatus:
    """The status as ``viewer`` may see it (without ``internal_notes``: no official's name)."""
    if sees_internal_notes(viewer) or status.owner_user is None:
        return status
    return dataclasses.replace(status, owner_user=None)


def alarm_evidence(conn: Connection, alarm_id: int, viewer: Actor) -> tuple[EvidenceItem, ...]:
    """The evidence of an alarm and of the closed alarms it reopens, oldest first."""
    status = load_status(conn, alarm_id)
    if not _visible(viewer, status):
        raise AlarmNotFound(alarm_id)
    items: list[EvidenceItem] = []
    chain: int | None = alarm_id
    while chain is not None:
        items[:0] = [evidence_item(row) for row in db.evidence_rows(conn, chain)]
        chain = load_status(conn, chain).supersedes_id
    return tuple(items)


def get_alarm(conn: Connection, alarm_id: int, viewer: Actor, *, now: int) -> AlarmDetail:
    """One alarm as ``viewer`` sees it; :class:`AlarmNotFound` if it may not."""
    status = load_status(conn, alarm_id)
    if not _visible(viewer, status):
        raise AlarmNotFound(alarm_id)
    mn, name, _ = db.station_labels(conn, status.station_id)
    return AlarmDetail(
        status=shown_status(viewer, status),
        station_mn=mn,
        station_name=name,
        events=redact(viewer, load_events(conn, alarm_id)),
        evidence=alarm_evidence(conn, alarm_id, viewer),
        actions=available_actions(viewer, status),
        overdue=status.is_open and status.due_ts is not None and status.due_ts <= now,
    )


def list_alarms(
    conn: Connection,
    viewer: Actor,
    *,
    states: Collection[State | str] | None = None,
    kinds: Collection[str] | None = None,
    station_id: int | None = None,
    mine: bool = False,
    overdue_at: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AlarmStatus]:
    """The alarms ``viewer`` may read, newest first; ``mine``: owned by the viewer or waiting in
    its role's queue; ``overdue_at``: past their deadline at that time. Page with ``before_id``."""
    rule = READ_RULES.get(viewer.role)
    if rule is None:
        return []
    enterprise_id = None
    if rule.own_only:
        if viewer.enterprise_id is None:
            return []
        enterprise_id = viewer.enterprise_id
    hidden = [(kind, [str(s) for s in states_]) for kind, states_ in rule.hidden_while.items()]
    rows = db.alarm_rows(
        conn,
        states=None if states is None else [str(s) for s in states],
        kinds=kinds,
        station_id=station_id,
        enterprise_id=enterprise_id,
        queue_of=(viewer.user, viewer.role) if mine and viewer.role != SYSTEM_ROLE else None,
        overdue_at=overdue_at,
        hidden=hidden,
        before_id=before_id,
        limit=limit,
    )
    return [shown_status(viewer, status_from_row(row)) for row in rows]
