"""A migrated database with a small registry and one user per role, for the alarm tests.

``world`` gives two enterprises (ACME with station ``MN-ACME-1``, BETA with ``MN-BETA-1``), an
ambient station without enterprise (``MN-AMB-1``), and an :class:`Actor` per role; the enterprise
user ``ent`` belongs to ACME, ``ent2`` to BETA.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from sqlalchemy import Engine

from envtrace.alarms import Actor, actor_for
from envtrace.detect import Evidence, PlotSeries
from envtrace.store import connect, migrate
from envtrace.store.accounts import insert_user
from envtrace.store.engine import write_transaction
from envtrace.store.ledger_log import forget_cache
from envtrace.store.stations import register_station, upsert_enterprise, upsert_point

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
HOUR = 3600

USERS = {
    "staff": "monitoring_staff",
    "staff2": "monitoring_staff",
    "officer": "enforcement_officer",
    "rev": "reviewer",
    "lab": "lab_analyst",
    "sign": "signatory",
    "insp": "discipline_inspector",
    "admin": "admin",
}


@dataclass(frozen=True)
class World:
    engine: Engine
    acme: int
    beta: int
    station_acme: int
    station_beta: int
    station_ambient: int
    actors: dict[str, Actor]

    def __getitem__(self, name: str) -> Actor:
        return self.actors[name]


def _admin_url() -> str:
    url = os.environ.get("ENVTRACE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated once per session, copied for each test (``pg_url`` below)."""
    admin = _admin_url()
    name = f"envtrace_alarms_tmpl_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {admin} ({exc}): run `make test`, which provides one,"
            " or set ENVTRACE_TEST_DATABASE_URL"
        )
    base, _, _ = admin.rpartition("/")
    eng = connect(f"{base}/{name}")
    migrate.upgrade(eng)
    eng.dispose()
    yield name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, copied from the migrated template (the migrations
    themselves run once, on the template); dropped afterwards. Overrides tests/conftest.py's."""
    admin = _admin_url()
    name = f"envtrace_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    base, _, _ = admin.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = connect(db_url)
    migrate.upgrade(eng)
    forget_cache()
    yield eng
    eng.dispose()
    forget_cache()


@pytest.fixture
def world(engine: Engine) -> World:
    with write_transaction(engine) as conn:
        acme = upsert_enterprise(conn, code="91320000ACME00001X", name="ACME 电厂")
        beta = upsert_enterprise(conn, code="91320000BETA00002X", name="BETA 化工")
        p_acme = upsert_point(conn, code="ACME-DA001", name="1# 排口", kind="flue_gas", enterprise_id=acme)
        p_beta = upsert_point(conn, code="BETA-DA001", name="排口", kind="flue_gas", enterprise_id=beta)
        s_acme = register_station(conn, mn="MN-ACME-1", pw="123456", kind="flue_gas", point_id=p_acme)
        s_beta = register_station(conn, mn="MN-BETA-1", pw="123456", kind="flue_gas", point_id=p_beta)
        s_amb = register_station(conn, mn="MN-AMB-1", pw="123456", kind="ambient", name="Dongsi")
        for name, role in USERS.items():
            insert_user(conn, username=name, role=role, password_hash="x", now_ts=T0)
        insert_user(conn, username="ent", role="enterprise", password_hash="x", now_ts=T0, enterprise_id=acme)
        insert_user(
            conn, username="ent2", role="enterprise", password_hash="x", now_ts=T0, enterprise_id=beta
        )
        actors = {name: actor_for(conn, name) for name in [*USERS, "ent", "ent2"]}
    return World(engine, acme, beta, s_acme, s_beta, s_amb, actors)


def evidence(
    *,
    station: str = "MN-ACME-1",
    start: int = T0,
    hours: int = 6,
    pattern: str = "frozen_value",
    kind: str = "fraud",
    score: float = 0.9,
    detector: str = "flatline",
    parameters: tuple[str, ...] = ("a21026",),
) -> Evidence:
    """A detector finding like ``envtrace.detect`` produces, with a plot series."""
    times = tuple(start + i * HOUR for i in range(hours))
    return Evidence(
        detector=detector,
        station=station,
        parameters=parameters,
        start=start,
        end=start + hours * HOUR,
        pattern=pattern,
        kind=kind,
        score=score,
        statistic=0.0,
        baseline=3.2,
        threshold=0.05,
        reason_en=f"{parameters[0]} constant for {hours} h",
        reason_zh=f"{parameters[0]} 连续 {hours} 小时恒定",
        expected_per_year=0.01,
        plots=(PlotSeries(parameters[0], times, tuple(35.0 for _ in times)),),
    )
