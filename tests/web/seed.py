"""A small province written through the store's tables: enterprises, points, stations, state,
raw frames (sealed in the ledger), readings and roll-ups, and one user per role."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import Engine, insert

from envtrace.accounts import USER_ROLES, Role, hash_password
from envtrace.alarms import Finding, raise_alarms_in
from envtrace.store import console, rollups
from envtrace.store.accounts import insert_user
from envtrace.store.engine import write_transaction
from envtrace.store.frames import quarantine, raw_frame, station_state
from envtrace.store.ledger_log import append
from envtrace.store.readings import reading
from envtrace.store.registry import parameter, station

PASSWORD = "correct-horse-battery"


@cache
def password_hash() -> str:
    """One argon2 hash of PASSWORD for every seeded user (hashing costs ~0.4 s here)."""
    return hash_password(PASSWORD)


@dataclass
class Province:
    enterprise_id: int = 0
    other_enterprise_id: int = 0
    ambient_ids: list[int] = field(default_factory=list)
    outlet_id: int = 0
    other_outlet_id: int = 0
    pending_id: int = 0
    frame_id: int = 0
    other_frame_id: int = 0
    alarm_id: int = 0
    quarantined_frame_id: int = 0
    users: dict[str, str] = field(default_factory=dict)
    t_end: int = 0


def _frame(conn, *, station_id, mn, data_ts, status="accepted", raw=None) -> int:  # type: ignore[no-untyped-def]
    body = (
        raw
        if raw is not None
        else (
            f"##0101QN=20240101000000000;ST=22;CN=2051;PW=123456;MN={mn};Flag=4;CP=&&DataTime={data_ts}&&\r\n"
        ).encode()
    )
    leaf = append(conn, "raw_frame", {"mn": mn, "raw": body})
    result = conn.execute(
        insert(raw_frame).values(
            received_us=data_ts * 1_000_000 + 5,
            peer="127.0.0.1:40000",
            station_id=station_id,
            mn=mn,
            st="22",
            cn="2051",
            qn="20240101000000000",
            flag=4,
            data_ts=data_ts,
            edition="2017",
            status=status,
            leaf_index=leaf,
            raw=body,
        )
    )
    return int(result.inserted_primary_key[0])


def seed(engine: Engine, *, minutes: int = 180, now: int | None = None) -> Province:
    p = Province()
    now = int(time.time()) if now is None else now
    t_end = now - now % 60
    p.t_end = t_end
    t0 = t_end - minutes * 60
    with write_transaction(engine) as conn:
        conn.execute(
            insert(parameter),
            [
                {"code": "a34004", "name_zh": "细颗粒物", "name_en": "PM2.5", "unit": "µg/m³", "kind": "air"},
                {"code": "a21026", "name_zh": "二氧化硫", "name_en": "SO2", "unit": "µg/m³", "kind": "air"},
            ],
        )
        p.enterprise_id = console.insert_enterprise(
            conn,
            code="91320100MA1",
            name="金陵热电有限公司",
            name_en="Jinling Power",
            now_ts=now,
            city="南京市",
            county="江宁区",
            industry="电力",
            key_unit=True,
        )
        p.other_enterprise_id = console.insert_enterprise(
            conn,
            code="91320200MB2",
            name="太湖化工有限公司",
            now_ts=now,
            city="无锡市",
            county="滨湖区",
            industry="化工",
        )
        amb_point = console.insert_point(
            conn,
            code="AMB-1",
            name="玄武湖",
            kind="ambient",
            now_ts=now,
            city="南京市",
            county="玄武区",
            lat=32.07,
            lon=118.79,
        )
        amb_point2 = console.insert_point(
            conn,
            code="AMB-2",
            name="蠡园",
            kind="ambient",
            now_ts=now,
            city="无锡市",
            county="滨湖区",
            lat=31.55,
            lon=120.25,
        )
        out_point = console.insert_point(
            conn,
            code="OUT-1",
            name="1号锅炉排口",
            kind="flue_gas",
            now_ts=now,
            enterprise_id=p.enterprise_id,
            city="南京市",
            county="江宁区",
            lat=31.9,
            lon=118.8,
        )
        other_point = console.insert_point(
            conn,
            code="OUT-2",
            name="2号排口",
            kind="flue_gas",
            now_ts=now,
            enterprise_id=p.other_enterprise_id,
            city="无锡市",
        )

        def add_station(mn: str, point: int | None, kind: str, name: str, *, approved: bool = True) -> int:
            r = conn.execute(
                insert(station).values(
                    mn=mn,
                    point_id=point,
                    name=name,
                    kind=kind,
                    pw_hash="x",
                    created_ts=now,
                    approved=approved,
                    enrolled_us=None if approved else now * 1_000_000,
                )
            )
            return int(r.inserted_primary_key[0])

        p.ambient_ids = [
            add_station("AMB0000000000001", amb_point, "ambient", "玄武湖站"),
            add_station("AMB0000000000002", amb_point2, "ambient", "蠡园站"),
        ]
        p.outlet_id = add_station("OUT0000000000001", out_point, "flue_gas", "1号锅炉")
        p.other_outlet_id = add_station("OUT0000000000002", other_point, "flue_gas", "2号排口")
        p.pending_id = add_station("NEW0000000000009", None, "other", "", approved=False)
        for sid in [*p.ambient_ids, p.outlet_id, p.other_outlet_id, p.pending_id]:
            conn.execute(
                insert(station_state).values(station_id=sid, online=False, frames=minutes, quarantined=0)
            )
        # one frame per station per hour, readings every minute
        rows = []
        for sid, mn, params in [
            (p.ambient_ids[0], "AMB0000000000001", {"a34004": 35.0, "a21026": 8.0}),
            (p.ambient_ids[1], "AMB0000000000002", {"a34004": 80.0, "a21026": 12.0}),
            (p.outlet_id, "OUT0000000000001", {"a21026": 20.0}),
            (p.other_outlet_id, "OUT0000000000002", {"a21026": 30.0}),
        ]:
            fid = 0
            for i in range(minutes):
                ts = t0 + i * 60
                if ts % 3600 == 0 or fid == 0:
                    fid = _frame(conn, station_id=sid, mn=mn, data_ts=ts)
                for code, base in params.items():
                    flag = "N" if i % 37 else "D"
                    rows.append(
                        {
                            "station_id": sid,
                            "granularity": "min",
                            "parameter": code,
                            "data_ts": ts,
                            "value": base + (i % 10),
                            "min": base,
                            "max": base + 10,
                            "zs_value": base * 1.1 if sid == p.outlet_id else None,
                            "flag": flag,
                            "frame_id": fid,
                            "extra": json.dumps({}),
                        }
                    )
            if sid == p.outlet_id:
                p.frame_id = fid
            if sid == p.other_outlet_id:
                p.other_frame_id = fid
        conn.execute(insert(reading), rows)
        bad = b"##0010XX\x00<script>alert(1)</script>\xff\r\n"
        qfid = _frame(conn, station_id=None, mn=None, data_ts=t_end, status="quarantined", raw=bad)
        conn.execute(
            insert(quarantine).values(
                frame_id=qfid,
                received_us=t_end * 1_000_000,
                peer="10.0.0.9:1",
                mn=None,
                kind="crc",
                reason="CRC mismatch: expected 1C80, got 9F02",
                raw=bad,
            )
        )
        p.quarantined_frame_id = qfid
        while rollups.refresh(conn).hours:
            pass
        finding = Finding(
            source="detector",
            station=p.outlet_id,
            detector="flatline",
            parameters=("a21026",),
            start=t0,
            end=t0 + 3600,
            pattern="flatline",
            kind="fraud",
            score=0.97,
            body={
                "reason_zh": "二氧化硫数值长时间不变",
                "reason_en": "SO2 constant for an hour",
                "seed": now,
            },
        )
        p.alarm_id = raise_alarms_in(conn, [finding], now=now).opened[0]
        for role in USER_ROLES:
            name = f"u_{role.value}"
            insert_user(
                conn,
                username=name,
                role=role.value,
                password_hash=password_hash(),
                now_ts=now,
                enterprise_id=p.enterprise_id if role is Role.ENTERPRISE else None,
            )
            p.users[role.value] = name
    return p
