"""Web latency on a province's data: the station-week chart and the province overview, p95 under 20
concurrent clients, against the same questions answered without the project's indexes and roll-ups.

    .venv/bin/python bench/web.py            # 500 stations (see "Data" below), a few minutes
    .venv/bin/python bench/web.py --quick    # 50 stations, well under a minute

Needs PostgreSQL (ENVTRACE_TEST_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres):
a fresh database is created and dropped.

Data (PostgreSQL, written with COPY through the project's schema and monthly partitions). A full year
of minute data for 500 stations is 263 M rows per parameter; this benchmark keeps the shape of that
load at a size a 2-core machine fills in minutes:

- 500 stations, one parameter (SO2, ``a21026``), minute data (``granularity = 'min'``) for the last
  14 days for every station (10.1 M rows), plus a full year of minute data for 10 "deep" stations
  (5.3 M more rows), flags ``N`` with 2 % other flags;
- the raw-statistics roll-ups (``reading_hour_stats``, ``reading_day_stats``) for a full year for all
  500 stations (4.4 M hourly rows), computed from the same generator as the minute rows;
- validity-judged hourly values (``rollup_value``, what ``envtrace.rollup`` writes) for the last 14
  days of every station (168 k rows; valid when >= 45 minutes are normal), which the overview's
  effective-data rate and the judged chart read;
- 90 % of the stations online.

Questions, each asked by 20 client threads at once:

- chart: ``GET /api/v1/stations/{id}/series?parameter=a21026`` (the last 7 days: hourly mean,
  min, max, counts) for random stations, over HTTP against the real app under uvicorn (its own
  process), logged in as monitoring staff; also the same through the store function;
- overview: ``GET /api/v1/overview`` (stations online, capture and effective-data rates by city,
  county and enterprise over the last 24 h, open alarms, last-24-h frame counts, newest checkpoint);
- judged: ``GET /api/v1/stations/{id}/judged?parameter=a21026`` (the last 7 days of validity-judged
  hourly values with reasons, limit, exceedances, disagreements: what the chart draws at hourly zoom),
  reported on its own line (``p95_judged_ms``), not part of the ratio.

Plain baseline: the same answers computed from the minute readings with index scans switched off
(``enable_indexscan``, ``enable_bitmapscan``, ``enable_indexonlyscan`` off) and no roll-ups (a GROUP BY
over the raw rows), 20 clients at once, one request each. The last line is
``p95_chart_ms=.. p95_overview_ms=.. ratio_vs_plain=.. p95_judged_ms=..`` where the p95 figures are the
HTTP ones and the ratio is (plain chart p95 + plain overview p95) / (store chart p95 + store overview
p95).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import numpy as np
import psycopg
from sqlalchemy import Engine, text

from envtrace.accounts import Policy, create_user, open_session
from envtrace.store import console, migrate, partitions
from envtrace.store.console import ALL
from envtrace.store.engine import connect, write_transaction

ADMIN_URL = os.environ.get(
    "ENVTRACE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
).replace("postgresql+psycopg://", "postgresql://")
PARAM = "a21026"
CLIENTS = 20
CITIES = [
    "南京市",
    "无锡市",
    "徐州市",
    "常州市",
    "苏州市",
    "南通市",
    "连云港市",
    "淮安市",
    "盐城市",
    "扬州市",
    "镇江市",
    "泰州市",
    "宿迁市",
]


@dataclass(frozen=True)
class Scale:
    stations: int
    recent_days: int
    deep_stations: int
    deep_days: int
    rollup_days: int
    http_requests: int


FULL = Scale(
    stations=500, recent_days=14, deep_stations=10, deep_days=365, rollup_days=365, http_requests=400
)
QUICK = Scale(stations=50, recent_days=3, deep_stations=2, deep_days=30, rollup_days=90, http_requests=200)


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def minute_values(station: int, t0: int, minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic synthetic SO2 minute values (daily cycle + noise) and flag codes (0 = N)."""
    rng = np.random.default_rng(station * 7919 + t0 // 86400)
    t = t0 + np.arange(minutes, dtype=np.int64) * 60
    base = 20 + 10 * np.sin((t % 86400) / 86400 * 2 * np.pi) + (station % 17)
    values = np.round(base + rng.normal(0, 2, minutes), 2)
    flags = (rng.random(minutes) < 0.02).astype(np.int8)
    return values, flags


def copy_rows(conn: psycopg.Connection, table: str, columns: str, chunks: Callable[[], object]) -> int:
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
        for block in chunks():  # type: ignore[attr-defined]
            cp.write(block)
            n += block.count(b"\n")
    return n


def fill(url: str, scale: Scale, now: int) -> dict[str, float]:
    t_end = now - now % 60
    engine = connect(url)
    migrate.upgrade(engine)
    partitions.ensure(engine, now_ts=now, behind=13 if scale.deep_days > 300 else 4, ahead=1)
    t_start = time.perf_counter()
    with write_transaction(engine) as conn:
        for i, city in enumerate(CITIES):
            conn.execute(
                text(
                    "INSERT INTO enterprise (code, name, city, county, key_unit, created_ts) "
                    "VALUES (:c, :n, :city, :county, :k, :t)"
                ),
                {
                    "c": f"E{i:04d}",
                    "n": f"企业{i}",
                    "city": city,
                    "county": f"{city}{i % 3}区",
                    "k": i % 2 == 0,
                    "t": now,
                },
            )
        for s in range(1, scale.stations + 1):
            city = CITIES[s % len(CITIES)]
            ent = (s % len(CITIES)) + 1 if s % 3 else None
            conn.execute(
                text(
                    "INSERT INTO monitoring_point (id, enterprise_id, code, name, kind, city, county, "
                    "lat, lon, created_ts) "
                    "VALUES (:id, :e, :code, :name, :kind, :city, :county, :lat, :lon, :t)"
                ),
                {
                    "id": s,
                    "e": ent,
                    "code": f"P{s:05d}",
                    "name": f"点位{s}",
                    "kind": "ambient" if ent is None else "flue_gas",
                    "city": city,
                    "county": f"{city}{s % 3}区",
                    "lat": 31 + (s % 30) / 10,
                    "lon": 118 + (s % 40) / 10,
                    "t": now,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO station (id, mn, point_id, name, kind, pw_hash, created_ts) "
                    "VALUES (:id, :mn, :p, :name, :kind, 'x', :t)"
                ),
                {
                    "id": s,
                    "mn": f"BENCH{s:011d}",
                    "p": s,
                    "name": f"站点{s}",
                    "kind": "ambient" if ent is None else "flue_gas",
                    "t": now,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO station_state (station_id, online, last_seen_us, last_data_ts, frames, "
                    "quarantined) VALUES (:s, :o, :u, :d, 0, 0)"
                ),
                {"s": s, "o": s % 10 != 0, "u": now * 1_000_000, "d": t_end - 60},
            )
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence('station', 'id'), :n)"), {"n": scale.stations}
        )
        _, _ = create_user(
            conn, username="bench", role="monitoring_staff", now_ts=now, password="bench-password-123"
        )
    pg = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    rows = 0

    def readings() -> object:
        for s in range(1, scale.stations + 1):
            days = scale.deep_days if s <= scale.deep_stations else scale.recent_days
            minutes = days * 1440
            t0 = t_end - minutes * 60
            values, flags = minute_values(s, t0, minutes)
            ts = t0 + np.arange(minutes, dtype=np.int64) * 60
            flag_text = np.where(flags == 0, "N", "D")
            buf = io.StringIO()
            for a, v, f in zip(ts.tolist(), values.tolist(), flag_text.tolist(), strict=True):
                buf.write(f"{s}\tmin\t{PARAM}\t{a}\t{v}\t{f}\t{s}\n")
            yield buf.getvalue().encode()

    rows += copy_rows(
        pg, "reading", "station_id, granularity, parameter, data_ts, value, flag, frame_id", readings
    )
    pg.commit()

    def hour_stats() -> object:
        hours = scale.rollup_days * 24
        h_end = t_end - t_end % 3600
        for s in range(1, scale.stations + 1):
            t0 = h_end - hours * 3600
            values, flags = minute_values(s, t0, hours * 60)
            v = values.reshape(hours, 60)
            normal = (flags.reshape(hours, 60) == 0).sum(axis=1)
            buf = io.StringIO()
            for i in range(hours):
                row = v[i]
                buf.write(
                    f"{s}\tmin\t{PARAM}\t{t0 + i * 3600}\t60\t{int(normal[i])}\t"
                    f"{row.sum():.3f}\t{row.min()}\t{row.max()}\t0\n"
                )
            yield buf.getvalue().encode()

    rows += copy_rows(
        pg,
        "reading_hour_stats",
        "station_id, granularity, parameter, hour_ts, n, n_normal, v_sum, v_min, v_max, zs_n",
        hour_stats,
    )
    pg.commit()

    def judged() -> object:
        hours = scale.recent_days * 24
        h_end = t_end - t_end % 3600
        for s in range(1, scale.stations + 1):
            t0 = h_end - hours * 3600
            values, flags = minute_values(s, t0, hours * 60)
            v, ok_minutes = values.reshape(hours, 60), flags.reshape(hours, 60) == 0
            buf = io.StringIO()
            for i in range(hours):
                n_valid = int(ok_minutes[i].sum())
                valid = n_valid >= 45
                mean = f"{float(v[i][ok_minutes[i]].mean()):.3f}" if n_valid else "\\N"
                buf.write(
                    f"{s}\thour\t{PARAM}\t{t0 + i * 3600}\t1\tflue_gas\tmin\t{'t' if valid else 'f'}\t"
                    f"{0 if valid else 21}\t60\t{n_valid}\t0\tmg/m3\t{mean}\t"
                    f"GB 13223-2011\tbench\t{{}}\t{now}\n"
                )
            yield buf.getvalue().encode()

    rows += copy_rows(
        pg,
        "rollup_value",
        "station_id, granularity, parameter, period_ts, version, kind, source, valid, reason, n_total, "
        "n_valid, n_stopped, unit, value, edition, rules, detail, computed_ts",
        judged,
    )
    pg.commit()
    with pg.cursor() as cur:
        cur.execute(
            "INSERT INTO reading_day_stats (station_id, granularity, parameter, day_ts, n, n_normal, "
            "v_sum, v_min, v_max, zs_n) SELECT station_id, granularity, parameter, "
            "(hour_ts + 28800) - (hour_ts + 28800) % 86400 - 28800, "
            "sum(n), sum(n_normal), sum(v_sum), min(v_min), max(v_max), 0 FROM reading_hour_stats "
            "GROUP BY 1, 2, 3, 4"
        )
        cur.execute("ANALYZE")
    pg.commit()
    pg.close()
    engine.dispose()
    return {"rows": rows, "fill_s": time.perf_counter() - t_start}


def run_concurrently(n_requests: int, work: Callable[[int], None]) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        t = time.perf_counter()
        work(i)
        dt = (time.perf_counter() - t) * 1000
        with lock:
            latencies.append(dt)

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, range(n_requests)))
    return latencies


PLAIN_OFF = (
    "SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off; "
    "SET LOCAL enable_indexonlyscan = off"
)


def plain_chart(engine: Engine, station: int, t0: int, t1: int) -> int:
    with engine.begin() as conn:
        conn.exec_driver_sql(PLAIN_OFF)
        rows = conn.execute(
            text(
                "SELECT data_ts - data_ts % 3600 AS h, count(value), avg(value), min(value), max(value), "
                "sum(CASE WHEN flag = 'N' THEN 1 ELSE 0 END) FROM reading WHERE station_id = :s "
                "AND granularity = 'min' AND parameter = :p AND data_ts >= :t0 AND data_ts < :t1 "
                "GROUP BY 1 ORDER BY 1"
            ),
            {"s": station, "p": PARAM, "t0": t0, "t1": t1},
        ).all()
    return len(rows)


def plain_overview(engine: Engine, now: int) -> int:
    t1 = now - now % 3600
    t0 = t1 - 86400
    with engine.begin() as conn:
        conn.exec_driver_sql(PLAIN_OFF)
        per = conn.execute(
            text(
                "SELECT station_id, sum(n), sum(CASE WHEN nn >= 45 THEN 1 ELSE 0 END), "
                "count(DISTINCT parameter) FROM ("
                "SELECT station_id, parameter, data_ts - data_ts % 3600 AS h, count(value) AS n, "
                "sum(CASE WHEN flag = 'N' THEN 1 ELSE 0 END) AS nn FROM reading WHERE granularity = 'min' "
                "AND data_ts >= :t0 AND data_ts < :t1 GROUP BY 1, 2, 3) x GROUP BY station_id"
            ),
            {"t0": t0, "t1": t1},
        ).all()
        stations = console.stations(conn, ALL, limit=1_000_000)
    return len(per) + len(stations)


def http_load(port: int, cookies: dict[str, str], paths: list[str], *, expect: int) -> list[float]:
    """GET each path, ``CLIENTS`` at a time over keep-alive connections, and time each request in
    ms. The client is a minimal HTTP/1.1 one on asyncio streams, so that on a 2-core machine the
    load generator takes little of the CPU the server needs. ``expect``: the least number of chart
    points (0: overview); every answer must be 200 and well-formed JSON."""
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())

    async def run() -> list[float]:
        latencies: list[float] = []
        queue = list(reversed(paths))

        async def worker() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                while queue:
                    path = queue.pop()
                    request = (
                        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                        "Accept: application/json\r\n\r\n"
                    ).encode()
                    t = time.perf_counter()
                    writer.write(request)
                    await writer.drain()
                    head = await reader.readuntil(b"\r\n\r\n")
                    match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                    if match is None:
                        raise SystemExit(f"bench: {path}: no content-length in {head[:200]!r}")
                    body = await reader.readexactly(int(match.group(1)))
                    latencies.append((time.perf_counter() - t) * 1000)
                    status = int(head.split(b" ", 2)[1])
                    doc = json.loads(body)
                    if status != 200 or (expect and len(doc["ts"]) < expect):
                        raise SystemExit(f"bench: {path} answered {status} {body[:200]!r}")
            finally:
                writer.close()
                await writer.wait_closed()

        async with asyncio.TaskGroup() as tg:
            for _ in range(CLIENTS):
                tg.create_task(worker())
        return latencies

    return asyncio.run(run())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "envtrace.web.app:app_from_env",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = {**os.environ, "ENVTRACE_WEB_ROLLUP_INTERVAL_S": "0", "ENVTRACE_DB_URL": url}
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("bench: the web app did not start within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 stations, a few days: under a minute")
    parser.add_argument(
        "--workers", type=int, default=2, help="uvicorn worker processes (default 2: one per core)"
    )
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    name = f"envtrace_bench_{uuid.uuid4().hex[:10]}"
    base, _, _ = ADMIN_URL.rpartition("/")
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    proc: subprocess.Popen[bytes] | None = None
    try:
        now = int(time.time())
        info = fill(url, scale, now)
        print(f"data: {scale.stations} stations, {info['rows']:,.0f} rows written in {info['fill_s']:.1f} s")
        engine = connect(url, pool_size=CLIENTS)
        rng = random.Random(7)
        ids = [rng.randint(1, scale.stations) for _ in range(scale.http_requests)]
        week = (now - 7 * 86400, now + 60)

        store_chart = run_concurrently(scale.http_requests, lambda i: _store_series(engine, ids[i], *week))
        store_overview = run_concurrently(scale.http_requests // 4, lambda i: _store_overview(engine, now))

        with write_transaction(engine) as conn:
            user = conn.execute(text("SELECT id FROM app_user WHERE username = 'bench'")).scalar_one()
            from envtrace.store.accounts import user_by_id

            row = user_by_id(conn, int(user))
            assert row is not None
            session = open_session(conn, row, now_ts=int(time.time()), policy=Policy())
        proc, port = start_server(url, args.workers)
        cookies = {"envtrace_session": session.token}
        chart_paths = [f"/api/v1/stations/{i}/series?parameter={PARAM}" for i in ids]
        http_load(port, cookies, chart_paths[: CLIENTS * 2], expect=24)  # warm-up: connections, caches
        http_chart_ms = http_load(port, cookies, chart_paths, expect=24)
        http_overview_ms = http_load(
            port, cookies, ["/api/v1/overview"] * (scale.http_requests // 4), expect=0
        )
        judged_paths = [f"/api/v1/stations/{i}/judged?parameter={PARAM}" for i in ids]
        http_judged_ms = http_load(port, cookies, judged_paths, expect=0)

        plain_chart_ms = run_concurrently(CLIENTS, lambda i: _check(plain_chart(engine, ids[i], *week) >= 24))
        plain_overview_ms = run_concurrently(CLIENTS, lambda i: _check(plain_overview(engine, now) > 0))
        engine.dispose()

        for label, values in [
            ("chart (HTTP)", http_chart_ms),
            ("overview (HTTP)", http_overview_ms),
            ("judged hourly chart (HTTP)", http_judged_ms),
            ("chart (store)", store_chart),
            ("overview (store)", store_overview),
            ("chart (plain: raw rows, no index)", plain_chart_ms),
            ("overview (plain: raw rows, no index)", plain_overview_ms),
        ]:
            print(
                f"{label:40s} n={len(values):4d} median={statistics.median(values):8.1f} ms  "
                f"p95={p95(values):8.1f} ms"
            )
        ratio = (p95(plain_chart_ms) + p95(plain_overview_ms)) / (p95(store_chart) + p95(store_overview))
        print(
            f"p95_chart_ms={p95(http_chart_ms):.1f} p95_overview_ms={p95(http_overview_ms):.1f} "
            f"ratio_vs_plain={ratio:.1f} p95_judged_ms={p95(http_judged_ms):.1f}"
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _check(ok: bool) -> None:
    if not ok:
        raise SystemExit("bench: a plain query gave no rows")


def _store_series(engine: Engine, station: int, t0: int, t1: int) -> None:
    with engine.connect() as conn:
        s = console.series(conn, station, PARAM, t0, t1)
    _check(len(s.ts) >= 24)


def _store_overview(engine: Engine, now: int) -> None:
    with engine.connect() as conn:
        o = console.overview(conn, ALL, now_ts=now)
    _check(o.stations > 0)


if __name__ == "__main__":
    main()
