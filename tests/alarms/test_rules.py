"""Role rules, policy table and controlled lists: pure data, checked row by row."""

from __future__ import annotations

from pathlib import Path

import pytest

from envtrace.alarms import (
    ACTION_RULES,
    DEFAULT_POLICY,
    ROLES,
    Action,
    Actor,
    InvalidDecision,
    InvalidPolicy,
    NotPermitted,
    State,
    can_read,
    check_action,
    load_policy,
    may,
)
from envtrace.alarms.outcomes import check_dismissal, check_enforcement
from envtrace.alarms.permissions import SYSTEM_ROLE, sees_internal_notes
from envtrace.alarms.policy import Policy, parse_duration
from envtrace.store.accounts import ROLE_NAMES

OWN = 10
OTHER = 11


def actor(role: str) -> Actor:
    return Actor(f"u-{role}", role, OWN if role == "enterprise" else None)


# (role, action, kind) -> allowed, for the alarm of the actor's own enterprise.
DECISIONS = [
    ("monitoring_staff", Action.ACKNOWLEDGE, "fraud", True),
    ("monitoring_staff", Action.VERIFY, "fraud", True),
    ("monitoring_staff", Action.CONFIRM, "fraud", False),
    ("monitoring_staff", Action.DISMISS, "fraud", False),
    ("monitoring_staff", Action.DISMISS, "exceedance", False),
    ("monitoring_staff", Action.DISMISS, "qc", True),
    ("monitoring_staff", Action.DISMISS, "offline", True),
    ("lab_analyst", Action.ACKNOWLEDGE, "qc", True),
    ("lab_analyst", Action.ACKNOWLEDGE, "fraud", False),
    ("lab_analyst", Action.VERIFY, "fraud", False),
    ("lab_analyst", Action.DISMISS, "qc", True),
    ("reviewer", Action.DISMISS, "fraud", True),
    ("reviewer", Action.CONFIRM, "fraud", True),
    ("enforcement_officer", Action.DISMISS, "fraud", True),
    ("enforcement_officer", Action.CONFIRM, "exceedance", True),
    ("enforcement_officer", Action.REOPEN, "fraud", True),
    ("discipline_inspector", Action.REOPEN, "fraud", True),
    ("discipline_inspector", Action.DISMISS, "qc", False),
    ("discipline_inspector", Action.ACKNOWLEDGE, "qc", False),
    ("discipline_inspector", Action.COMMENT, "fraud", True),
    ("admin", Action.ACKNOWLEDGE, "qc", False),
    ("admin", Action.ASSIGN, "qc", False),
    ("admin", Action.DISMISS, "qc", False),
    ("admin", Action.COMMENT, "qc", False),
    ("signatory", Action.COMMENT, "qc", True),
    ("signatory", Action.CONFIRM, "qc", False),
    ("enterprise", Action.COMMENT, "fraud", True),
    ("system", Action.OPEN, "fraud", True),
    ("system", Action.ESCALATE, "fraud", True),
    ("reviewer", Action.OPEN, "fraud", False),
    ("reviewer", Action.ESCALATE, "fraud", False),
    ("monitoring_staff", Action.EXTEND, "fraud", False),
]


@pytest.mark.parametrize(("role", "action", "kind", "allowed"), DECISIONS)
def test_decision_rules(role: str, action: Action, kind: str, allowed: bool) -> None:
    assert may(actor(role), action, kind, OWN) is allowed


@pytest.mark.parametrize(
    "action",
    [Action.ACKNOWLEDGE, Action.VERIFY, Action.CONFIRM, Action.DISMISS, Action.ASSIGN, Action.REOPEN],
)
@pytest.mark.parametrize("kind", ["fraud", "qc", "exceedance", "offline"])
def test_enterprise_never_decides(action: Action, kind: str) -> None:
    with pytest.raises(NotPermitted) as info:
        check_action(actor("enterprise"), action, kind, OWN)
    assert info.value.role == "enterprise"
    assert info.value.action == str(action)


def test_enterprise_comments_only_on_its_own_outlets() -> None:
    check_action(actor("enterprise"), Action.COMMENT, "qc", OWN)
    with pytest.raises(NotPermitted, match="own outlets"):
        check_action(actor("enterprise"), Action.COMMENT, "qc", OTHER)
    with pytest.raises(NotPermitted):
        check_action(Actor("x", "enterprise", None), Action.COMMENT, "qc", None)


def test_dismissing_fraud_needs_reviewer_or_officer() -> None:
    allowed = {role for role in ROLES if may(actor(role), Action.DISMISS, "fraud", OWN)}
    assert allowed == {"reviewer", "enforcement_officer"}
    with pytest.raises(NotPermitted, match=r"only \['offline', 'qc'\]"):
        check_action(actor("monitoring_staff"), Action.DISMISS, "fraud", OWN)


def test_roles_are_the_accounts_roles_and_rules_name_only_them() -> None:
    assert set(ROLES) == set(ROLE_NAMES)
    for rule in ACTION_RULES:
        assert rule.roles <= set(ROLES) | {SYSTEM_ROLE}


def test_read_rules() -> None:
    for role in ROLES:
        if role != "enterprise":
            assert can_read(actor(role), "fraud", State.NEW, OTHER)
            assert sees_internal_notes(actor(role))
    ent = actor("enterprise")
    assert not sees_internal_notes(ent)
    assert can_read(ent, "qc", State.NEW, OWN)
    assert not can_read(ent, "qc", State.NEW, OTHER)
    assert not can_read(ent, "fraud", State.NEW, OWN)
    assert not can_read(ent, "fraud", State.ACKNOWLEDGED, OWN)
    assert can_read(ent, "fraud", State.UNDER_VERIFICATION, OWN)
    assert can_read(ent, "fraud", State.DISMISSED, OWN)
    assert not can_read(Actor("ghost", "nobody"), "qc", State.NEW, OWN)


def test_controlled_lists() -> None:
    assert check_dismissal("instrument_fault", "  analyser drift  ") == ("instrument_fault", "analyser drift")
    with pytest.raises(InvalidDecision) as info:
        check_dismissal("because", "long enough text")
    assert info.value.field == "reason_code"
    assert info.value.value == "because"
    with pytest.raises(InvalidDecision, match="reason"):
        check_dismissal("other", "  ")
    assert check_enforcement("case_filed", "苏环罚〔2026〕12号") == ("case_filed", "苏环罚〔2026〕12号")
    with pytest.raises(InvalidDecision, match="enforcement_ref"):
        check_enforcement("case_filed", "")
    with pytest.raises(InvalidDecision, match="enforcement_type"):
        check_enforcement(None, "X-1")


def test_default_policy() -> None:
    p = DEFAULT_POLICY
    assert p.severity("fraud", 0.95) == "critical"
    assert p.severity("fraud", 0.5) == "major"
    assert p.severity("exceedance", 0.6) == "critical"
    assert p.severity("qc", 1.0) == "minor"
    assert p.acknowledge_due("critical", 0) == 4 * 3600
    assert p.verify_due("critical", 0) == 3 * 86400
    assert p.supervisor("monitoring_staff") == "reviewer"
    assert p.supervisor("reviewer") == "reviewer"
    assert p.queue("fraud") == "monitoring_staff"


def test_policy_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        'max_escalations = 1\n[deadlines.critical]\nacknowledge = "30m"\nverify = "2d"\n'
        '[[severity]]\nkind = "qc"\nmin_score = 0.9\nseverity = "major"\n'
        '[queues]\nqc = "lab_analyst"\n[supervisors]\nlab_analyst = "enforcement_officer"\n',
        encoding="utf-8",
    )
    p = load_policy(path)
    assert p.deadlines["critical"].acknowledge_s == 1800
    assert p.deadlines["critical"].verify_s == 2 * 86400
    assert p.deadlines["critical"].escalate_every_s == 4 * 3600
    assert p.severity("qc", 0.95) == "major"
    assert p.severity("fraud", 0.95) == "minor"  # the table replaces the default rules
    assert (p.queue("qc"), p.supervisor("lab_analyst"), p.max_escalations) == (
        "lab_analyst",
        "enforcement_officer",
        1,
    )


@pytest.mark.parametrize("bad", ["0h", "-3", "4 weeks", 0, 1.5, True])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_duration("deadlines.major.verify", bad)
    assert info.value.value == bad


def test_bad_policies(tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicy, match=r"queues\.fraud"):
        Policy(queues={"fraud": "janitor"})
    with pytest.raises(InvalidPolicy, match="supervisors"):
        Policy(supervisors={"monitoring_staff": "boss"})
    (tmp_path / "p.toml").write_text("[deadlines.urgent]\nacknowledge = 1\n", encoding="utf-8")
    with pytest.raises(InvalidPolicy, match=r"deadlines\.urgent"):
        load_policy(tmp_path / "p.toml")
    with pytest.raises(InvalidPolicy):
        load_policy(tmp_path / "missing.toml")
