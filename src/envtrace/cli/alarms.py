"""`envtrace alarms`: the alarm inbox and its decisions from the command line.

Reading (``list``, ``show``) without ``--as`` sees every alarm, as an operator with access to the
database would; with ``--as USER`` it applies that user's read rules. Every decision (``ack``,
``assign``, ``verify``, ``confirm``, ``dismiss``, ``comment``, ``reopen``) needs ``--as USER``: the
user's role decides whether it is allowed, and the user is named in the sealed record.
``escalate-overdue`` and ``notify`` are what the background worker runs; ``check`` recomputes
every alarm from its sealed history and exits 1 on any disagreement.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from envtrace.alarms import AlarmStatus, Policy

alarms_app = typer.Typer(help="Alarms: inbox, decisions, escalation, notifications.", no_args_is_help=True)

DbOpt = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: ENVTRACE_DB_URL or sqlite:///envtrace.db).")
]
AsOpt = Annotated[str, typer.Option("--as", help="The user who decides (named in the sealed record).")]
ViewAsOpt = Annotated[str | None, typer.Option("--as", help="Show what this user may see.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="A note kept with the decision.")]
RefOpt = Annotated[
    list[str] | None, typer.Option("--ref", help="A reference to supporting evidence (repeatable).")
]
PolicyOpt = Annotated[
    Path | None, typer.Option("--policy", help="Deadline and escalation table (TOML); default built in.")
]
NowOpt = Annotated[int | None, typer.Option("--now", help="Unix seconds to act at (default: now).")]
SeqOpt = Annotated[
    int | None, typer.Option("--expect-seq", help="Refuse if the alarm changed after this event number.")
]


def _engine(db: str | None) -> Engine:
    from envtrace.config import Settings
    from envtrace.store import migrate
    from envtrace.store.engine import connect

    settings = Settings() if db is None else Settings(db_url=db)
    engine = connect(settings.db_url, sqlite_synchronous=settings.sqlite_synchronous)
    if not migrate.is_up_to_date(engine):
        migrate.upgrade(engine)
    return engine


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _policy(path: Path | None) -> Policy:
    from envtrace.alarms import DEFAULT_POLICY, load_policy

    return DEFAULT_POLICY if path is None else load_policy(path)


@contextmanager
def _errors() -> Iterator[None]:
    from envtrace.alarms import AlarmError

    try:
        yield
    except AlarmError as exc:
        _fail(str(exc))


def _status_json(s: AlarmStatus) -> dict[str, Any]:
    from dataclasses import asdict

    doc = asdict(s)
    doc["state"] = str(s.state)
    doc["parameters"] = list(s.parameters)
    return doc


def _line(s: AlarmStatus, now: int) -> str:
    overdue = " OVERDUE" if s.is_open and s.due_ts is not None and s.due_ts <= now else ""
    owner = s.owner_user or f"[{s.owner_role}]"
    return (
        f"#{s.id}\t{s.state}\t{s.kind}/{s.pattern}\t{s.severity}\tscore={s.score:.2f}\tstation={s.station_id}"
        f"\t{s.start_ts}..{s.end_ts}\towner={owner}\tdue={s.due_ts}{overdue}"
    )


@alarms_app.command("list")
def list_(
    db: DbOpt = None,
    state: Annotated[list[str] | None, typer.Option("--state", help="new, acknowledged, ...")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="fraud, qc, exceedance, offline")] = None,
    station: Annotated[str | None, typer.Option("--station", help="Station MN.")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only alarms owned by --as or in its queue.")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only alarms past their deadline.")] = False,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    as_user: ViewAsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List alarms, newest first."""
    from envtrace.alarms import SYSTEM, actor_for, list_alarms
    from envtrace.store.alarms import station_by_mn

    now = int(time.time())
    engine = _engine(db)
    try:
        with _errors(), engine.connect() as conn:
            viewer = SYSTEM if as_user is None else actor_for(conn, as_user)
            station_id = None
            if station is not None:
                station_id = station_by_mn(conn, station)
                if station_id is None:
                    _fail(f"no station with MN {station!r}")
            rows = list_alarms(
                conn,
                viewer,
                states=state,
                kinds=kind,
                station_id=station_id,
                mine=mine,
                overdue_at=now if overdue else None,
                limit=limit,
            )
    finally:
        engine.dispose()
    for s in rows:
        typer.echo(json.dumps(_status_json(s), ensure_ascii=False) if as_json else _line(s, now))


@alarms_app.command("show")
def show(
    alarm_id: Annotated[int, typer.Argument()],
    db: DbOpt = None,
    as_user: ViewAsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One alarm: status, sealed history, evidence, and what --as may do now."""
    from dataclasses import asdict

    from envtrace.alarms import SYSTEM, actor_for, get_alarm

    now = int(time.time())
    engine = _engine(db)
    try:
        with _errors(), engine.connect() as conn:
            viewer = SYSTEM if as_user is None else actor_for(conn, as_user)
            detail = get_alarm(conn, alarm_id, viewer, now=now)
    finally:
        engine.dispose()
    if as_json:
        doc = {
            "alarm": _status_json(detail.status),
            "station_mn": detail.station_mn,
            "station_name": detail.station_name,
            "overdue": detail.overdue,
            "actions": [str(a) for a in detail.actions],
            "events": [e.payload() for e in detail.events],
            "evidence": [asdict(e) for e in detail.evidence],
        }
        typer.echo(json.dumps(doc, ensure_ascii=False, default=str))
        return
    typer.echo(_line(detail.status, now))
    typer.echo(f"station {detail.station_mn} {detail.station_name or ''}".rstrip())
    for e in detail.events:
        extra = " ".join(
            f"{k}={v}"
            for k, v in (
                ("reason_code", e.reason_code),
                ("reason", e.reason),
                ("enforcement", e.enforcement_type and f"{e.enforcement_type}:{e.enforcement_ref}"),
                ("refs", ",".join(e.refs) or None),
            )
            if v
        )
        typer.echo(f"  {e.seq}\t{e.ts}\t{e.action}\t{e.actor}({e.role})\t{e.prev_state}->{e.state}\t{extra}")
    for ev in detail.evidence:
        typer.echo(
            f"  evidence {ev.fingerprint[:12]} {ev.detector} {ev.pattern}"
            f" score={ev.score:.2f}: {ev.reason_en}"
        )
    typer.echo(f"  may now: {', '.join(str(a) for a in detail.actions) or '-'}")


def _decide(
    db: str | None, as_user: str, step: Callable[[Connection, Any, int], AlarmStatus], now: int | None
) -> None:
    from envtrace.alarms import actor_for
    from envtrace.store.engine import write_transaction

    at = int(time.time()) if now is None else now
    engine = _engine(db)
    try:
        with _errors(), write_transaction(engine) as conn:
            status = step(conn, actor_for(conn, as_user), at)
    finally:
        engine.dispose()
    typer.echo(_line(status, at))


@alarms_app.command("ack")
def ack(
    alarm_id: Annotated[int, typer.Argument()],
    as_user: AsOpt,
    db: DbOpt = None,
    note: NoteOpt = None,
    policy: PolicyOpt = None,
    now: NowOpt = None,
    expect_seq: SeqOpt = None,
) -> None:
    """Acknowledge a new alarm (and take it, if it waits in a queue)."""
    from envtrace.alarms import acknowledge

    _decide(
        db,
        as_user,
        lambda conn, actor, at: acknowledge(
            conn, alarm_id, actor, now=at, note=note, expected_seq=expect_seq, policy=_policy(policy)
        ),
        now,
    )


@alarms_app.command("assign")
def assign_cmd(
    alarm_id: Annotated[int, typer.Argument()],
    as_user: AsOpt,
    db: DbOpt = None,
    to_user: Annotated[str | None, typer.Option("--to-user", help="Give the alarm to this user.")] = None,
    to_role: Annotated[str | None, typer.Option("--to-role", help="Put it in this role's queue.")] = None,
    note: NoteOpt = None,
    now: NowOpt = None,
    expect_seq: SeqOpt = None,
) -> None:
    """Assign an open alarm to a user or a role queue."""
    from envtrace.alarms import assign

    _decide(
        db,
        as_user,
        lambda conn, actor, at: assign(
            conn,
            alarm_id,
            actor,
            now=at,
            to_user=to_user,
            to_role=to_role,
            note=note,
            expected_seq=expect_seq,
        ),
        now,
    )


@alarms_app.command("verify")
def verify_cmd(
    alarm_id: Annotated[int, typer.Argument()],
    as_user: AsOpt,
    db: DbOpt = None,
    note: NoteOpt = None,
    ref: RefOpt = None,
    now: NowOpt = None,
    expect_seq: SeqOpt = None,
) -> None:
    """Start verifying an acknowledged alarm."""
    from envtrace.alarms import start_verification

    _decide(
        db,
        as_user,
        lambda conn, actor, at: start_verification(
            conn, alarm_id, actor, now=at, note=note, refs=ref or (), expected_seq=expect_seq
        ),
        now,
    )


@alarms_app.command("confirm")
def confirm_cmd(
    alarm_id: Annotated[int, typer.Argument()],
    as_user: AsOpt,
    enforcement_type: Annotated[
        str, typer.Option("--enforcement-type", help="case_filed, administrative_penalty, ...")
    ],
    case_ref: Annotated[
        str, typer.Option("--case-ref", help="Case or decision reference (document number).")
    ],
    db: DbOpt = None,
    note: NoteOpt = None,
    ref: RefOpt = None,
    now: NowOpt = None,
    expect_seq: SeqOpt = None,
) -> None:
    """Confirm an alarm under verification, naming the enforcement action it led to."""
    from envtrace.alarms import confirm

    _decide(
        db,
        as_user,
        lambda conn, actor, at: confirm(
            conn,
            alarm_id,
            actor,
            now=at,
            enforcement_type=enforcement_type,
            enforcement_ref=case_ref,
            note=note,
            refs=ref or (),
            expected_seq=expect_seq,
        ),
        now,
    )


@alarms_app.command("dismiss")
def dismiss_cmd(
    alarm_id: Annotated[int, typer.Argument()],
    as_user: AsOpt,
    reason_code: Annotated[
        str, typer.Option("--reason-code", help="instrument_fault, verified_genuine, ...")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Free-text explanation.")],
    db: DbOpt = None,
    ref: RefOpt = None,
    now: NowOpt = None,
    expect_seq: SeqOpt = None,
) -> None:
    """Dismiss an alarm under verification, with a reason code and an explanation."""
    from envtrace.alarms import dismiss

    _decide(
        db,
        as_user,
        lambda conn, actor, at: dismiss(
            conn,
            alarm_id,
            actor,
            now=at,
            reason_code=reason_code,
            reason=reason,
            refs=ref or (),
            expected_seq=expect_seq,
        ),
        now,
    )


@alarms_app.command("comment")
def comment_cmd(
    alarm_id: Annotated[int, typer.Argument()],
    as_user: AsOpt,
    text: Annotated[str, typer.Option("--text", help="The comment or explanation.")],
    db: DbOpt = None,
    ref: RefOpt = None,
    now: NowOpt = None,
) -> None:
    """Comment on an open alarm (enterprise users: submit an explanation)."""
    from envtrace.alarms import comment

    _decide(
        db,
        as_user,
        lambda conn, actor, at: comment(conn, alarm_id, actor, now=at, text=text, refs=ref or ()),
        now,
    )


@alarms_app.command("reopen")
def reopen_cmd(
    alarm_id: Annotated[int, typer.Argument()],
    as_user: AsOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why the closed alarm is reopened.")],
    db: DbOpt = None,
    ref: RefOpt = None,
    policy: PolicyOpt = None,
    now: NowOpt = None,
) -> None:
    """Reopen a closed alarm as a new alarm that supersedes it."""
    from envtrace.alarms import reopen

    _decide(
        db,
        as_user,
        lambda conn, actor, at: reopen(
            conn, alarm_id, actor, now=at, reason=reason, refs=ref or (), policy=_policy(policy)
        ),
        now,
    )


@alarms_app.command("escalate-overdue")
def escalate_overdue_cmd(db: DbOpt = None, policy: PolicyOpt = None, now: NowOpt = None) -> None:
    """Escalate every overdue open alarm to the next level (idempotent)."""
    from envtrace.alarms import escalate_overdue

    at = int(time.time()) if now is None else now
    engine = _engine(db)
    try:
        with _errors():
            escalated = escalate_overdue(engine, at, policy=_policy(policy))
    finally:
        engine.dispose()
    typer.echo(
        f"escalated {len(escalated)} alarm(s){': ' if escalated else ''}{' '.join(map(str, escalated))}"
    )


@alarms_app.command("notify")
def notify_cmd(
    config: Annotated[Path, typer.Option("--config", help="Notification settings (TOML).")],
    db: DbOpt = None,
    now: NowOpt = None,
) -> None:
    """Plan notifications for new alarm events and send those due (e-mail, signed webhooks)."""
    from envtrace.alarms import deliver_notifications, load_notify_config

    at = int(time.time()) if now is None else now
    engine = _engine(db)
    try:
        with _errors():
            report = deliver_notifications(engine, load_notify_config(config), now=at)
    finally:
        engine.dispose()
    typer.echo(
        f"planned {report.planned}, sent {report.sent}, retrying {report.retrying}, failed {report.failed}"
    )


@alarms_app.command("check")
def check_cmd(db: DbOpt = None) -> None:
    """Recompute every alarm from its sealed history; exit 1 if any cache, event or leaf disagrees."""
    from envtrace.alarms import check_alarms

    engine = _engine(db)
    try:
        problems = check_alarms(engine)
    finally:
        engine.dispose()
    for problem in problems:
        typer.echo(str(problem))
    typer.echo(f"alarms check: {len(problems)} disagreement(s)")
    if problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(alarms_app, name="alarms")
