"""The history is append-only and sealed; the check finds any cache, row or leaf that disagrees."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from envtrace.alarms import acknowledge, check_alarms, raise_alarms, start_verification
from envtrace.store.engine import write_transaction

from .conftest import HOUR, T0, World, evidence

NOW = T0 + 10 * HOUR


def _alarm(world: World) -> int:
    (alarm_id,) = raise_alarms(world.engine, [evidence()], now=NOW).opened
    with write_transaction(world.engine) as conn:
        acknowledge(conn, alarm_id, world["staff"], now=NOW + 60)
        start_verification(conn, alarm_id, world["staff"], now=NOW + 120)
    assert check_alarms(world.engine) == []
    return alarm_id


def _drop_guards(engine: Engine) -> None:
    """What an attacker with database access must do first."""
    with engine.begin() as conn:
        for table in ("alarm_event", "alarm_evidence"):
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
            else:
                conn.execute(text(f"DROP TRIGGER {table}_no_update"))
                conn.execute(text(f"DROP TRIGGER {table}_no_delete"))


TAMPERING = (
    "UPDATE alarm_event SET actor = 'someone_else'",
    "DELETE FROM alarm_event WHERE seq = 3",
    "UPDATE alarm_evidence SET score = 0.1",
    "DELETE FROM alarm_evidence",
)


def test_history_and_evidence_are_append_only(world: World) -> None:
    _alarm(world)
    refused = []
    for statement in TAMPERING:
        with pytest.raises(DBAPIError, match="append-only"), world.engine.begin() as conn:
            conn.execute(text(statement))
        refused.append(statement)
    assert refused == list(TAMPERING)
    assert check_alarms(world.engine) == []


def test_edited_cache_row_is_reported(world: World) -> None:
    alarm_id = _alarm(world)
    with world.engine.begin() as conn:
        conn.execute(
            text("UPDATE alarm SET state = 'dismissed', owner_user = 'mallory' WHERE id = :i"),
            {"i": alarm_id},
        )
    found = {(d.alarm_id, d.what, d.found, d.expected) for d in check_alarms(world.engine)}
    assert (alarm_id, "state", "dismissed", "under_verification") in found
    assert (alarm_id, "owner_user", "mallory", "staff") in found


def test_edited_event_is_caught_by_its_leaf(world: World) -> None:
    alarm_id = _alarm(world)
    _drop_guards(world.engine)
    with world.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE alarm_event SET actor = 'mallory',"
                " payload = replace(payload, '\"staff\"', '\"mallory\"')"
            )
        )
    problems = check_alarms(world.engine)
    assert {d.alarm_id for d in problems} == {alarm_id}
    changed = sorted(d.what.split(" leaf ")[0] for d in problems if d.what.endswith(" payload"))
    assert changed == ["event 2", "event 3"]  # the two events by staff no longer match their leaves


def test_deleted_event_and_swapped_evidence_are_reported(world: World) -> None:
    alarm_id = _alarm(world)
    _drop_guards(world.engine)
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE alarm_evidence SET body = replace(body, '0.9', '0.1')"))
        conn.execute(text("DELETE FROM alarm_event WHERE seq = 3"))
        conn.execute(
            text("UPDATE alarm SET last_seq = 2, state = 'acknowledged' WHERE id = :i"), {"i": alarm_id}
        )
    problems = check_alarms(world.engine)
    whats = [d.what for d in problems]
    assert any(w.endswith("body hash") for w in whats)
    assert any(w.startswith("sealed event 3") for w in whats)
