"""Commands the platform sends a station over its connection, and the answers it tracks.

Staff (CLI, API) *queue* a command here; the gateway, which holds the station's connection, picks
queued commands up (``queued_commands``), sends the frame, and records what the station answered:
``QnRtn`` of its 9011 and ``ExeRtn`` of its 9012, matched by the QN. States::

    queued -> sent -> acknowledged (9011 QnRtn=1) -> done (9012 ExeRtn=1) | failed
           \\-> expired (not sent within its time to live, or unanswered) / cancelled

Kinds: ``set_mn`` (HJ 212-2025 CN 1002: the platform assigns the 24-character MN), ``rotate_key``
(CN 1014 centre -> field: a new SM4 key), ``retain_sample`` (CN 3022), ``standard_check`` (CN 3024).
The issue of each command is sealed (``station_command`` leaf: who asked what of which station);
an MN change that the station confirmed is sealed as a ``station_mn`` record and the registry's MN
follows it (``station_mn_change`` keeps every MN a station had).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    RowMapping,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from envtrace.store.errors import CommandRefused, StationExists, StationNotFound
from envtrace.store.ledger_log import append, read_head
from envtrace.store.metadata import metadata
from envtrace.store.registry import station
from envtrace.store.types import Id

COMMAND_KINDS = ("set_mn", "rotate_key", "retain_sample", "standard_check")
COMMAND_STATES = ("queued", "sent", "acknowledged", "done", "failed", "expired", "cancelled")
OPEN_STATES = ("queued", "sent", "acknowledged")
COMMAND_CN = {"set_mn": "1002", "rotate_key": "1014", "retain_sample": "3022", "standard_check": "3024"}
LEAF_KIND = "station_command"
MN_LEAF_KIND = "station_mn"

station_command = Table(
    "station_command",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", ForeignKey("station.id"), nullable=False),
    Column("mn", String(64), nullable=False, comment="the station's MN when the command was issued"),
    Column("kind", String(16), nullable=False),
    Column("params", Text, nullable=False, comment="canonical JSON (PolId, the new MN ...)"),
    Column("state", String(12), nullable=False),
    Column("qn", String(24), comment="QN of the request sent"),
    Column("qn_rtn", String(4), comment="9011 QnRtn the station answered"),
    Column("exe_rtn", String(4), comment="9012 ExeRtn the station answered"),
    Column("actor", Text, nullable=False),
    Column("created_us", Id, nullable=False),
    Column("expires_us", Id, nullable=False, comment="not sent by then: expired"),
    Column("sent_us", Id),
    Column("answered_us", Id),
    Column("detail", Text, comment="what happened (key id delivered, why it failed ...)"),
    Column("leaf_index", Id, unique=True),
    CheckConstraint(f"kind IN {COMMAND_KINDS!r}", name="kind"),
    CheckConstraint(f"state IN {COMMAND_STATES!r}", name="state"),
)
Index("ix_station_command_state", station_command.c.state, station_command.c.station_id)

station_mn_change = Table(
    "station_mn_change",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", ForeignKey("station.id"), nullable=False, index=True),
    Column("old_mn", String(64), nullable=False),
    Column("new_mn", String(64), nullable=False),
    Column("command_id", Id, comment="the 1002 command the station confirmed"),
    Column("actor", Text, nullable=False),
    Column("ts_us", Id, nullable=False),
    Column("leaf_index", Id, unique=True),
)


@dataclass(frozen=True, slots=True)
class Command:
    id: int
    station_id: int
    mn: str
    kind: str
    params: dict[str, str]
    state: str
    qn: str | None
    qn_rtn: str | None
    exe_rtn: str | None
    actor: str
    created_us: int
    expires_us: int
    sent_us: int | None
    answered_us: int | None
    detail: str | None

    @property
    def cn(self) -> str:
        return COMMAND_CN[self.kind]


def _command(row: RowMapping) -> Command:
    values = {name: row[name] for name in Command.__dataclass_fields__ if name != "params"}
    return Command(params=json.loads(row["params"]), **values)


def _canonical(value: Mapping[str, object]) -> str:
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def command_payload(row: Mapping[str, object]) -> dict[str, object]:
    """The ``station_command`` leaf payload of a command row (its issue; never its later state)."""
    return {
        "command_id": row["id"],
        "station_id": row["station_id"],
        "mn": row["mn"],
        "command": row["kind"],  # "kind" names the leaf's kind (station_command)
        "params": json.loads(str(row["params"])),
        "actor": row["actor"],
        "created_us": row["created_us"],
    }


def mn_change_payload(row: Mapping[str, object]) -> dict[str, object]:
    return {
        "station_id": row["station_id"],
        "old_mn": row["old_mn"],
        "new_mn": row["new_mn"],
        "command_id": row["command_id"],
        "actor": row["actor"],
        "ts_us": row["ts_us"],
    }


def _valid_mn(mn: str) -> bool:
    return len(mn) == 24 and all(c in "0123456789ABCDEF" for c in mn)


def queue_command(
    conn: Connection,
    *,
    mn: str,
    kind: str,
    params: Mapping[str, str],
    actor: str,
    now_us: int,
    ttl_s: float = 86_400.0,
) -> Command:
    """Queue a command for the station with MN ``mn``; sealed at once. ``CommandRefused`` when the
    kind or its parameters are wrong or an MN change targets a taken MN."""
    row = conn.execute(select(station.c.id, station.c.edition).where(station.c.mn == mn)).one_or_none()
    if row is None:
        raise StationNotFound(mn)
    if kind not in COMMAND_KINDS:
        raise CommandRefused(mn, kind, f"kind must be one of {', '.join(COMMAND_KINDS)}")
    if kind == "set_mn":
        new = params.get("mn", "")
        if not _valid_mn(new):
            raise CommandRefused(mn, kind, f"an HJ 212-2025 MN is 24 characters 0-9/A-F, not {new!r}")
        if conn.execute(select(station.c.id).where(station.c.mn == new)).first() is not None:
            raise CommandRefused(mn, kind, f"MN {new} is already registered")
    if kind in ("retain_sample", "standard_check") and not params.get("pol_id"):
        raise CommandRefused(mn, kind, "needs the factor code (pol_id)")
    text = _canonical(params)
    result = conn.execute(
        insert(station_command).values(
            station_id=int(row[0]),
            mn=mn,
            kind=kind,
            params=text,
            state="queued",
            actor=actor,
            created_us=now_us,
            expires_us=now_us + int(ttl_s * 1_000_000),
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    cid = int(pk[0])
    doc = {
        "id": cid, "station_id": int(row[0]), "mn": mn, "kind": kind, "params": text, "actor": actor,
        "created_us": now_us,
    }  # fmt: skip
    leaf_index = append(conn, LEAF_KIND, command_payload(doc))
    conn.execute(update(station_command).where(station_command.c.id == cid).values(leaf_index=leaf_index))
    return get_command(conn, cid)


def get_command(conn: Connection, command_id: int) -> Command:
    row = conn.execute(select(station_command).where(station_command.c.id == command_id)).mappings().one()
    return _command(row)


def list_commands(
    conn: Connection, *, station_id: int | None = None, open_only: bool = False, limit: int = 200
) -> list[Command]:
    c = station_command.c
    q = select(station_command).order_by(c.id.desc()).limit(limit)
    if station_id is not None:
        q = q.where(c.station_id == station_id)
    if open_only:
        q = q.where(c.state.in_(OPEN_STATES))
    return [_command(r) for r in conn.execute(q).mappings()]


def queued_commands(conn: Connection, *, now_us: int) -> list[Command]:
    """Commands waiting to be sent (oldest first); those past their time to live become expired."""
    c = station_command.c
    conn.execute(
        update(station_command)
        .where(c.state == "queued", c.expires_us <= now_us)
        .values(state="expired", detail="not sent before it expired (station not connected)")
    )
    rows = conn.execute(select(station_command).where(c.state == "queued").order_by(c.id)).mappings()
    return [_command(r) for r in rows]


def set_command_state(
    conn: Connection,
    command_id: int,
    *,
    state: str,
    qn: str | None = None,
    qn_rtn: str | None = None,
    exe_rtn: str | None = None,
    sent_us: int | None = None,
    answered_us: int | None = None,
    detail: str | None = None,
) -> None:
    if state not in COMMAND_STATES:
        raise ValueError(f"command state {state!r}")
    values: dict[str, object] = {"state": state}
    for name, value in (
        ("qn", qn),
        ("qn_rtn", qn_rtn),
        ("exe_rtn", exe_rtn),
        ("sent_us", sent_us),
        ("answered_us", answered_us),
        ("detail", detail),
    ):
        if value is not None:
            values[name] = value
    conn.execute(update(station_command).where(station_command.c.id == command_id).values(**values))


def change_mn(
    conn: Connection, *, station_id: int, new_mn: str, actor: str, now_us: int, command_id: int | None
) -> str:
    """The station took the MN ``new_mn`` (its 9012 confirmed a 1002): the registry follows, the change
    is sealed. Returns the old MN."""
    old = conn.execute(select(station.c.mn).where(station.c.id == station_id)).scalar()
    if old is None:
        raise StationNotFound(f"#{station_id}")
    if old == new_mn:
        return str(old)
    if conn.execute(select(station.c.id).where(station.c.mn == new_mn)).first() is not None:
        raise StationExists(new_mn)
    read_head(conn, for_update=True)  # lock the ledger head first, as the writer does
    conn.execute(update(station).where(station.c.id == station_id).values(mn=new_mn))
    row = {
        "station_id": station_id, "old_mn": str(old), "new_mn": new_mn, "command_id": command_id,
        "actor": actor, "ts_us": now_us,
    }  # fmt: skip
    leaf_index = append(conn, MN_LEAF_KIND, mn_change_payload(row))
    conn.execute(insert(station_mn_change).values(**row, leaf_index=leaf_index))
    return str(old)


def mn_history(conn: Connection) -> dict[int, set[str]]:
    """Every MN each station had before its current one."""
    out: dict[int, set[str]] = {}
    for sid, old, new in conn.execute(
        select(station_mn_change.c.station_id, station_mn_change.c.old_mn, station_mn_change.c.new_mn)
    ):
        out.setdefault(int(sid), set()).update((str(old), str(new)))
    return out
