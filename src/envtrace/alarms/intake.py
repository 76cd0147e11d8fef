"""From findings to alarms: detector ``Evidence`` and standards exceedances open or extend alarms.

Each finding is stored as JSON (with its plot series) under the SHA-256 of that JSON, its
*fingerprint*; a fingerprint already stored is skipped, so feeding the same finding twice opens
nothing new (idempotent). A new finding that overlaps or touches the window of an **open** alarm of
the same station and pattern *extends* it -- the window and parameters become the union, the score
the maximum, the severity can only rise (and with it the deadline only come closer) -- and the
extension is a sealed event naming the new fingerprint. A finding whose whole window lies inside a
*closed* alarm of the same station and pattern is left aside (counted as ``covered``): that data
has been judged, and only a reopen brings it back -- re-running a detector over history must not
undo decisions. Otherwise a new alarm opens in the queue of its kind, with its acknowledgement
deadline.

Findings name their station by MN (``Evidence.station``, ``Exceedance.station``) or by
``station.id`` given as an ``int``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from envtrace.alarms.errors import InvalidDecision, UnknownStation
from envtrace.alarms.history import AlarmEvent, AlarmStatus, JsonValue, score_text
from envtrace.alarms.lifecycle import open_alarm
from envtrace.alarms.machine import Action, State, next_state
from envtrace.alarms.permissions import KINDS, SYSTEM, Actor
from envtrace.alarms.policy import DEFAULT_POLICY, SEVERITIES, Policy
from envtrace.alarms.records import commit_event, status_from_row
from envtrace.detect import Evidence
from envtrace.store import alarms as db
from envtrace.store.engine import write_transaction

EXCEEDANCE_DETECTOR = "standards.exceedance"


@dataclass(frozen=True, slots=True)
class Exceedance:
    """One averaging period whose corrected concentration is above the applicable limit.

    ``start`` inclusive, ``end`` exclusive (Unix seconds UTC; an hour: ``end = start + 3600``);
    ``value`` and ``limit`` in ``unit`` (the value corrected to the reference O2 where the standard
    asks for it, ``o2_ref``); ``standard`` names the document and clause of the limit.
    """

    station: str | int
    parameter: str
    start: int
    end: int
    value: float
    limit: float
    unit: str
    standard: str
    basis: str = "hour"
    o2_ref: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.limit) and self.limit > 0):
            raise InvalidDecision("limit", self.limit, "a positive finite limit")
        if not (math.isfinite(self.value) and self.value > self.limit):
            raise InvalidDecision("value", self.value, f"a finite value above the limit {self.limit}")
        if self.end <= self.start:
            raise InvalidDecision("end", self.end, f"an instant after start={self.start}")

    @property
    def score(self) -> float:
        """How far above the limit, in [0, 1]: 0 at the limit, 1 from twice the limit."""
        return min(1.0, self.value / self.limit - 1.0)


@dataclass(frozen=True, slots=True)
class Finding:
    """A finding in the one shape intake works with (from :class:`Evidence` or :class:`Exceedance`)."""

    source: str
    station: str | int
    detector: str
    parameters: tuple[str, ...]
    start: int
    end: int
    pattern: str
    kind: str
    score: float
    body: Mapping[str, object]

    @property
    def body_text(self) -> str:
        return json.dumps(
            self.body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.body_text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class RaiseReport:
    """What :func:`raise_alarms` did: alarms opened, alarms extended, findings already stored
    (``duplicates``), and findings left aside because a closed alarm already covers their whole
    window (``covered``: that data has been judged; only a reopen brings it back)."""

    opened: tuple[int, ...]
    extended: tuple[int, ...]
    duplicates: int
    covered: int = 0


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def finding_from_evidence(ev: Evidence) -> Finding:
    body: dict[str, object] = {
        "source": "detector",
        "detector": ev.detector,
        "station": ev.station,
        "parameters": list(ev.parameters),
        "start": ev.start,
        "end": ev.end,
        "pattern": ev.pattern,
        "kind": ev.kind,
        "score": _num(ev.score),
        "statistic": _num(ev.statistic),
        "baseline": _num(ev.baseline),
        "threshold": _num(ev.threshold),
        "expected_per_year": _num(ev.expected_per_year),
        "reason_zh": ev.reason_zh,
        "reason_en": ev.reason_en,
        "plots": [
            {"label": p.label, "times": list(p.times), "values": [_num(v) for v in p.values]}
            for p in ev.plots
        ],
    }
    return Finding(
        "detector",
        ev.station,
        ev.detector,
        ev.parameters,
        ev.start,
        ev.end,
        ev.pattern,
        ev.kind,
        ev.score,
        body,
    )


def finding_from_exceedance(ex: Exceedance) -> Finding:
    ratio = ex.value / ex.limit
    basis_zh = {"hour": "小时", "day": "日"}.get(ex.basis, ex.basis)
    body: dict[str, object] = {
        "source": "exceedance",
        "detector": EXCEEDANCE_DETECTOR,
        "station": ex.station,
        "parameters": [ex.parameter],
        "start": ex.start,
        "end": ex.end,
        "pattern": "exceedance",
        "kind": "exceedance",
        "score": ex.score,
        "statistic": ex.value,
        "baseline": None,
        "threshold": ex.limit,
        "expected_per_year": None,
        "unit": ex.unit,
        "standard": ex.standard,
        "basis": ex.basis,
        "o2_ref": ex.o2_ref,
        "reason_zh": (
            f"{ex.parameter} {basis_zh}均值 {ex.value:g} {ex.unit} 超过限值 {ex.limit:g} {ex.unit}"
            f"（{ex.standard}），为限值的 {ratio:.2f} 倍"
        ),
        "reason_en": (
            f"{ex.parameter} {ex.basis} mean {ex.value:g} {ex.unit} exceeds the limit {ex.limit:g} {ex.unit}"
            f" ({ex.standard}), {ratio:.2f} times the limit"
        ),
        "plots": [{"label": ex.parameter, "times": [ex.start], "values": [ex.value]}],
    }
    return Finding(
        "exceedance",
        ex.station,
        EXCEEDANCE_DETECTOR,
        (ex.parameter,),
        ex.start,
        ex.end,
        "exceedance",
        "exceedance",
        ex.score,
        body,
    )


def to_finding(item: Evidence | Exceedance | Finding) -> Finding:
    if isinstance(item, Finding):
        return item
    if isinstance(item, Exceedance):
        return finding_from_exceedance(item)
    return finding_from_evidence(item)


def _station_id(conn: Connection, station: str | int, cache: dict[str | int, int]) -> int:
    """The station's id, its row locked for the rest of the transaction (one intake at a time per
    station, so two findings arriving together cannot both open an alarm)."""
    if station in cache:
        return cache[station]
    station_id = station if isinstance(station, int) else db.station_by_mn(conn, station)
    if station_id is None or not db.lock_station(conn, station_id):
        raise UnknownStation(station)
    cache[station] = station_id
    return station_id


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _extension(status: AlarmStatus, finding: Finding, policy: Policy) -> dict[str, JsonValue]:
    changes: dict[str, JsonValue] = {}
    params = sorted(set(status.parameters) | set(finding.parameters))
    if tuple(params) != status.parameters:
        changes["parameters"] = list(params)
    if finding.start < status.start_ts:
        changes["start_ts"] = finding.start
    if finding.end > status.end_ts:
        changes["end_ts"] = finding.end
    if finding.score > status.score:
        changes["score"] = score_text(finding.score)
    severity = policy.severity(status.kind, max(status.score, finding.score))
    if _rank(severity) < _rank(status.severity):
        changes["severity"] = severity
        stage_due = (
            policy.acknowledge_due(severity, status.opened_ts)
            if status.state is State.NEW
            else policy.verify_due(severity, status.opened_ts)
        )
        if status.due_ts is None or stage_due < status.due_ts:
            changes["due_ts"] = stage_due
    return changes


def _extend(
    conn: Connection, status: AlarmStatus, finding: Finding, actor: Actor, now: int, policy: Policy
) -> AlarmStatus:
    event = AlarmEvent(
        alarm_id=status.id,
        seq=status.last_seq + 1,
        ts=now,
        action=Action.EXTEND,
        actor=actor.user,
        role=actor.role,
        prev_state=status.state,
        state=next_state(status.state, Action.EXTEND, status.id),
        evidence=(finding.fingerprint,),
        changes=_extension(status, finding, policy),
    )
    return commit_event(conn, status, event)


def _store_evidence(conn: Connection, status: AlarmStatus, finding: Finding, now: int) -> None:
    db.insert_evidence(
        conn,
        alarm_id=status.id,
        fingerprint=finding.fingerprint,
        source=finding.source,
        detector=finding.detector,
        start_ts=finding.start,
        end_ts=finding.end,
        score=finding.score,
        body=finding.body_text,
        seq=status.last_seq,
        received_ts=now,
    )


def raise_alarms_in(
    conn: Connection,
    items: Iterable[Evidence | Exceedance | Finding],
    *,
    now: int,
    policy: Policy = DEFAULT_POLICY,
) -> RaiseReport:
    """:func:`raise_alarms` in the caller's (write) transaction."""
    findings = sorted(
        (to_finding(item) for item in items), key=lambda f: (str(f.station), f.pattern, f.start, f.end)
    )
    for f in findings:
        if f.kind not in KINDS:
            raise InvalidDecision("kind", f.kind, f"one of {KINDS}")
    stations: dict[str | int, int] = {}
    opened: list[int] = []
    extended: list[int] = []
    duplicates = covered = 0
    seen: set[str] = set()
    for finding in findings:
        station_id = _station_id(conn, finding.station, stations)
        # checked under the station's lock: a concurrent intake of the same finding has committed
        if finding.fingerprint in seen or db.known_fingerprints(conn, [finding.fingerprint]):
            duplicates += 1
            continue
        seen.add(finding.fingerprint)
        row = db.open_overlapping(
            conn, station_id=station_id, pattern=finding.pattern, start_ts=finding.start, end_ts=finding.end
        )
        if row is not None:
            status = _extend(conn, status_from_row(row), finding, SYSTEM, now, policy)
            if status.id not in opened and status.id not in extended:
                extended.append(status.id)
        elif db.closed_covering(
            conn, station_id=station_id, pattern=finding.pattern, start_ts=finding.start, end_ts=finding.end
        ):
            covered += 1
            continue
        else:
            _, enterprise_id = db.station_enterprise(conn, station_id)
            status = open_alarm(
                conn,
                SYSTEM,
                now=now,
                station_id=station_id,
                enterprise_id=enterprise_id,
                pattern=finding.pattern,
                kind=finding.kind,
                detector=finding.detector,
                parameters=finding.parameters,
                start_ts=finding.start,
                end_ts=finding.end,
                score=finding.score,
                evidence=(finding.fingerprint,),
                policy=policy,
            )
            opened.append(status.id)
        _store_evidence(conn, status, finding, now)
    return RaiseReport(tuple(opened), tuple(extended), duplicates, covered)


def raise_alarms(
    engine: Engine,
    items: Iterable[Evidence | Exceedance | Finding],
    *,
    now: int,
    policy: Policy = DEFAULT_POLICY,
) -> RaiseReport:
    """Open or extend alarms from detector evidence and exceedances, in one transaction.

    Idempotent: findings already stored are counted in ``duplicates`` and change nothing. Raises
    :class:`UnknownStation` (and writes nothing) when a finding names a station the registry does
    not know.
    """
    with write_transaction(engine) as conn:
        return raise_alarms_in(conn, items, now=now, policy=policy)
