"""The read queries (and the few registry writes) of the staff console and the public portal.

Every query is SQLAlchemy Core with bound parameters and takes the caller's ``Connection``.
Queries about stations take a :class:`Scope`: an enterprise user's scope names its enterprise, and
the query itself keeps every other enterprise's stations out (access control lives in the query,
not in the page).

Capture and effective-data rates (overview), over the window of complete hours the roll-up has
had time to judge:

* capture rate = minute values received / (parameters x minutes in the window), from the
  raw-statistics roll-ups (``envtrace.store.rollups``);
* effective-data rate = **valid judged hours** / expected hours (parameters x hours), from the
  validity-judged hourly values of ``envtrace.rollup`` (``rollup_value``, current versions). Where
  the roll-up has judged nothing in the window yet, the overview says so (``effective_basis``
  ``"minutes"``) and shows the completeness proxy instead: parameter-hours with at least
  ``EFFECTIVE_MINUTES`` normal-flag minute values (HJ 75-2017 / GB 3095 45-minute criterion).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Select, and_, case, func, insert, literal, or_, select, update

from envtrace.store.frames import quarantine, raw_frame, station_state
from envtrace.store.hourly import AqiValue, rollup_aqi, rollup_value, station_aqi_at
from envtrace.store.ledger_log import read_head
from envtrace.store.readings import reading
from envtrace.store.registry import enterprise, monitoring_point, parameter, station, station_parameter
from envtrace.store.rollups import reading_day_stats, reading_hour_stats
from envtrace.store.stations import change_registry

EFFECTIVE_MINUTES = 45
RAW_GRANULARITIES = ("min", "rtd")
JUDGE_LAG_S = 900  # an hour is judged 10 min after its end (roll-up grace) + a job period or two


@dataclass(frozen=True, slots=True)
class Scope:
    """What a user may see: everything (``enterprise_id`` None) or one enterprise's outlets."""

    enterprise_id: int | None = None


ALL = Scope()


@dataclass(frozen=True, slots=True)
class StationRow:
    id: int
    mn: str
    name: str | None
    kind: str
    approved: bool
    enabled: bool
    point_id: int | None
    point_name: str | None
    enterprise_id: int | None
    enterprise_name: str | None
    city: str | None
    county: str | None
    lat: float | None
    lon: float | None
    online: bool
    last_seen_us: int | None
    last_data_ts: int | None
    frames: int
    quarantined: int
    created_ts: int
    enrolled_us: int | None


def _station_select() -> Select[tuple[object, ...]]:
    s, p, e, st = station.c, monitoring_point.c, enterprise.c, station_state.c
    return select(
        s.id,
        s.mn,
        s.name,
        s.kind,
        s.approved,
        s.enabled,
        s.point_id,
        p.name.label("point_name"),
        p.enterprise_id,
        e.name.label("enterprise_name"),
        func.coalesce(p.city, e.city).label("city"),
        func.coalesce(p.county, e.county).label("county"),
        p.lat,
        p.lon,
        func.coalesce(st.online, False).label("online"),
        st.last_seen_us,
        st.last_data_ts,
        func.coalesce(st.frames, 0).label("frames"),
        func.coalesce(st.quarantined, 0).label("quarantined"),
        s.created_ts,
        s.enrolled_us,
    ).select_from(
        station.outerjoin(monitoring_point, p.id == s.point_id)
        .outerjoin(enterprise, e.id == p.enterprise_id)
        .outerjoin(station_state, st.station_id == s.id)
    )


def _scoped(query: Select[tuple[object, ...]], scope: Scope) -> Select[tuple[object, ...]]:
    if scope.enterprise_id is None:
        return query
    return query.where(monitoring_point.c.enterprise_id == scope.enterprise_id)


def _station_row(r: object) -> StationRow:
    m = r._mapping  # type: ignore[attr-defined]
    return StationRow(
        id=int(m["id"]),
        mn=m["mn"],
        name=m["name"],
        kind=m["kind"],
        approved=bool(m["approved"]),
        enabled=bool(m["enabled"]),
        point_id=m["point_id"],
        point_name=m["point_name"],
        enterprise_id=m["enterprise_id"],
        enterprise_name=m["enterprise_name"],
        city=m["city"],
        county=m["county"],
        lat=m["lat"],
        lon=m["lon"],
        online=bool(m["online"]),
        last_seen_us=m["last_seen_us"],
        last_data_ts=m["last_data_ts"],
        frames=int(m["frames"]),
        quarantined=int(m["quarantined"]),
        created_ts=int(m["created_ts"]),
        enrolled_us=m["enrolled_us"],
    )


def stations(
    conn: Connection,
    scope: Scope,
    *,
    approved: bool | None = None,
    kind: str | None = None,
    search: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[StationRow]:
    q = _scoped(_station_select(), scope)
    if approved is not None:
        q = q.where(station.c.approved.is_(approved))
    if kind is not None:
        q = q.where(station.c.kind == kind)
    if search:
        like = f"%{search}%"
        q = q.where(or_(station.c.mn.like(like), station.c.name.like(like), enterprise.c.name.like(like)))
    q = q.order_by(station.c.id).limit(limit).offset(offset)
    return [_station_row(r) for r in conn.execute(q)]


def visible_kind(conn: Connection, scope: Scope, station_id: int) -> str | None:
    """The station's kind if it exists and ``scope`` may see it, else None (one light query)."""
    q = select(station.c.kind).where(station.c.id == station_id)
    if scope.enterprise_id is not None:
        q = q.join(monitoring_point, monitoring_point.c.id == station.c.point_id).where(
            monitoring_point.c.enterprise_id == scope.enterprise_id
        )
    kind = conn.execute(q).scalar()
    return None if kind is None else str(kind)


def station_by_id(conn: Connection, scope: Scope, station_id: int) -> StationRow | None:
    row = conn.execute(_scoped(_station_select(), scope).where(station.c.id == station_id)).first()
    return None if row is None else _station_row(row)


@dataclass(frozen=True, slots=True)
class StateRow:
    id: int
    online: bool
    last_seen_us: int | None
    last_data_ts: int | None
    frames: int


def station_states(conn: Connection, scope: Scope, ids: Sequence[int] | None = None) -> list[StateRow]:
    """Online state of stations (the live part of the overview, polled by the page)."""
    s, st = station.c, station_state.c
    q: Select[tuple[object, ...]] = select(
        s.id,
        func.coalesce(st.online, False).label("online"),
        st.last_seen_us,
        st.last_data_ts,
        func.coalesce(st.frames, 0).label("frames"),
    ).select_from(
        station.outerjoin(station_state, st.station_id == s.id).outerjoin(
            monitoring_point, monitoring_point.c.id == s.point_id
        )
    )
    q = _scoped(q, scope)
    if ids is not None:
        q = q.where(s.id.in_(list(ids)))
    out = []
    for row in conn.execute(q.order_by(s.id)):
        m = row._mapping
        out.append(
            StateRow(int(m["id"]), bool(m["online"]), m["last_seen_us"], m["last_data_ts"], int(m["frames"]))
        )
    return out


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    code: str
    name_zh: str
    name_en: str
    unit: str | None


def station_parameters(conn: Connection, station_id: int) -> list[ParameterInfo]:
    """Parameters configured for the station or seen in its data (roll-ups, hourly/daily readings)."""
    codes: set[str] = set()
    codes.update(
        conn.execute(
            select(station_parameter.c.parameter).where(station_parameter.c.station_id == station_id)
        ).scalars()
    )
    codes.update(
        conn.execute(
            select(reading_day_stats.c.parameter)
            .where(reading_day_stats.c.station_id == station_id)
            .distinct()
        ).scalars()
    )
    codes.update(
        conn.execute(
            select(reading.c.parameter)
            .where(reading.c.station_id == station_id, reading.c.granularity.in_(("hour", "day")))
            .distinct()
        ).scalars()
    )
    known = {
        r.code: r
        for r in conn.execute(
            select(parameter.c.code, parameter.c.name_zh, parameter.c.name_en, parameter.c.unit).where(
                parameter.c.code.in_(sorted(codes))
            )
        )
    }
    units = dict(
        conn.execute(
            select(station_parameter.c.parameter, station_parameter.c.unit).where(
                station_parameter.c.station_id == station_id
            )
        ).all()
    )
    out = []
    for code in sorted(codes):
        k = known.get(code)
        out.append(
            ParameterInfo(
                code=code,
                name_zh=k.name_zh if k is not None else code,
                name_en=k.name_en if k is not None else code,
                unit=units.get(code) or (k.unit if k is not None else None),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Series:
    """A chart series: ``resolution`` raw (one point per reading), hour or day (roll-ups)."""

    resolution: str
    granularity: str
    ts: list[int] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    low: list[float | None] = field(default_factory=list)
    high: list[float | None] = field(default_factory=list)
    zs: list[float | None] = field(default_factory=list)
    flag: list[str | None] = field(default_factory=list)
    n: list[int] = field(default_factory=list)
    n_normal: list[int] = field(default_factory=list)


def choose_resolution(t0: int, t1: int, *, max_points: int = 3000) -> str:
    """raw up to ``max_points`` minutes, hourly up to ``max_points`` hours, else daily."""
    span = max(0, t1 - t0)
    if span <= max_points * 60:
        return "raw"
    if span <= max_points * 3600:
        return "hour"
    return "day"


def _raw_granularity(conn: Connection, station_id: int, param: str, t0: int, t1: int) -> str:
    for gran in (*RAW_GRANULARITIES, "hour", "day"):
        hit = conn.execute(
            select(literal(1))
            .where(
                reading.c.station_id == station_id,
                reading.c.granularity == gran,
                reading.c.parameter == param,
                reading.c.data_ts >= t0,
                reading.c.data_ts < t1,
            )
            .limit(1)
        ).first()
        if hit is not None:
            return gran
    return "min"


def series(
    conn: Connection, station_id: int, param: str, t0: int, t1: int, *, resolution: str = "auto"
) -> Series:
    """Readings of one station-parameter in [t0, t1), raw or rolled up (hourly, CST-daily)."""
    res = choose_resolution(t0, t1) if resolution == "auto" else resolution
    if res == "raw":
        gran = _raw_granularity(conn, station_id, param, t0, t1)
        r = reading.c
        rows = conn.execute(
            select(r.data_ts, r.value, r.min, r.max, r.zs_value, r.flag)
            .where(
                r.station_id == station_id,
                r.granularity == gran,
                r.parameter == param,
                r.data_ts >= t0,
                r.data_ts < t1,
            )
            .order_by(r.data_ts)
            .limit(20_000)
        ).all()
        out = Series(resolution="raw", granularity=gran)
        for ts, value, lo, hi, zs, flag in rows:
            out.ts.append(int(ts))
            out.value.append(value)
            out.low.append(lo)
            out.high.append(hi)
            out.zs.append(zs)
            out.flag.append(flag)
            out.n.append(1)
            out.n_normal.append(1 if flag == "N" else 0)
        return out
    table = reading_hour_stats if res == "hour" else reading_day_stats
    period = table.c.hour_ts if res == "hour" else table.c.day_ts
    c = table.c
    stats = conn.execute(
        select(c.granularity, period, c.n, c.n_normal, c.v_sum, c.v_min, c.v_max, c.zs_n, c.zs_sum)
        .where(
            c.station_id == station_id,
            c.granularity.in_(RAW_GRANULARITIES),
            c.parameter == param,
            period >= t0,
            period < t1,
        )
        .order_by(c.granularity, period)  # "min" before "rtd": minute data preferred when both exist
    ).all()
    gran = stats[0][0] if stats else "min"
    out = Series(resolution=res, granularity=gran)
    for g, ts, n, n_normal, v_sum, v_min, v_max, zs_n, zs_sum in stats:
        if g != gran:
            break
        out.ts.append(int(ts))
        out.value.append(None if not n or v_sum is None else v_sum / n)
        out.low.append(v_min)
        out.high.append(v_max)
        out.zs.append(None if not zs_n or zs_sum is None else zs_sum / zs_n)
        out.flag.append(None)
        out.n.append(int(n))
        out.n_normal.append(int(n_normal))
    return out


@dataclass(frozen=True, slots=True)
class Rate:
    """Counts behind a capture / effective-data rate."""

    stations: int = 0
    online: int = 0
    received: int = 0
    expected: int = 0
    effective_hours: int = 0
    expected_hours: int = 0

    @property
    def capture_rate(self) -> float | None:
        return None if self.expected == 0 else min(1.0, self.received / self.expected)

    @property
    def effective_rate(self) -> float | None:
        return None if self.expected_hours == 0 else min(1.0, self.effective_hours / self.expected_hours)

    def __add__(self, other: Rate) -> Rate:
        return Rate(
            self.stations + other.stations,
            self.online + other.online,
            self.received + other.received,
            self.expected + other.expected,
            self.effective_hours + other.effective_hours,
            self.expected_hours + other.expected_hours,
        )


@dataclass(frozen=True, slots=True)
class Overview:
    t0: int
    t1: int
    stations: int
    approved: int
    pending: int
    online: int
    frames: int
    frames_window: int
    quarantined: int
    quarantined_window: int
    effective_basis: str  # "judged" (valid judged hours) or "minutes" (45-minute proxy: none judged yet)
    total: Rate
    by_city: dict[str, Rate]
    by_county: dict[str, Rate]
    by_enterprise: dict[str, Rate]


def overview_window(now_ts: int, hours: int) -> tuple[int, int]:
    """[t0, t1): the last ``hours`` complete hours that the roll-up has had time to judge."""
    t1 = (now_ts - JUDGE_LAG_S) - (now_ts - JUDGE_LAG_S) % 3600
    return t1 - hours * 3600, t1


def judged_hours(conn: Connection, t0: int, t1: int) -> dict[int, tuple[int, int]]:
    """Per station: (valid, judged) parameter-hours of the current judged values in [t0, t1)."""
    v = rollup_value.c
    top = (
        select(v.station_id, v.parameter, v.period_ts, func.max(v.version).label("top"))
        .where(v.granularity == "hour", v.period_ts >= t0, v.period_ts < t1)
        .group_by(v.station_id, v.parameter, v.period_ts)
        .subquery()
    )
    q = (
        select(v.station_id, func.sum(case((v.valid.is_(True), 1), else_=0)), func.count())
        .select_from(
            rollup_value.join(
                top,
                and_(
                    v.station_id == top.c.station_id,
                    v.parameter == top.c.parameter,
                    v.period_ts == top.c.period_ts,
                    v.version == top.c.top,
                ),
            )
        )
        .where(v.granularity == "hour")
        .group_by(v.station_id)
    )
    return {int(sid): (int(valid or 0), int(n)) for sid, valid, n in conn.execute(q)}


def frames_received(conn: Connection, scope: Scope, *, since_us: int) -> int:
    """Raw frames received since ``since_us`` (index ``ix_raw_frame_received``)."""
    q: Select[tuple[object, ...]] = select(func.count().label("n")).select_from(raw_frame)  # type: ignore[assignment]
    q = _frame_scope(q, scope).where(raw_frame.c.received_us >= since_us)
    return int(str(conn.execute(q).scalar_one()))


def overview(conn: Connection, scope: Scope, *, now_ts: int, hours: int = 24) -> Overview:
    """Province (or one enterprise's) overview over the last ``hours`` judged hours."""
    t0, t1 = overview_window(now_ts, hours)
    rows = stations(conn, scope, limit=1_000_000)
    h = reading_hour_stats.c
    per_station: dict[int, tuple[int, int, int]] = {}
    stats_q = (
        select(
            h.station_id,
            func.sum(h.n),
            func.sum(case((h.n_normal >= EFFECTIVE_MINUTES, 1), else_=0)),
            func.count(func.distinct(h.parameter)),
        )
        .where(h.granularity == "min", h.hour_ts >= t0, h.hour_ts < t1)
        .group_by(h.station_id)
    )
    for sid, received, eff, nparams in conn.execute(stats_q):
        per_station[int(sid)] = (int(received or 0), int(eff or 0), int(nparams))
    judged = judged_hours(conn, t0, t1)
    visible = {s.id for s in rows}
    basis = "judged" if any(sid in visible for sid in judged) else "minutes"
    configured: dict[int, int] = dict(
        conn.execute(
            select(station_parameter.c.station_id, func.count()).group_by(station_parameter.c.station_id)
        ).all()
    )
    by_city: dict[str, Rate] = {}
    by_county: dict[str, Rate] = {}
    by_enterprise: dict[str, Rate] = {}
    total = Rate()
    for s in rows:
        if not s.approved:
            continue
        received, proxy, seen = per_station.get(s.id, (0, 0, 0))
        valid, n_judged = judged.get(s.id, (0, 0))
        nparams = max(int(configured.get(s.id, 0)), seen, -(-n_judged // hours), 1)
        effective = valid if basis == "judged" else proxy
        rate = Rate(1, int(s.online), received, nparams * hours * 60, effective, nparams * hours)
        total = total + rate
        for bucket, key in (
            (by_city, s.city or "-"),
            (by_county, f"{s.city or '-'} / {s.county or '-'}"),
            (by_enterprise, s.enterprise_name or "-"),
        ):
            bucket[key] = bucket.get(key, Rate()) + rate
    since_us = (now_ts - 86_400) * 1_000_000
    q_window = select(func.count()).select_from(quarantine).where(quarantine.c.received_us >= since_us)
    if scope.enterprise_id is not None:
        q_window = q_window.where(literal(False))
    return Overview(
        t0=t0,
        t1=t1,
        stations=len(rows),
        approved=sum(1 for s in rows if s.approved),
        pending=sum(1 for s in rows if not s.approved),
        online=sum(1 for s in rows if s.online),
        frames=sum(s.frames for s in rows),
        frames_window=frames_received(conn, scope, since_us=since_us),
        quarantined=sum(s.quarantined for s in rows),
        quarantined_window=int(conn.execute(q_window).scalar_one()),
        effective_basis=basis,
        total=total,
        by_city=dict(sorted(by_city.items())),
        by_county=dict(sorted(by_county.items())),
        by_enterprise=dict(sorted(by_enterprise.items())),
    )


@dataclass(frozen=True, slots=True)
class FrameRow:
    id: int
    received_us: int
    peer: str
    station_id: int | None
    mn: str | None
    cn: str | None
    qn: str | None
    data_ts: int | None
    status: str
    edition: str | None
    leaf_index: int | None
    size: int


@dataclass(frozen=True, slots=True)
class FrameDetail:
    row: FrameRow
    raw: bytes
    flag: int | None
    st: str | None
    wire: str
    deviations: str | None
    quarantine_kind: str | None
    quarantine_reason: str | None


def _frame_scope(q: Select[tuple[object, ...]], scope: Scope) -> Select[tuple[object, ...]]:
    if scope.enterprise_id is None:
        return q
    owned = (
        select(station.c.id)
        .join(monitoring_point, monitoring_point.c.id == station.c.point_id)
        .where(monitoring_point.c.enterprise_id == scope.enterprise_id)
    )
    return q.where(raw_frame.c.station_id.in_(owned))


_FRAME_COLS = (
    raw_frame.c.id,
    raw_frame.c.received_us,
    raw_frame.c.peer,
    raw_frame.c.station_id,
    raw_frame.c.mn,
    raw_frame.c.cn,
    raw_frame.c.qn,
    raw_frame.c.data_ts,
    raw_frame.c.status,
    raw_frame.c.edition,
    raw_frame.c.leaf_index,
    func.length(raw_frame.c.raw).label("size"),
)


def _frame_row(r: object) -> FrameRow:
    m = r._mapping  # type: ignore[attr-defined]
    return FrameRow(
        id=int(m["id"]),
        received_us=int(m["received_us"]),
        peer=m["peer"],
        station_id=m["station_id"],
        mn=m["mn"],
        cn=m["cn"],
        qn=m["qn"],
        data_ts=m["data_ts"],
        status=m["status"],
        edition=m["edition"],
        leaf_index=m["leaf_index"],
        size=int(m["size"] or 0),
    )


def frames(
    conn: Connection,
    scope: Scope,
    *,
    station_id: int | None = None,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[FrameRow]:
    """Newest first; ``before_id`` is the cursor (the last id of the previous page)."""
    q = _frame_scope(select(*_FRAME_COLS), scope)
    if station_id is not None:
        q = q.where(raw_frame.c.station_id == station_id)
    if status is not None:
        q = q.where(raw_frame.c.status == status)
    if before_id is not None:
        q = q.where(raw_frame.c.id < before_id)
    return [_frame_row(r) for r in conn.execute(q.order_by(raw_frame.c.id.desc()).limit(limit))]


def frame(conn: Connection, scope: Scope, frame_id: int) -> FrameDetail | None:
    q = _frame_scope(
        select(
            *_FRAME_COLS,
            raw_frame.c.raw,
            raw_frame.c.flag,
            raw_frame.c.st,
            raw_frame.c.wire,
            raw_frame.c.deviations,
        ),
        scope,
    ).where(raw_frame.c.id == frame_id)
    row = conn.execute(q).first()
    if row is None:
        return None
    qrow = conn.execute(
        select(quarantine.c.kind, quarantine.c.reason).where(quarantine.c.frame_id == frame_id).limit(1)
    ).first()
    m = row._mapping
    return FrameDetail(
        row=_frame_row(row),
        raw=bytes(m["raw"]),
        flag=m["flag"],
        st=m["st"],
        wire=m["wire"],
        deviations=m["deviations"],
        quarantine_kind=None if qrow is None else qrow[0],
        quarantine_reason=None if qrow is None else qrow[1],
    )


@dataclass(frozen=True, slots=True)
class FrameReading:
    parameter: str
    granularity: str
    data_ts: int
    value: float | None
    zs_value: float | None
    flag: str | None


def frame_readings(conn: Connection, frame_id: int) -> list[FrameReading]:
    r = reading.c
    rows = conn.execute(
        select(r.parameter, r.granularity, r.data_ts, r.value, r.zs_value, r.flag)
        .where(r.frame_id == frame_id)
        .order_by(r.parameter)
    )
    return [FrameReading(a, b, int(c), d, e, f) for a, b, c, d, e, f in rows]


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    id: int
    frame_id: int
    received_us: int
    peer: str
    mn: str | None
    kind: str
    reason: str
    size: int


def quarantined(
    conn: Connection, *, kind: str | None = None, before_id: int | None = None, limit: int = 100
) -> list[QuarantineRow]:
    c = quarantine.c
    q = select(c.id, c.frame_id, c.received_us, c.peer, c.mn, c.kind, c.reason, func.length(c.raw))
    if kind is not None:
        q = q.where(c.kind == kind)
    if before_id is not None:
        q = q.where(c.id < before_id)
    rows = conn.execute(q.order_by(c.id.desc()).limit(limit))
    return [
        QuarantineRow(int(a), int(b), int(cc), d, e, f, g, int(h or 0)) for a, b, cc, d, e, f, g, h in rows
    ]


# --- registry -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnterpriseRow:
    id: int
    code: str
    name: str
    name_en: str | None
    city: str | None
    county: str | None
    industry: str | None
    key_unit: bool


def enterprises(conn: Connection, scope: Scope, *, key_only: bool = False) -> list[EnterpriseRow]:
    e = enterprise.c
    q = select(e.id, e.code, e.name, e.name_en, e.city, e.county, e.industry, e.key_unit).order_by(e.id)
    if scope.enterprise_id is not None:
        q = q.where(e.id == scope.enterprise_id)
    if key_only:
        q = q.where(e.key_unit.is_(True))
    return [EnterpriseRow(int(a), b, c, d, ee, f, g, bool(h)) for a, b, c, d, ee, f, g, h in conn.execute(q)]


def enterprise_by_id(conn: Connection, scope: Scope, enterprise_id: int) -> EnterpriseRow | None:
    return next((e for e in enterprises(conn, scope) if e.id == enterprise_id), None)


def insert_enterprise(
    conn: Connection,
    *,
    code: str,
    name: str,
    now_ts: int,
    name_en: str | None = None,
    city: str | None = None,
    county: str | None = None,
    industry: str | None = None,
    key_unit: bool = False,
) -> int:
    result = conn.execute(
        insert(enterprise).values(
            code=code,
            name=name,
            name_en=name_en,
            city=city,
            county=county,
            industry=industry,
            key_unit=key_unit,
            created_ts=now_ts,
        )
    )
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError(f"no id returned for enterprise {code!r}")
    return int(key[0])


def update_enterprise(conn: Connection, enterprise_id: int, values: dict[str, object]) -> bool:
    allowed = {"name", "name_en", "city", "county", "industry", "key_unit"}
    clean = {k: v for k, v in values.items() if k in allowed}
    if not clean:
        return enterprise_exists(conn, enterprise_id)
    return bool(
        conn.execute(update(enterprise).where(enterprise.c.id == enterprise_id).values(**clean)).rowcount
    )


def enterprise_exists(conn: Connection, enterprise_id: int) -> bool:
    return conn.execute(select(enterprise.c.id).where(enterprise.c.id == enterprise_id)).first() is not None


@dataclass(frozen=True, slots=True)
class PointRow:
    id: int
    code: str
    name: str
    kind: str
    enterprise_id: int | None
    city: str | None
    county: str | None
    lat: float | None
    lon: float | None


def points(conn: Connection, scope: Scope) -> list[PointRow]:
    p = monitoring_point.c
    q = select(p.id, p.code, p.name, p.kind, p.enterprise_id, p.city, p.county, p.lat, p.lon).order_by(p.id)
    if scope.enterprise_id is not None:
        q = q.where(p.enterprise_id == scope.enterprise_id)
    return [PointRow(int(a), b, c, d, e, f, g, h, i) for a, b, c, d, e, f, g, h, i in conn.execute(q)]


def insert_point(
    conn: Connection,
    *,
    code: str,
    name: str,
    kind: str,
    now_ts: int,
    enterprise_id: int | None = None,
    city: str | None = None,
    county: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
) -> int:
    result = conn.execute(
        insert(monitoring_point).values(
            code=code,
            name=name,
            kind=kind,
            enterprise_id=enterprise_id,
            city=city,
            county=county,
            lat=lat,
            lon=lon,
            created_ts=now_ts,
        )
    )
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError(f"no id returned for monitoring point {code!r}")
    return int(key[0])


def update_station(
    conn: Connection, station_id: int, values: dict[str, object], *, by: str | None = None
) -> bool:
    """Edit a station's registry fields (name, point, kind, enabled, tolerant); never its keys.

    A change is sealed in the same transaction (``station_registry`` leaf naming ``by``)."""
    allowed = {"name", "point_id", "kind", "enabled", "tolerant", "utc_offset_min"}
    clean = {k: v for k, v in values.items() if k in allowed}
    before = conn.execute(select(station).where(station.c.id == station_id)).mappings().one_or_none()
    if before is None:
        return False
    if not clean:
        return True
    read_head(conn, for_update=True)  # lock the ledger head before the row, as the gateway's writer does
    change_registry(conn, before, clean, by=by)
    return True


def approve_station(conn: Connection, station_id: int, *, by: str, now_ts: int) -> bool:
    """Approve a station enrolled on first use, sealing the decision in the ledger in the same
    transaction (leaf kind ``station_approval``); False if there is no such pending station."""
    from envtrace.store.ledger_log import append

    read_head(conn, for_update=True)  # lock the ledger head before the row, as the gateway's writer does
    q = (
        update(station)
        .where(station.c.id == station_id, station.c.approved.is_(False))
        .values(approved=True, approved_ts=now_ts, approved_by=by)
    )
    if not conn.execute(q).rowcount:
        return False
    mn = conn.execute(select(station.c.mn).where(station.c.id == station_id)).scalar_one()
    append(conn, "station_approval", {"station_id": station_id, "mn": mn, "by": by, "ts": now_ts})
    return True


def point_exists(conn: Connection, point_id: int) -> bool:
    return (
        conn.execute(select(monitoring_point.c.id).where(monitoring_point.c.id == point_id)).first()
        is not None
    )


# --- export and open data -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportRow:
    station_id: int
    mn: str
    parameter: str
    granularity: str
    data_ts: int
    value: float | None
    zs_value: float | None
    min: float | None
    max: float | None
    flag: str | None
    frame_id: int


def export_rows(
    conn: Connection,
    scope: Scope,
    *,
    station_ids: Sequence[int],
    granularity: str,
    t0: int,
    t1: int,
    parameters: Sequence[str] | None = None,
    after: tuple[int, str, int] | None = None,
    limit: int | None = None,
) -> Iterator[ExportRow]:
    """Readings in key order (station, parameter, time), streamed; ``after`` is a keyset cursor."""
    r = reading.c
    allowed = [s.id for s in stations(conn, scope, limit=1_000_000) if s.id in set(station_ids)]
    q = (
        select(r.station_id, station.c.mn, r.parameter, r.granularity, r.data_ts, r.value, r.zs_value)
        .add_columns(r.min, r.max, r.flag, r.frame_id)
        .join(station, station.c.id == r.station_id)
        .where(
            r.station_id.in_(allowed),
            r.granularity == granularity,
            r.data_ts >= t0,
            r.data_ts < t1,
        )
        .order_by(r.station_id, r.parameter, r.data_ts)
    )
    if parameters:
        q = q.where(r.parameter.in_(list(parameters)))
    if after is not None:
        sid, param, ts = after
        q = q.where(
            or_(
                r.station_id > sid,
                and_(r.station_id == sid, r.parameter > param),
                and_(r.station_id == sid, r.parameter == param, r.data_ts > ts),
            )
        )
    if limit is not None:
        q = q.limit(limit)
    result = conn.execution_options(stream_results=True, yield_per=2000).execute(q)
    for row in result:
        yield ExportRow(
            int(row[0]),
            row[1],
            row[2],
            row[3],
            int(row[4]),
            row[5],
            row[6],
            row[7],
            row[8],
            row[9],
            int(row[10]),
        )


@dataclass(frozen=True, slots=True)
class HourValue:
    station_id: int
    parameter: str
    hour_ts: int
    value: float
    source: str  # "reported" (the station's 2061 hourly data) or "minutes" (mean of minute data)


def latest_hour_values(
    conn: Connection,
    station_ids: Sequence[int],
    parameters: Sequence[str],
    *,
    since_ts: int,
    before_ts: int | None = None,
) -> list[HourValue]:
    """For each station x parameter the newest hourly value of a complete hour in [since_ts,
    before_ts) (default: up to the start of the current hour): the station's own hourly average
    (2061) when present, else the mean of the hour's minute data."""
    if before_ts is None:
        now = int(time.time())
        before_ts = now - now % 3600
    out: dict[tuple[int, str], HourValue] = {}
    if not station_ids:
        return []
    h = reading_hour_stats.c
    newest_h = (
        select(h.station_id, h.parameter, func.max(h.hour_ts).label("ts"))
        .where(
            h.station_id.in_(list(station_ids)),
            h.parameter.in_(list(parameters)),
            h.granularity == "min",
            h.hour_ts >= since_ts,
            h.hour_ts < before_ts,
            h.n > 0,
        )
        .group_by(h.station_id, h.parameter)
        .subquery()
    )
    for sid, param, ts, v_sum, n in conn.execute(
        select(h.station_id, h.parameter, h.hour_ts, h.v_sum, h.n).join(
            newest_h,
            and_(
                h.station_id == newest_h.c.station_id,
                h.parameter == newest_h.c.parameter,
                h.hour_ts == newest_h.c.ts,
                h.granularity == "min",
            ),
        )
    ):
        if v_sum is not None and n:
            out[(int(sid), param)] = HourValue(int(sid), param, int(ts), float(v_sum) / int(n), "minutes")
    r = reading.c
    newest_r = (
        select(r.station_id, r.parameter, func.max(r.data_ts).label("ts"))
        .where(
            r.station_id.in_(list(station_ids)),
            r.parameter.in_(list(parameters)),
            r.granularity == "hour",
            r.data_ts >= since_ts,
            r.data_ts < before_ts,
        )
        .group_by(r.station_id, r.parameter)
        .subquery()
    )
    for sid, param, ts, value in conn.execute(
        select(r.station_id, r.parameter, r.data_ts, r.value).join(
            newest_r,
            and_(
                r.station_id == newest_r.c.station_id,
                r.parameter == newest_r.c.parameter,
                r.data_ts == newest_r.c.ts,
                r.granularity == "hour",
            ),
        )
    ):
        key = (int(sid), param)
        if value is not None and (key not in out or out[key].hour_ts <= int(ts)):
            out[key] = HourValue(int(sid), param, int(ts), float(value), "reported")
    return sorted(out.values(), key=lambda v: (v.station_id, v.parameter))


# --- ledger (read only) ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    id: int
    size: int
    root: bytes
    ts: int
    key_id: str
    note: str


def checkpoints(conn: Connection, *, before_id: int | None = None, limit: int = 50) -> list[CheckpointRow]:
    from envtrace.store.ledger_tables import ledger_checkpoint as c

    q = select(c.c.id, c.c.size, c.c.root, c.c.ts, c.c.key_id, c.c.note).order_by(c.c.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(c.c.id < before_id)
    return [CheckpointRow(int(a), int(b), bytes(cc), int(d), e, f) for a, b, cc, d, e, f in conn.execute(q)]


def checkpoint_covering(conn: Connection, leaf_index: int) -> CheckpointRow | None:
    """The newest checkpoint whose tree contains leaf ``leaf_index``."""
    from envtrace.store.ledger_tables import ledger_checkpoint as c

    row = conn.execute(
        select(c.c.id, c.c.size, c.c.root, c.c.ts, c.c.key_id, c.c.note)
        .where(c.c.size > leaf_index)
        .order_by(c.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    a, b, cc, d, e, f = row
    return CheckpointRow(int(a), int(b), bytes(cc), int(d), e, f)


# --- AQI (the roll-up's) --------------------------------------------------------------------------


def newest_station_aqi(
    conn: Connection, station_ids: Sequence[int], *, since_ts: int, granularity: str = "hour"
) -> dict[int, AqiValue]:
    """Each station's AQI of its newest period since ``since_ts`` (current version), by station."""
    if not station_ids:
        return {}
    a = rollup_aqi.c
    newest = conn.execute(
        select(a.station_id, func.max(a.period_ts))
        .where(a.station_id.in_(list(station_ids)), a.granularity == granularity, a.period_ts >= since_ts)
        .group_by(a.station_id)
    ).all()
    by_period: dict[int, list[int]] = {}
    for sid, ts in newest:
        by_period.setdefault(int(ts), []).append(int(sid))
    out: dict[int, AqiValue] = {}
    for ts, sids in by_period.items():
        for v in station_aqi_at(conn, sids, granularity=granularity, period_ts=ts):
            if v.station_id is not None:
                out[v.station_id] = v
    return out


# --- judged values (the roll-up's), narrow, for charts -------------------------------------------


@dataclass(frozen=True, slots=True)
class JudgedPoint:
    """The columns a chart needs of the current version of one judged value."""

    period_ts: int
    valid: bool
    reason: int
    value: float | None
    vmin: float | None
    vmax: float | None
    zs_value: float | None
    zs_reason: int | None
    station_value: float | None
    station_zs_value: float | None
    flag: str | None
    n_valid: int | None
    n_total: int | None
    source: str
    unit: str | None


def judged_points(
    conn: Connection,
    station_id: int,
    parameter: str,
    granularity: str,
    t0: int,
    t1: int,
) -> list[JudgedPoint]:
    """Current judged values of one station-parameter in [t0, t1), by time.

    The current version of a value is its highest (``envtrace.store.hourly``); versions are few, so
    every version in the window is read in (period, version) order -- one index range scan of
    ``uq_rollup_value_key`` -- and the last of each period kept: cheaper than grouping in SQL."""
    v = rollup_value.c
    rows = conn.execute(
        select(
            v.period_ts, v.valid, v.reason, v.value, v.vmin, v.vmax, v.zs_value, v.zs_reason,
            v.station_value, v.station_zs_value, v.flag, v.n_valid, v.n_total, v.source, v.unit,
        )
        .where(
            v.station_id == station_id,
            v.granularity == granularity,
            v.parameter == parameter,
            v.period_ts >= t0,
            v.period_ts < t1,
        )
        .order_by(v.period_ts, v.version)
    )  # fmt: skip
    current: dict[int, JudgedPoint] = {}
    for ts, valid, reason, *rest in rows:
        current[int(ts)] = JudgedPoint(int(ts), bool(valid), int(reason), *rest)
    return list(current.values())
