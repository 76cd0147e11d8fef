"""A small province, built the way the platform builds it, for the web tests.

* registry through the store (``register_station``: the store's PW hashing), one user per role;
* real HJ 212-2017 minute (2051) and hour (2061) frames, encoded by the codec, stored with their
  readings and sealed in the ledger with the gateway's leaf encoding (so evidence bundles verify);
* a quarantined frame with hostile bytes;
* the raw-statistics roll-ups (``envtrace.store.rollups.refresh``) and the **real roll-up job**
  (``envtrace.rollup.run``): judged hours and days, AQI of stations and cities, an exceedance of a
  permit limit, a ZsAvg disagreement, an invalid hour;
* alarms raised by the **real alarms service** (``raise_alarms``) from the roll-up's exceedance and
  from detector evidence (with plots);
* two signed checkpoints (``envtrace.evidence.sign_now``), then one more frame that no checkpoint
  covers yet.

The data end at the start of the current hour; the roll-up job is run as if two days later, so every
hour (and the partial days) is judged.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Engine, insert

from envtrace.accounts import USER_ROLES, Role, hash_password
from envtrace.alarms import Exceedance, raise_alarms
from envtrace.detect import Evidence, PlotSeries
from envtrace.evidence import EvidenceOptions, sign_now
from envtrace.hj212 import Station, data_upload, format_time
from envtrace.rollup import run as rollup_run
from envtrace.store import console, register_station, rollups
from envtrace.store.accounts import insert_user
from envtrace.store.engine import write_transaction
from envtrace.store.frames import quarantine, raw_frame, station_state
from envtrace.store.hourly import add_limit_rule, exceedances
from envtrace.store.ledger_log import append
from envtrace.store.raw import allocate_frame_ids
from envtrace.store.readings import reading
from envtrace.store.registry import parameter, station_parameter
from envtrace.store.series import frame_readings_digest
from envtrace.web.i18n import CST

PASSWORD = "correct-horse-battery"
STATION_PW = "123456"
HOURS = 8
INVALID_HOUR = 2  # AMB1: 20 minutes flagged D -> fewer than 45 valid minutes
EXCEED_HOUR = 5  # OUT1: SO2 high enough to exceed the permit limit once corrected
FORGED_HOUR = 4  # OUT1: the station's own 2061 ZsAvg is far below the platform's correction
PERMIT_LIMIT = 35.0  # mg/m3 at 6 % O2


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
    uncovered_frame_id: int = 0
    alarm_id: int = 0  # suspected fraud on OUT1 (detector evidence with plots)
    exceedance_alarm_id: int = 0  # OUT1's exceedance (from the roll-up)
    qc_alarm_id: int = 0  # data quality on AMB1
    other_alarm_id: int = 0  # suspected fraud on OUT2
    quarantined_frame_id: int = 0
    users: dict[str, str] = field(default_factory=dict)
    t_end: int = 0
    t0: int = 0
    state_dir: Path = Path()


AMBIENT = {  # code: (unit, base value)
    "a34004": ("µg/m³", 35.0),
    "a34002": ("µg/m³", 60.0),
    "a21026": ("µg/m³", 8.0),
    "a21004": ("µg/m³", 30.0),
    "a21005": ("mg/m³", 0.6),
    "a05024": ("µg/m³", 80.0),
}
PARAMETERS = [
    ("a34004", "细颗粒物", "PM2.5", "µg/m³", "air"),
    ("a34002", "可吸入颗粒物", "PM10", "µg/m³", "air"),
    ("a21026", "二氧化硫", "SO2", "mg/m³", "air"),
    ("a21004", "二氧化氮", "NO2", "µg/m³", "air"),
    ("a21005", "一氧化碳", "CO", "mg/m³", "air"),
    ("a05024", "臭氧", "O3", "µg/m³", "air"),
    ("a19001", "氧气含量", "O2", "%", "air"),
]


def _local(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, CST).replace(tzinfo=None)


class Sealer:
    """Stores frames as the gateway does: ids allocated in the transaction, readings inserted, the
    ``raw_frame`` leaf (docs/store.md) appended with the readings' digest, then the frame row."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.n = 0

    def frame(
        self,
        *,
        station_id: int | None,
        mn: str | None,
        raw: bytes,
        cn: str | None,
        data_ts: int | None,
        received_us: int,
        rows: list[dict[str, object]],
        status: str = "accepted",
        q: tuple[str, str] | None = None,
    ) -> int:
        fid = allocate_frame_ids(self.conn, 1)[0]
        self.n += 1
        if rows:
            self.conn.execute(insert(reading), [{**r, "frame_id": fid} for r in rows])
        digest = frame_readings_digest(self.conn, fid) if rows else None
        payload = {
            "frame_id": fid,
            "received_us": received_us,
            "peer": "10.0.0.7:40001",
            "station_id": station_id,
            "mn": mn,
            "cn": cn,
            "qn": None,
            "pnum": None,
            "pno": None,
            "data_ts": data_ts,
            "status": status,
            "edition": "2017" if status != "quarantined" else None,
            "wire": "plain",
            "rf": False,
            "deviations": [],
            "quarantine": None if q is None else {"kind": q[0], "reason": q[1]},
            "raw_len": len(raw),
            "raw_sha256": hashlib.sha256(raw).hexdigest(),
            "readings": len(rows),
            "readings_sha256": digest,
        }
        leaf = append(self.conn, "raw_frame", payload)
        self.conn.execute(
            insert(raw_frame).values(
                id=fid,
                received_us=received_us,
                peer="10.0.0.7:40001",
                station_id=station_id,
                mn=mn,
                st="22" if status != "quarantined" else None,
                cn=cn,
                qn=None,
                flag=5 if status != "quarantined" else None,
                data_ts=data_ts,
                edition="2017" if status != "quarantined" else None,
                status=status,
                rf=False,
                wire="plain",
                deviations=None,
                leaf_index=leaf,
                raw=raw,
            )
        )
        return fid


def _reading(
    sid: int, gran: str, code: str, ts: int, value: float, flag: str, zs: float | None = None
) -> dict[str, object]:
    return {
        "station_id": sid,
        "granularity": gran,
        "parameter": code,
        "data_ts": ts,
        "value": value,
        "min": value,
        "max": value,
        "cou": None,
        "zs_value": zs,
        "zs_min": None,
        "zs_max": None,
        "flag": flag,
        "eflag": None,
        "sample_ts": None,
        "extra": None,
    }


def upload(
    sealer: Sealer,
    st: Station,
    sid: int,
    cn: int,
    ts: int,
    values: dict[str, tuple[float, str, float | None]],
) -> int:
    """One data upload of ``values`` (code -> (value, flag, ZsAvg or None)) at ``ts``, sealed."""
    gran = {2051: "min", 2061: "hour"}[cn]
    items: dict[str, dict[str, object]] = {}
    rows = []
    for code, (v, flag, zs) in values.items():
        fields: dict[str, object] = {"Avg": v, "Min": v, "Max": v}
        if zs is not None:
            fields["ZsAvg"] = zs
        fields["Flag"] = flag
        items[code] = fields
        rows.append(_reading(sid, gran, code, ts, v, flag, zs))
    qn = format_time(_local(ts)) + "000"
    frames = data_upload(st, qn=qn, cn=cn, data_time=_local(ts), items=items)  # type: ignore[arg-type]
    return sealer.frame(
        station_id=sid,
        mn=st.mn,
        raw=frames[0],
        cn=str(cn),
        data_ts=ts,
        received_us=(ts + 61) * 1_000_000,
        rows=rows,
    )


def _registry(conn: Connection, p: Province, now: int) -> dict[int, Station]:
    conn.execute(
        insert(parameter),
        [{"code": c, "name_zh": zh, "name_en": en, "unit": u, "kind": k} for c, zh, en, u, k in PARAMETERS],
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
    points = {
        "amb1": console.insert_point(
            conn,
            code="AMB-1",
            name="玄武湖",
            kind="ambient",
            now_ts=now,
            city="南京市",
            county="玄武区",
            lat=32.07,
            lon=118.79,
        ),
        "amb2": console.insert_point(
            conn,
            code="AMB-2",
            name="蠡园",
            kind="ambient",
            now_ts=now,
            city="无锡市",
            county="滨湖区",
            lat=31.55,
            lon=120.25,
        ),
        "out1": console.insert_point(
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
        ),
        "out2": console.insert_point(
            conn,
            code="OUT-2",
            name="2号排口",
            kind="flue_gas",
            now_ts=now,
            enterprise_id=p.other_enterprise_id,
            city="无锡市",
        ),
    }
    stations: dict[int, Station] = {}

    def add(mn: str, point: str | None, kind: str, name: str, st: str, *, approved: bool = True) -> int:
        sid = register_station(
            conn,
            mn=mn,
            pw=STATION_PW,
            kind=kind,
            name=name or None,
            st=st,
            point_id=None if point is None else points[point],
            approved=approved,
            enrolled_us=None if approved else now * 1_000_000,
        )
        stations[sid] = Station(mn=mn, pw=STATION_PW, st=st)
        return sid

    p.ambient_ids = [
        add("AMB0000000000001", "amb1", "ambient", "玄武湖站", "22"),
        add("AMB0000000000002", "amb2", "ambient", "蠡园站", "22"),
    ]
    p.outlet_id = add("OUT0000000000001", "out1", "flue_gas", "1号锅炉", "31")
    p.other_outlet_id = add("OUT0000000000002", "out2", "flue_gas", "2号排口", "31")
    p.pending_id = add("NEW0000000000009", None, "other", "", "31", approved=False)
    for sid in p.ambient_ids:
        conn.execute(
            insert(station_parameter),
            [{"station_id": sid, "parameter": c, "unit": u, "o2_ref": None} for c, (u, _) in AMBIENT.items()],
        )
    for sid in (p.outlet_id, p.other_outlet_id):
        conn.execute(
            insert(station_parameter),
            [
                {"station_id": sid, "parameter": "a21026", "unit": "mg/m3", "o2_ref": 6.0},
                {"station_id": sid, "parameter": "a19001", "unit": "%", "o2_ref": None},
            ],
        )
    for sid in stations:
        conn.execute(
            insert(station_state).values(station_id=sid, online=False, frames=HOURS * 60, quarantined=0)
        )
    add_limit_rule(
        conn,
        scope="permit",
        source="排污许可证 91320100MA1-001",
        created_ts=now,
        station_id=p.outlet_id,
        parameter="a21026",
        value=PERMIT_LIMIT,
        unit="mg/m3",
        averaging="1h",
        o2_ref_pct=6.0,
    )
    return stations


def _data(sealer: Sealer, p: Province, stations: dict[int, Station]) -> None:
    t0 = p.t0
    for i in range(HOURS * 60):
        ts = t0 + i * 60
        hour = i // 60
        for k, sid in enumerate(p.ambient_ids):
            scale = 1.0 if k == 0 else 2.3
            flag = "D" if (k == 0 and hour == INVALID_HOUR and i % 60 < 20) else "N"
            values = {c: (round(b * scale + (i % 7) * 0.5, 2), flag, None) for c, (_, b) in AMBIENT.items()}
            values["a21005"] = (round(0.6 * scale + (i % 5) * 0.01, 3), flag, None)
            upload(sealer, stations[sid], sid, 2051, ts, values)
        so2 = 60.0 if hour == EXCEED_HOUR else 20.0 + (i % 9)
        o2 = 9.0
        zs = round(so2 * 15 / 12, 3)
        fid = upload(
            sealer,
            stations[p.outlet_id],
            p.outlet_id,
            2051,
            ts,
            {"a21026": (so2, "N", zs), "a19001": (o2, "N", None)},
        )
        p.frame_id = p.frame_id or fid
        fid2 = upload(
            sealer,
            stations[p.other_outlet_id],
            p.other_outlet_id,
            2051,
            ts,
            {"a21026": (30.0 + (i % 4), "N", 37.5), "a19001": (9.0, "N", None)},
        )
        p.other_frame_id = p.other_frame_id or fid2
    for hour in range(HOURS):  # OUT1's own hourly averages, as a data logger sends them (2061)
        ts = t0 + hour * 3600
        mean = (
            60.0
            if hour == EXCEED_HOUR
            else sum(20.0 + (i % 9) for i in range(hour * 60, hour * 60 + 60)) / 60
        )
        zs = round(mean * 15 / 12, 3) if hour != FORGED_HOUR else round(mean * 15 / 12 * 0.5, 3)
        upload(
            sealer,
            stations[p.outlet_id],
            p.outlet_id,
            2061,
            ts,
            {"a21026": (round(mean, 4), "N", zs), "a19001": (9.0, "N", None)},
        )


def _alarms(engine: Engine, p: Province, now: int) -> None:
    with engine.connect() as conn:
        found = exceedances(conn, station_id=p.outlet_id, current_only=True)
    if not found:
        raise RuntimeError("the roll-up judged no exceedance: the seed is wrong")
    items: list[Evidence | Exceedance] = [
        Exceedance(
            station=e.station_id,
            parameter=e.parameter,
            start=e.period_ts,
            end=e.period_end,
            value=e.value,
            limit=e.limit_value,
            unit=e.unit,
            standard=e.limit_source,
            basis=e.granularity,
            o2_ref=e.o2_ref,
        )
        for e in found
    ]
    t0 = p.t0
    times = tuple(t0 + 60 * i for i in range(0, 180, 3))
    items.append(
        Evidence(
            detector="frozen",
            station="OUT0000000000001",
            parameters=("a21026",),
            start=t0,
            end=t0 + 3 * 3600,
            pattern="flatline",
            kind="fraud",
            score=0.97,
            statistic=0.02,
            baseline=1.6,
            threshold=0.1,
            reason_en="SO2 varies far less than this stack's usual 1.6 mg/m³ for 3 h",
            reason_zh="二氧化硫 3 小时内波动远小于该排口通常的 1.6 mg/m³",
            plots=(PlotSeries("SO2 (mg/m³)", times, tuple(20.0 + (i % 9) for i in range(0, 180, 3))),),
        )
    )
    items.append(
        Evidence(
            detector="quality",
            station="AMB0000000000001",
            parameters=("a34004",),
            start=t0 + INVALID_HOUR * 3600,
            end=t0 + (INVALID_HOUR + 1) * 3600,
            pattern="flag_D",
            kind="qc",
            score=0.4,
            statistic=20.0,
            baseline=0.0,
            threshold=15.0,
            reason_en="PM2.5 analyser reported faults (flag D) for 20 min",
            reason_zh="PM2.5 分析仪 20 分钟报故障（D 标记）",
            plots=(PlotSeries("PM2.5", times, tuple(35.0 for _ in times)),),
        )
    )
    items.append(
        Evidence(
            detector="frozen",
            station="OUT0000000000002",
            parameters=("a21026",),
            start=t0 + 3600,
            end=t0 + 4 * 3600,
            pattern="flatline",
            kind="fraud",
            score=0.9,
            statistic=0.05,
            baseline=1.2,
            threshold=0.1,
            reason_en="SO2 nearly constant for 3 h",
            reason_zh="二氧化硫 3 小时几乎不变",
            plots=(PlotSeries("SO2 (mg/m³)", times, tuple(30.0 + (i % 4) for i in range(0, 180, 3))),),
        )
    )
    report = raise_alarms(engine, items, now=now)
    with engine.connect() as conn:
        from envtrace.alarms import SYSTEM, list_alarms

        rows = list_alarms(conn, SYSTEM, limit=100)
    by = {(a.station_id, a.kind): a.id for a in rows}
    p.alarm_id = by[(p.outlet_id, "fraud")]
    p.exceedance_alarm_id = by[(p.outlet_id, "exceedance")]
    p.qc_alarm_id = by[(p.ambient_ids[0], "qc")]
    p.other_alarm_id = by[(p.other_outlet_id, "fraud")]
    if len(report.opened) != 4:
        raise RuntimeError(f"expected 4 alarms, opened {report.opened}")


def seed(engine: Engine, state_dir: Path, *, url: str, now: int | None = None) -> Province:
    """Fill an empty, migrated database at ``url``; keys and checkpoint file go to ``state_dir``."""
    p = Province(state_dir=state_dir)
    now = int(time.time()) if now is None else now
    p.t_end = now - now % 3600
    p.t0 = p.t_end - HOURS * 3600
    with write_transaction(engine) as conn:
        stations = _registry(conn, p, now)
        sealer = Sealer(conn)
        _data(sealer, p, stations)
        bad = b"##0010XX\x00<script>alert(1)</script>\xff\r\n"
        p.quarantined_frame_id = sealer.frame(
            station_id=None,
            mn=None,
            raw=bad,
            cn=None,
            data_ts=None,
            received_us=now * 1_000_000,
            rows=[],
            status="quarantined",
            q=("crc", "CRC mismatch: expected 1C80, got 9F02"),
        )
        conn.execute(
            insert(quarantine).values(
                frame_id=p.quarantined_frame_id,
                received_us=now * 1_000_000,
                peer="10.0.0.9:1",
                mn=None,
                kind="crc",
                reason="CRC mismatch: expected 1C80, got 9F02",
                raw=bad,
            )
        )
        while rollups.refresh(conn).hours:
            pass
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
    options = EvidenceOptions.for_database(url, state_dir)
    sign_now(engine, options, now=now - 120)
    counts = rollup_run(engine, p.t_end + 2 * 86400)
    if counts.get("errors"):
        raise RuntimeError(f"the roll-up job failed: {counts}")
    _alarms(engine, p, now)
    sign_now(engine, options, now=now - 60)
    with write_transaction(engine) as conn:  # one frame no signed checkpoint covers yet
        sealer = Sealer(conn)
        st = Station(mn="OUT0000000000001", pw=STATION_PW, st="31")
        p.uncovered_frame_id = upload(sealer, st, p.outlet_id, 2051, p.t_end, {"a21026": (21.0, "N", 26.25)})
    return p


def province_json(p: Province) -> str:
    """The province as JSON (to hand the template's facts to a clone)."""
    data = {k: (str(v) if isinstance(v, Path) else v) for k, v in p.__dict__.items()}
    return json.dumps(data)
