"""Roles. Each user holds exactly one; ``public`` is nobody's role: it marks what anyone may read
without logging in."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MONITORING_STAFF = "monitoring_staff"
    ENFORCEMENT_OFFICER = "enforcement_officer"
    LAB_ANALYST = "lab_analyst"
    REVIEWER = "reviewer"
    SIGNATORY = "signatory"
    ENTERPRISE = "enterprise"
    DISCIPLINE_INSPECTOR = "discipline_inspector"
    PUBLIC = "public"


USER_ROLES: tuple[Role, ...] = tuple(r for r in Role if r is not Role.PUBLIC)

# Everyone who works for the department or its monitoring centre (not the enterprises).
STAFF: frozenset[Role] = frozenset(USER_ROLES) - {Role.ENTERPRISE}
# Every logged-in user.
ANY_USER: frozenset[Role] = frozenset(USER_ROLES)
# Staff who manage the station and enterprise registry.
REGISTRY_EDITORS: frozenset[Role] = frozenset({Role.ADMIN, Role.MONITORING_STAFF})
