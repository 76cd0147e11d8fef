"""Preparing a database for the gateway: schema, parameters, station state, partitions."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from envtrace.hj212.factors import factors
from envtrace.store import Parameter, migrate, partitions, upsert_parameters, write_transaction
from envtrace.store.state import mark_all_offline

log = logging.getLogger("envtrace.ingest")


def prepare_database(engine: Engine) -> None:
    """Bring the schema up to date, seed the factor table, mark every station offline (no
    connection outlives a gateway) and create the coming months' reading partitions."""
    if not migrate.is_up_to_date(engine):
        migrate.upgrade(engine)
    with write_transaction(engine) as conn:
        added = upsert_parameters(
            conn,
            [Parameter(f.code, f.name_zh, f.name_en, f.unit, f.kind) for f in factors().values()],
        )
        mark_all_offline(conn)
    if added:
        log.info("seeded %d parameters from the HJ 212 factor table", added)
    partitions.ensure(engine)
