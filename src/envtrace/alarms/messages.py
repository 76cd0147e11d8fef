"""What a notification says: the event, the alarm as it stood then, and its evidence summary.

:func:`notice_for` builds a :class:`Notice` from stored rows; the notice renders itself as the
webhook's JSON body and as a bilingual (Chinese, English) plain-text e-mail. Times are given as
Unix seconds and as the station's local time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Connection, RowMapping

from envtrace.alarms.history import AlarmEvent, AlarmStatus, replay
from envtrace.alarms.outcomes import DISMISS_REASONS, ENFORCEMENT_TYPES
from envtrace.alarms.records import event_from_row
from envtrace.store import alarms as db

ACTION_LABELS: dict[str, tuple[str, str]] = {
    "open": ("新告警", "new alarm"),
    "extend": ("告警延展", "alarm extended"),
    "acknowledge": ("已确认接收", "acknowledged"),
    "assign": ("已指派", "assigned"),
    "verify": ("核查中", "under verification"),
    "confirm": ("已确认属实", "confirmed"),
    "dismiss": ("已排除", "dismissed"),
    "comment": ("新意见", "comment"),
    "escalate": ("超时升级", "escalated (overdue)"),
    "reopen": ("已重新开启", "reopened"),
}


@dataclass(frozen=True, slots=True)
class Notice:
    event: AlarmEvent
    event_id: int
    alarm: AlarmStatus
    station_mn: str
    station_name: str | None
    utc_offset_min: int
    reason_zh: str
    reason_en: str
    link: str

    @property
    def event_type(self) -> str:
        return f"alarm.{self.event.action}"

    def local(self, ts: int | None) -> str:
        if ts is None:
            return "-"
        zone = timezone(timedelta(minutes=self.utc_offset_min))
        return datetime.fromtimestamp(ts, UTC).astimezone(zone).isoformat()

    def document(self) -> dict[str, object]:
        a = self.alarm
        e = self.event
        return {
            "type": self.event_type,
            "event_id": self.event_id,
            "link": self.link,
            "event": e.payload(),
            "alarm": {
                "id": a.id,
                "station": {"id": a.station_id, "mn": self.station_mn, "name": self.station_name},
                "pattern": a.pattern,
                "kind": a.kind,
                "severity": a.severity,
                "score": a.score,
                "parameters": list(a.parameters),
                "start_ts": a.start_ts,
                "end_ts": a.end_ts,
                "start": self.local(a.start_ts),
                "end": self.local(a.end_ts),
                "state": str(a.state),
                "owner_user": a.owner_user,
                "owner_role": a.owner_role,
                "escalation_level": a.escalation_level,
                "due_ts": a.due_ts,
                "supersedes_id": a.supersedes_id,
                "superseded_by_id": a.superseded_by_id,
            },
            "evidence": {"reason_zh": self.reason_zh, "reason_en": self.reason_en},
        }

    def json_body(self) -> str:
        return json.dumps(self.document(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def subject(self) -> str:
        zh, en = ACTION_LABELS.get(str(self.event.action), (str(self.event.action),) * 2)
        a = self.alarm
        return f"[envtrace] {zh} {en}: #{a.id} {a.pattern} ({a.kind}, {a.severity}) @ {self.station_mn}"

    def text(self) -> str:
        a = self.alarm
        e = self.event
        zh, en = ACTION_LABELS.get(str(e.action), (str(e.action),) * 2)
        station = f"{self.station_mn} {self.station_name or ''}".strip()
        lines = [
            f"告警 Alarm #{a.id}: {zh} / {en}",
            f"站点 Station: {station}",
            f"模式 Pattern: {a.pattern}   类别 Kind: {a.kind}   级别 Severity: {a.severity}",
            f"得分 Score: {a.score:.2f}   参数 Parameters: {', '.join(a.parameters) or '-'}",
            f"时段 Window: {self.local(a.start_ts)} — {self.local(a.end_ts)}",
            f"原因 Reason: {self.reason_zh}",
            f"          {self.reason_en}",
            f"状态 State: {a.state}   负责 Owner: {a.owner_user or '-'} ({a.owner_role})",
            f"期限 Due: {self.local(a.due_ts)}",
            f"操作 By: {e.actor} ({e.role}) {self.local(e.ts)}",
        ]
        if e.reason_code:
            label = DISMISS_REASONS.get(e.reason_code)
            shown = f"{label[0]} / {label[1]}" if label else e.reason_code
            lines.append(f"理由 Reason code: {shown}")
        if e.reason:
            lines.append(f"说明 Note: {e.reason}")
        if e.enforcement_type:
            kind = ENFORCEMENT_TYPES.get(e.enforcement_type, (e.enforcement_type, e.enforcement_type))
            lines.append(f"执法 Enforcement: {kind[0]} / {kind[1]} {e.enforcement_ref}")
        lines += ["", f"查看 Open in the console: {self.link}", ""]
        return "\n".join(lines)


def _summary(evidence: list[RowMapping]) -> tuple[str, str]:
    if not evidence:
        return "", ""
    best = max(evidence, key=lambda r: (float(r["score"]), int(r["id"])))
    body = json.loads(str(best["body"]))
    return str(body.get("reason_zh", "")), str(body.get("reason_en", ""))


def notice_for(conn: Connection, event_row: RowMapping, console_url: str) -> Notice:
    """The notice of one stored event: the alarm replayed up to that event, the best evidence so far."""
    alarm_id = int(event_row["alarm_id"])
    seq = int(event_row["seq"])
    history = [event_from_row(r) for r in db.event_rows(conn, alarm_id) if int(r["seq"]) <= seq]
    status = replay(history)
    evidence = [r for r in db.evidence_rows(conn, alarm_id) if int(r["seq"]) <= seq]
    if not evidence and status.supersedes_id is not None:
        evidence = db.evidence_rows(conn, status.supersedes_id)
    reason_zh, reason_en = _summary(evidence)
    mn, name, offset = db.station_labels(conn, status.station_id)
    return Notice(
        event=history[-1],
        event_id=int(event_row["id"]),
        alarm=status,
        station_mn=mn,
        station_name=name,
        utc_offset_min=offset,
        reason_zh=reason_zh,
        reason_en=reason_en,
        link=f"{console_url.rstrip('/')}/alarms/{alarm_id}",
    )
