"""Every table of envtrace, gathered on one ``MetaData`` (see ``envtrace.store.metadata``).

The table modules register themselves when imported here; Alembic's autogenerate and the tests
read ``metadata`` from this module.
"""

from __future__ import annotations

from envtrace.store import (  # HJ 212-2025
    accounts,
    alarms,
    detect_state,
    frames,
    hourly,
    ledger_tables,
    payloads,
    readings,
    registry,
    rollups,
    station_commands,
    station_identity,
    station_keys,
)
from envtrace.store.metadata import metadata

__all__ = [
    "accounts",
    "alarms",
    "detect_state",
    "frames",
    "hourly",
    "ledger_tables",
    "metadata",
    "payloads",
    "readings",
    "registry",
    "rollups",
    "station_commands",
    "station_identity",
    "station_keys",
]
