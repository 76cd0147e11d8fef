"""Severity, deadlines, queues and escalation: the configurable table, pure.

An alarm's severity follows from its kind and score (:attr:`Policy.severity_rules`, first match
wins). Its severity gives two deadlines, both counted from when it opened: to *acknowledge* it and
to *verify* it (reach ``confirmed`` or ``dismissed``). While an open alarm is past its current
deadline (``due_ts``) the escalation runner hands it to the supervisor role of its owner's role,
records that, and gives the new owner ``escalate_every`` more seconds, up to ``max_escalations``
times. Deadlines are computed when an event happens and stored in it, so changing the policy never
rewrites history.

The defaults can be replaced by a TOML file (:func:`load_policy`)::

    max_escalations = 3
    [deadlines.critical]
    acknowledge = "4h"
    verify = "3d"
    escalate_every = "4h"
    [[severity]]
    kind = "fraud"
    min_score = 0.8
    severity = "critical"
    [queues]
    fraud = "monitoring_staff"
    [supervisors]
    monitoring_staff = "reviewer"

Durations are seconds or a number with ``s``, ``m``, ``h`` or ``d``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envtrace.alarms.errors import InvalidPolicy
from envtrace.alarms.permissions import KINDS, ROLES

SEVERITIES: tuple[str, ...] = ("critical", "major", "minor")
_HOUR = 3600
_DAY = 86400


@dataclass(frozen=True, slots=True)
class Deadline:
    acknowledge_s: int
    verify_s: int
    escalate_every_s: int


@dataclass(frozen=True, slots=True)
class SeverityRule:
    kind: str
    min_score: float
    severity: str


DEFAULT_DEADLINES: Mapping[str, Deadline] = {
    "critical": Deadline(acknowledge_s=4 * _HOUR, verify_s=3 * _DAY, escalate_every_s=4 * _HOUR),
    "major": Deadline(acknowledge_s=24 * _HOUR, verify_s=7 * _DAY, escalate_every_s=24 * _HOUR),
    "minor": Deadline(acknowledge_s=72 * _HOUR, verify_s=15 * _DAY, escalate_every_s=72 * _HOUR),
}
DEFAULT_SEVERITY_RULES: tuple[SeverityRule, ...] = (
    SeverityRule("fraud", 0.8, "critical"),
    SeverityRule("fraud", 0.0, "major"),
    SeverityRule("exceedance", 0.5, "critical"),
    SeverityRule("exceedance", 0.0, "major"),
    SeverityRule("offline", 0.0, "major"),
    SeverityRule("qc", 0.0, "minor"),
)
DEFAULT_QUEUES: Mapping[str, str] = dict.fromkeys(KINDS, "monitoring_staff")
DEFAULT_SUPERVISORS: Mapping[str, str] = {
    "monitoring_staff": "reviewer",
    "lab_analyst": "reviewer",
    "enforcement_officer": "reviewer",
}


@dataclass(frozen=True, slots=True)
class Policy:
    deadlines: Mapping[str, Deadline] = field(default_factory=lambda: dict(DEFAULT_DEADLINES))
    severity_rules: tuple[SeverityRule, ...] = DEFAULT_SEVERITY_RULES
    queues: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_QUEUES))
    supervisors: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SUPERVISORS))
    max_escalations: int = 3

    def __post_init__(self) -> None:
        for severity in SEVERITIES:
            if severity not in self.deadlines:
                raise InvalidPolicy(f"deadlines.{severity}", None, "a deadline for every severity")
        for rule in self.severity_rules:
            if rule.severity not in SEVERITIES:
                raise InvalidPolicy("severity.severity", rule.severity, f"one of {SEVERITIES}")
        for kind in KINDS:
            if self.queues.get(kind) not in ROLES:
                raise InvalidPolicy(f"queues.{kind}", self.queues.get(kind), f"one of {ROLES}")
        for below, above in self.supervisors.items():
            if below not in ROLES or above not in ROLES:
                raise InvalidPolicy(f"supervisors.{below}", above, f"roles among {ROLES}")
        if self.max_escalations < 0:
            raise InvalidPolicy("max_escalations", self.max_escalations, "0 or more")

    def severity(self, kind: str, score: float) -> str:
        for rule in self.severity_rules:
            if rule.kind == kind and score >= rule.min_score:
                return rule.severity
        return "minor"

    def acknowledge_due(self, severity: str, opened_ts: int) -> int:
        return opened_ts + self.deadlines[severity].acknowledge_s

    def verify_due(self, severity: str, opened_ts: int) -> int:
        return opened_ts + self.deadlines[severity].verify_s

    def next_escalation_due(self, severity: str, now: int) -> int:
        return now + self.deadlines[severity].escalate_every_s

    def queue(self, kind: str) -> str:
        return self.queues.get(kind, "monitoring_staff")

    def supervisor(self, role: str) -> str:
        """The role an alarm owned by ``role`` escalates to (itself at the top of the chain)."""
        return self.supervisors.get(role, role)


DEFAULT_POLICY = Policy()

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": _HOUR, "d": _DAY}


def parse_duration(where: str, value: object) -> int:
    """Seconds from ``14400`` or ``"4h"`` (units s, m, h, d)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) <= 0:
        raise InvalidPolicy(where, value, 'a positive number of seconds or "30m", "4h", "3d"')
    return int(match.group(1)) * _UNIT[match.group(2)]


def policy_from_mapping(data: Mapping[str, Any]) -> Policy:
    """A policy from parsed TOML; what it leaves out keeps its default."""
    deadlines = dict(DEFAULT_DEADLINES)
    for severity, spec in dict(data.get("deadlines", {})).items():
        if severity not in SEVERITIES or not isinstance(spec, Mapping):
            raise InvalidPolicy(f"deadlines.{severity}", spec, f"a table for one of {SEVERITIES}")
        base = deadlines[severity]
        deadlines[severity] = Deadline(
            acknowledge_s=parse_duration(
                f"deadlines.{severity}.acknowledge", spec.get("acknowledge", base.acknowledge_s)
            ),
            verify_s=parse_duration(f"deadlines.{severity}.verify", spec.get("verify", base.verify_s)),
            escalate_every_s=parse_duration(
                f"deadlines.{severity}.escalate_every", spec.get("escalate_every", base.escalate_every_s)
            ),
        )
    rules = DEFAULT_SEVERITY_RULES
    if "severity" in data:
        try:
            rules = tuple(
                SeverityRule(str(r["kind"]), float(r.get("min_score", 0.0)), str(r["severity"]))
                for r in data["severity"]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidPolicy(
                "severity", data["severity"], "[[severity]] tables of kind, min_score, severity"
            ) from exc
    max_escalations = data.get("max_escalations", 3)
    if not isinstance(max_escalations, int):
        raise InvalidPolicy("max_escalations", max_escalations, "an integer")
    return Policy(
        deadlines=deadlines,
        severity_rules=rules,
        queues={**DEFAULT_QUEUES, **dict(data.get("queues", {}))},
        supervisors={**DEFAULT_SUPERVISORS, **dict(data.get("supervisors", {}))},
        max_escalations=max_escalations,
    )


def load_policy(path: Path) -> Policy:
    """A policy from a TOML file (see the module docstring)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidPolicy(str(path), None, f"a readable TOML file ({exc})") from exc
    return policy_from_mapping(data)
