"""The alarm jobs of the platform's background worker (``envtrace.jobs``: ``run(engine, now_ts)``).

Both are idempotent and keep their place in the store: escalation by the alarms' deadlines (an
escalated alarm's next deadline lies after ``now``), notifications by the ``alarm_notice`` marker
of each planned event and the status of each delivery.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from envtrace.alarms.escalation import escalate_overdue
from envtrace.alarms.notify import NotifyConfig, deliver_notifications
from envtrace.alarms.policy import DEFAULT_POLICY, Policy

JobFunction = Callable[[Engine, int], dict[str, int]]


def escalation_job(policy: Policy = DEFAULT_POLICY) -> JobFunction:
    """A job that escalates every overdue alarm; counts ``escalated``."""

    def run(engine: Engine, now_ts: int) -> dict[str, int]:
        return {"escalated": len(escalate_overdue(engine, now_ts, policy=policy))}

    return run


def notification_job(config: NotifyConfig) -> JobFunction:
    """A job that plans and sends alarm notifications; counts planned, sent, retrying, failed."""

    def run(engine: Engine, now_ts: int) -> dict[str, int]:
        report = deliver_notifications(engine, config, now=now_ts)
        return {
            "planned": report.planned,
            "sent": report.sent,
            "retrying": report.retrying,
            "failed": report.failed,
        }

    return run
