"""Controlled lists for closing an alarm: why it was dismissed, what enforcement confirmed it.

A dismissal needs one of :data:`DISMISS_REASONS` *and* free text; a confirmation needs one of
:data:`ENFORCEMENT_TYPES` *and* the reference of the case or decision (e.g. its document number).
The labels are what the console and the notifications show.
"""

from __future__ import annotations

from collections.abc import Mapping

from envtrace.alarms.errors import InvalidDecision

DISMISS_REASONS: Mapping[str, tuple[str, str]] = {
    "instrument_fault": ("仪器故障，非人为", "instrument fault, not human action"),
    "maintenance_calibration": ("维护或校准期间", "during maintenance or calibration"),
    "process_condition": ("启停炉等工况所致", "process condition (start-up, shut-down, low load)"),
    "transmission_fault": ("数据传输故障", "data transmission fault"),
    "verified_genuine": ("现场核查数据真实", "on-site check found the data genuine"),
    "detector_false_positive": ("模型误报", "detector false positive"),
    "duplicate": ("与其他告警重复", "duplicate of another alarm"),
    "other": ("其他（须详细说明）", "other (explain in full)"),
}

ENFORCEMENT_TYPES: Mapping[str, tuple[str, str]] = {
    "case_filed": ("立案调查", "case filed for investigation"),
    "administrative_penalty": ("行政处罚决定", "administrative penalty decision"),
    "rectification_order": ("责令改正", "order to rectify"),
    "production_restriction": ("责令限制生产、停产整治", "order to restrict or stop production"),
    "transfer_to_police": ("移送公安机关", "transferred to the public security organ"),
    "credit_record": ("纳入环境信用记录", "entered in the environmental credit record"),
    "qc_work_order": ("运维整改工单", "maintenance work order (data quality)"),
}

MIN_REASON_CHARS = 4


def check_dismissal(reason_code: str | None, reason: str | None) -> tuple[str, str]:
    """The validated (code, free text) of a dismissal, or :class:`InvalidDecision`."""
    if reason_code is None or reason_code not in DISMISS_REASONS:
        raise InvalidDecision("reason_code", reason_code, f"one of {sorted(DISMISS_REASONS)}")
    text = (reason or "").strip()
    if len(text) < MIN_REASON_CHARS:
        raise InvalidDecision("reason", reason, f"a free-text explanation of {MIN_REASON_CHARS}+ characters")
    return reason_code, text


def check_enforcement(enforcement_type: str | None, enforcement_ref: str | None) -> tuple[str, str]:
    """The validated (type, reference) of a confirmation, or :class:`InvalidDecision`."""
    if enforcement_type is None or enforcement_type not in ENFORCEMENT_TYPES:
        raise InvalidDecision("enforcement_type", enforcement_type, f"one of {sorted(ENFORCEMENT_TYPES)}")
    ref = (enforcement_ref or "").strip()
    if not ref:
        raise InvalidDecision("enforcement_ref", enforcement_ref, "the case or decision reference")
    return enforcement_type, ref
