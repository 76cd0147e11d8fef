"""How live detection runs (``envtrace.alarms.live``): intervals, warm-up, what raises an alarm.

Every field has a ``Settings`` twin documented in ``README.md`` ("Configuration"); the worker
passes its settings object and :meth:`LiveOptions.from_settings` reads what it finds (this package
does not import the settings class).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envtrace.alarms.notify import NotifyConfig, load_notify_config
from envtrace.alarms.policy import DEFAULT_POLICY, Policy, load_policy

DEFAULT_QC_IGNORE = (
    "flag_C",
    "flag_F",
    "flag_M",
    "flag_T",
    "shutdown_startup",
    "gap",
    "near_detection_limit",
    "spike",
)


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """How live detection runs; every field has a ``Settings`` twin (``README.md`` Configuration)."""

    interval_s: float = 60.0
    intake_interval_s: float = 30.0
    escalation_interval_s: float = 60.0
    notify_interval_s: float = 30.0
    warmup_days: float = 30.0
    refit_days: float = 30.0
    lookback_days: int = 180
    neighbour_candidates: int = 12
    offline_after_s: int = 3600
    retry_s: int = 3600
    qc_ignore: frozenset[str] = frozenset(DEFAULT_QC_IGNORE)
    time_budget_s: float = 45.0
    policy: Policy = DEFAULT_POLICY
    notify: NotifyConfig | None = None
    take_in_rows: int = 50_000

    @classmethod
    def from_settings(cls, settings: object) -> LiveOptions:
        """Read the ``live_*``, ``offline_after_s``, ``alarm_*`` and ``notify_*`` settings that exist
        (this package does not import the settings class: the worker passes whatever it has)."""
        d = cls()

        def get(name: str, default: object) -> object:
            value = getattr(settings, name, None)
            return default if value is None else value

        policy_file = get("alarm_policy", None)
        notify_file = get("notify_config", None)
        interval = float(str(get("live_detect_interval_s", d.interval_s)))
        ignore = get("live_qc_ignore", ",".join(DEFAULT_QC_IGNORE))
        return cls(
            interval_s=interval,
            intake_interval_s=float(str(get("alarm_intake_interval_s", d.intake_interval_s))),
            escalation_interval_s=float(str(get("alarm_escalation_interval_s", d.escalation_interval_s))),
            notify_interval_s=float(str(get("notify_interval_s", d.notify_interval_s))),
            warmup_days=float(str(get("live_warmup_days", d.warmup_days))),
            refit_days=float(str(get("live_refit_days", d.refit_days))),
            lookback_days=int(str(get("live_lookback_days", d.lookback_days))),
            neighbour_candidates=int(str(get("live_neighbour_candidates", d.neighbour_candidates))),
            offline_after_s=int(float(str(get("offline_after_s", d.offline_after_s)))),
            qc_ignore=frozenset(x.strip() for x in str(ignore).split(",") if x.strip()),
            time_budget_s=max(1.0, 0.75 * interval),
            policy=load_policy(Path(str(policy_file))) if policy_file else DEFAULT_POLICY,
            notify=load_notify_config(Path(str(notify_file))) if notify_file else None,
        )


DEFAULT_OPTIONS = LiveOptions()
