"""A data logger swapped behind an MN (HJ 212-2025 CN 1001) becomes one sealed ``logger_swapped`` alarm.

The bindings are recorded with the store function the gateway calls after committing a CN 1001
frame (``record_identity``); the alarm intake job (``run_intake``) raises the change once, through
the sealed alarm lifecycle, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from envtrace.alarms import (
    Actor,
    AlarmNotFound,
    acknowledge,
    alarm_evidence,
    check_alarms,
    dismiss,
    get_alarm,
    list_alarms,
    run_intake,
    start_verification,
)
from envtrace.store.engine import write_transaction
from envtrace.store.station_identity import record_identity, unreported_changes

from .conftest import T0, World

VIEWER = Actor("test", "admin")
NOW = T0 + 10 * 86400
OLD = {"logger_id": "LG-2025-0001", "cpu_id": "CPU-7f3a9c01", "mac1": "00:1A:2B:3C:4D:5E", "mac2": None}
NEW = {"logger_id": "LG-2025-0931", "cpu_id": "CPU-0b81e772", "mac1": "00:1A:2B:99:88:77", "mac2": None}


def _report(world: World, values: dict[str, str | None], seen_s: int, peer: str) -> None:
    with write_transaction(world.engine) as conn:
        record_identity(
            conn,
            station_id=world.station_acme,
            mn="MN-ACME-1",
            values=values,
            seen_us=seen_s * 1_000_000,
            peer=peer,
        )


def test_a_swapped_logger_opens_one_critical_sealed_alarm_with_both_identities(world: World) -> None:
    _report(world, OLD, NOW - 7200, "10.0.0.5:40001")  # first binding: no alarm
    assert run_intake(world.engine, NOW - 7000).get("logger_swaps_opened") is None
    _report(world, NEW, NOW - 600, "10.9.9.9:50123")  # another logger behind the same MN
    counts = run_intake(world.engine, NOW)
    assert counts["logger_swaps_opened"] == 1
    with world.engine.connect() as conn:
        (alarm,) = list_alarms(conn, VIEWER)
        (item,) = alarm_evidence(conn, alarm.id, VIEWER)
        assert unreported_changes(conn) == []  # marked reported in the same transaction
        detail = get_alarm(conn, alarm.id, VIEWER, now=NOW)
        with pytest.raises(AlarmNotFound):  # suspected fraud: no tip-off to the enterprise while new
            get_alarm(conn, alarm.id, world["ent"], now=NOW)
    assert (alarm.station_id, alarm.pattern, alarm.kind, alarm.severity, alarm.state.value) == (
        world.station_acme, "logger_swapped", "fraud", "critical", "new",
    )  # fmt: skip
    assert (alarm.start_ts, alarm.end_ts) == (NOW - 7200, NOW - 600 + 1)  # old's last report to new's first
    assert alarm.detector == "platform.logger_identity"
    assert [e.action.value for e in detail.events] == ["open"]
    assert item.extra["mn"] == "MN-ACME-1"
    old, new = item.extra["old"], item.extra["new"]
    assert isinstance(old, dict)
    assert isinstance(new, dict)
    assert (old["logger_id"], old["cpu_id"], old["mac1"], old["peer"]) == (
        "LG-2025-0001", "CPU-7f3a9c01", "00:1A:2B:3C:4D:5E", "10.0.0.5:40001",
    )  # fmt: skip
    assert (new["logger_id"], new["cpu_id"], new["mac1"], new["peer"]) == (
        "LG-2025-0931", "CPU-0b81e772", "00:1A:2B:99:88:77", "10.9.9.9:50123",
    )  # fmt: skip
    assert old["last_seen_us"] == (NOW - 7200) * 1_000_000
    assert new["first_seen_us"] == (NOW - 600) * 1_000_000
    assert old["identity"] != new["identity"]
    assert "LG-2025-0931" in item.reason_en
    assert "MN-ACME-1" in item.reason_zh
    assert check_alarms(world.engine) == []  # the event and its ledger leaf agree
    # raised once: the next runs find nothing new
    assert run_intake(world.engine, NOW + 30).get("logger_swaps_opened") is None
    # the same new logger reporting again changes nothing
    _report(world, NEW, NOW + 4000, "10.9.9.9:50123")
    assert run_intake(world.engine, NOW + 4030).get("logger_swaps_opened") is None


def test_a_swap_back_extends_the_open_alarm_and_after_a_decision_opens_a_new_one(world: World) -> None:
    _report(world, OLD, NOW - 90_000, "10.0.0.5:40001")
    _report(world, NEW, NOW - 80_000, "10.9.9.9:50123")
    assert run_intake(world.engine, NOW - 79_000)["logger_swaps_opened"] == 1
    _report(world, OLD, NOW - 600, "10.0.0.5:40001")  # the original logger is back: the same incident
    counts = run_intake(world.engine, NOW)
    assert (counts.get("logger_swaps_opened", 0), counts["logger_swaps_extended"]) == (0, 1)
    with world.engine.connect() as conn:
        (alarm,) = list_alarms(conn, VIEWER)
        items = alarm_evidence(conn, alarm.id, VIEWER)
    assert [i.extra["new"]["logger_id"] for i in items] == ["LG-2025-0931", "LG-2025-0001"]
    assert (alarm.start_ts, alarm.end_ts) == (NOW - 90_000, NOW - 600 + 1)
    # staff judge it (a logger replaced under maintenance); a later swap is a new alarm
    rev = world["rev"]
    with write_transaction(world.engine) as conn:
        acknowledge(conn, alarm.id, rev, now=NOW + 60)
        start_verification(conn, alarm.id, rev, now=NOW + 120)
        dismiss(
            conn, alarm.id, rev, now=NOW + 180, reason_code="maintenance_calibration",
            reason="logger replaced by the operator under work order 2026-118, returned after repair",
        )  # fmt: skip
    _report(world, NEW, NOW + 86_400, "10.9.9.9:50123")
    assert run_intake(world.engine, NOW + 86_500)["logger_swaps_opened"] == 1
    with world.engine.connect() as conn:
        states = sorted((a.id, a.state.value) for a in list_alarms(conn, VIEWER))
    assert [s for _, s in states] == ["dismissed", "new"]
    assert check_alarms(world.engine) == []
