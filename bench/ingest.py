"""Benchmark of the HJ 212 gateway: N stations over loopback into SQLite and PostgreSQL.

Each target runs in its own process (spawned): the real gateway (``envtrace.ingest.Gateway``: the
network process plus its storage process, group commit, sealing on or off, every frame decoded,
sealed and committed as in production) or a bare asyncio server that only frames (the codec's
``Framer``) and answers 9014. This process is the client: one uvloop loop, ``asyncio.Protocol``
connections, frames prepared in advance (8 flue-gas factors each, unique QN, increasing DataTime
per station), a window of unanswered frames per connection like real data loggers; latency =
answer time - send time per frame. The bench stations are registered in the database before the
gateway starts (one shared password hash: the first frame of each costs a dictionary lookup, not a
scrypt), so the runs measure data, not enrolment.

Phases: bare server (the ceiling of the I/O path), max throughput (closed loop) on SQLite sealed
and unsealed and on PostgreSQL, a fixed 5,000 frames/s run on SQLite for the p99, and a hold test
of 10,000 concurrent connections (each sends a frame and must get its answer). Each line gives the
CPU each process spent per acknowledged frame (network / storage process of the gateway, client).
Last line: ``frames_per_s=.. p99_ack_ms=.. connections=.. ratio_vs_bare=..``; with ``--encrypt``
``frames_per_s=.. ratio_vs_plain=.. ...``: the SM4 throughput and its ratio to the plain sealed run,
the two measured alternately (``--runs`` pairs, medians) so that the shared machine's load hits both
alike. The encrypted stations' keys are registered through the key store (``envtrace keys``).

    .venv/bin/python bench/ingest.py [--quick] [--runs N] [--pg URL | --no-pg] [--sqlite-normal]
    .venv/bin/python bench/ingest.py --edition 2025 --encrypt      # + ratio_vs_plain (SM4 cost)
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

FACTORS = [("a21026", 35.0), ("a21002", 48.0), ("a34013", 6.0), ("a19001", 9.5), ("a01012", 62.0),
           ("a01011", 11.0), ("a01013", 101.3), ("a01014", 8.0)]  # fmt: skip
PW = "123456"
SM4_KEY = b"Qm7xT2vR9pLk4WzA"  # passes the key policy (no fixed or patterned key, §6.4.3)


def raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def proc_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) a live process has used so far; 0 when unknown."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL server process of this machine (0 if none)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() != "postgres":
                        continue
            except OSError:
                continue
            total += proc_cpu(int(entry))
    return total


# ------------------------------------------------------------------------------------ servers


@dataclass(frozen=True)
class Target:
    db_url: str
    seal: bool = True
    sqlite_synchronous: str = "FULL"
    stations: tuple[str, ...] = ()
    encrypted: bool = False
    edition: str = "2017"


def register(db_url: str, mns: tuple[str, ...], *, encrypted: bool, edition: str) -> None:
    """The bench stations, registered as staff would (one password hash shared by all of them)."""
    from envtrace.ingest.keys import default_state_dir
    from envtrace.store import connect, hash_password, register_station, write_transaction
    from envtrace.store.station_keys import KeyVault, register_key

    if not mns:
        return
    engine = connect(db_url)
    pw_hash = hash_password(PW)
    vault = KeyVault.open(default_state_dir(engine), create=True) if encrypted else None
    now_us = time.time_ns() // 1000
    with write_transaction(engine) as conn:
        for mn in mns:
            register_station(
                conn, mn=mn, pw_hash=pw_hash, kind="flue_gas", st="31", edition=edition, encrypted=encrypted,
            )  # fmt: skip
            if vault is not None:  # one key for all: the bench is not a key-reuse test
                register_key(
                    conn, vault, mn=mn, key_text=SM4_KEY.decode(), actor="bench", now_us=now_us,
                    overlap_s=86_400.0, enforce_policy=False,
                )  # fmt: skip
    engine.dispose()


def _gateway_proc(target: Target, conn: Any) -> None:
    raise_nofile()
    import logging

    import uvloop

    from envtrace.ingest import Gateway, GatewayConfig, prepare_database
    from envtrace.store import connect

    logging.basicConfig(level=logging.WARNING)
    engine = connect(target.db_url, sqlite_synchronous=target.sqlite_synchronous)
    prepare_database(engine)
    register(target.db_url, target.stations, encrypted=target.encrypted, edition=target.edition)
    gateway = Gateway(
        engine,
        GatewayConfig(port=0, seal=target.seal, idle_timeout_s=600, history_requests=False,
                      queue_high=200_000, queue_low=50_000),
    )  # fmt: skip

    async def main() -> None:
        task = asyncio.ensure_future(gateway.run())
        await gateway.ready.wait()
        conn.send(gateway.port)
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "cpu":
                conn.send((proc_cpu(os.getpid()), proc_cpu(gateway.storage.pid), postgres_cpu()))
            else:
                break
        gateway.stop()
        await task
        conn.send((gateway.storage.batches, gateway.storage.frames, gateway.storage.commit_s))

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def _bare_proc(conn: Any) -> None:
    """Frames with the codec's Framer and answers 9014 at once: the ceiling of the I/O path."""
    raise_nofile()
    import uvloop

    from envtrace.hj212.crc import hj212_crc
    from envtrace.hj212.frame import Frame, Framer

    class Bare(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport
            self.framer = Framer()

        def data_received(self, data: bytes) -> None:
            out = []
            for ev in self.framer.feed(data):
                if type(ev) is Frame:
                    raw = ev.raw
                    qn = raw[9 : raw.index(b";", 9)]
                    mn_at = raw.index(b";MN=") + 4
                    mn = raw[mn_at : raw.index(b";", mn_at)]
                    seg = b"QN=%s;ST=91;CN=9014;PW=123456;MN=%s;Flag=4;CP=&&&&" % (qn, mn)
                    out.append(b"##%04d%s%04X\r\n" % (len(seg), seg, hj212_crc(seg)))
            if out:
                self.t.write(b"".join(out))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Bare, "127.0.0.1", 0, backlog=4096)
        conn.send(server.sockets[0].getsockname()[1])
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "cpu":
                conn.send((proc_cpu(os.getpid()), 0.0, 0.0))
            else:
                break
        server.close()
        conn.send((0, 0, 0.0))

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


class Server:
    def __init__(self, target: Any, *args: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(*args, child))
        self.proc.start()
        self.port = int(self.conn.recv())

    def cpu(self) -> tuple[float, float, float]:
        """CPU seconds so far: network process, storage process, PostgreSQL servers."""
        self.conn.send("cpu")
        front, storage, postgres = self.conn.recv()
        return float(front), float(storage), float(postgres)

    def stop(self) -> tuple[int, int, float]:
        self.conn.send("stop")
        batches, frames, commit_s = self.conn.recv()
        self.proc.join(60)
        return int(batches), int(frames), float(commit_s)


# ------------------------------------------------------------------------------------ client


def make_frames(mn: str, count: int, start_ts: int, *, edition: str, key: bytes | None) -> list[bytes]:
    from envtrace.hj212.crc import hj212_crc

    flag = 5 if edition == "2017" else 9
    out = []
    for i in range(count):
        t = time.gmtime(start_ts + i + 8 * 3600)
        dt = time.strftime("%Y%m%d%H%M%S", t)
        qn = f"{dt}{i % 1000:03d}"
        cp = ";".join(f"{c}-Rtd={m + (i % 7) * 0.1:.2f},{c}-Flag=N" for c, m in FACTORS)
        seg = f"QN={qn};ST=31;CN=2011;PW={PW};MN={mn};Flag={flag};CP=&&DataTime={dt};{cp}&&".encode()
        crc = hj212_crc(seg)
        if key is not None:
            from envtrace.hj212 import encrypt_region

            head = seg.index(b"CP=&&") + 5
            seg = seg[:head] + encrypt_region(seg[head:-2], key) + seg[-2:]
        out.append(b"##%04d%s%04X\r\n" % (len(seg), seg, crc))
    return out


@dataclass
class Stats:
    acked: int = 0
    latencies: list[float] = field(default_factory=list)
    record: bool = False
    errors: int = 0


class Station(asyncio.Protocol):
    def __init__(self, frames: list[bytes], window: int, stats: Stats, *, closed_loop: bool) -> None:
        self.frames = frames
        self.i = 0
        self.window = window
        self.stats = stats
        self.sent: deque[float] = deque()
        self.closed_loop = closed_loop
        self.t: Any = None
        self.open = False
        self.cycle = False

    def connection_made(self, transport: Any) -> None:
        self.t = transport
        self.open = True
        if self.closed_loop:
            self.pump()

    def pump(self, budget: int = 1 << 30) -> int:
        """Send frames while the window allows, one write per frame as a data logger does."""
        n = 0
        now = time.perf_counter()
        write = self.t.write
        while len(self.sent) < self.window and n < budget:
            if self.i >= len(self.frames):
                if not self.cycle:
                    break
                self.i = 0  # the bare server does not mind seeing a frame again
            write(self.frames[self.i])
            self.sent.append(now)
            self.i += 1
            n += 1
        return n

    def data_received(self, data: bytes) -> None:
        n = data.count(b"\n")
        now = time.perf_counter()
        st = self.stats
        for _ in range(min(n, len(self.sent))):
            t0 = self.sent.popleft()
            st.acked += 1
            if st.record:
                st.latencies.append(now - t0)
        if b"CN=9014" not in data:
            st.errors += 1
        if self.closed_loop:
            self.pump()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False


async def connect_all(
    port: int, frames: list[list[bytes]], window: int, stats: Stats, *, closed_loop: bool
) -> list[Station]:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(500)

    async def one(fr: list[bytes]) -> Station:
        async with sem:
            for _ in range(20):
                try:
                    _, proto = await loop.create_connection(
                        lambda: Station(fr, window, stats, closed_loop=closed_loop), "127.0.0.1", port
                    )
                    return proto
                except OSError:
                    await asyncio.sleep(0.2)
            raise OSError(f"cannot connect to {port}")

    return list(await asyncio.gather(*(one(f) for f in frames)))


async def _first_frames(port: int, frames: list[list[bytes]], stats: Stats) -> list[Station]:
    """Connect every station and get its first frame answered (password checks, warm caches)."""
    conns = await connect_all(port, [f[:1] for f in frames], 1, stats, closed_loop=True)
    end = time.monotonic() + 120
    while stats.acked < len(frames) and time.monotonic() < end:  # noqa: ASYNC110 - counted by the protocols
        await asyncio.sleep(0.05)
    return conns


async def run_closed(
    port: int, frames: list[list[bytes]], window: int, duration: float, cpu: Any, *, cycle: bool = False
) -> tuple[float, Stats, list[float]]:
    stats = Stats()
    conns = await _first_frames(port, frames, stats)
    for c, f in zip(conns, frames, strict=True):
        c.frames, c.window, c.cycle = f, window, cycle
    stats.acked, stats.record = 0, True
    before = (*cpu(), time.process_time())
    t0 = time.perf_counter()
    for c in conns:
        c.pump()
    await asyncio.sleep(duration)
    rate = stats.acked / (time.perf_counter() - t0)
    acked = stats.acked
    after = (*cpu(), time.process_time())
    if not cycle and any(c.i >= len(c.frames) for c in conns):
        print("  (a station ran out of prepared frames: this rate is a floor)", flush=True)
    stats.record = False
    for c in conns:
        c.frames = c.frames[: c.i]
    await asyncio.sleep(1.0)
    for c in conns:
        c.t.close()
    return rate, stats, [(b - a) / max(acked, 1) for a, b in zip(before, after, strict=True)]


async def run_fixed(
    port: int, frames: list[list[bytes]], rate: float, duration: float, cpu: Any
) -> tuple[float, Stats, list[float]]:
    stats = Stats()
    conns = await _first_frames(port, frames, stats)
    for c, f in zip(conns, frames, strict=True):
        c.frames, c.window, c.closed_loop = f, 1 << 20, False
    stats.acked, stats.record = 0, True
    before = (*cpu(), time.process_time())
    t0 = time.perf_counter()
    owed = 0.0
    k = 0
    last = t0
    while (now := time.perf_counter()) - t0 < duration:
        owed += rate * (now - last)
        last = now
        while owed >= 1:
            if conns[k % len(conns)].pump(1):
                owed -= 1
            k += 1
        await asyncio.sleep(0.002)
    got = stats.acked / (time.perf_counter() - t0)
    await asyncio.sleep(1.0)
    acked = stats.acked
    after = (*cpu(), time.process_time())
    stats.record = False
    for c in conns:
        c.t.close()
    return got, stats, [(b - a) / max(acked, 1) for a, b in zip(before, after, strict=True)]


async def run_hold(port: int, mns: list[str], hold_s: float, edition: str) -> tuple[int, float]:
    stats = Stats()
    frames = [make_frames(mn, 1, 1_785_500_000, edition=edition, key=None) for mn in mns]
    t0 = time.perf_counter()
    conns = await connect_all(port, frames, 1, stats, closed_loop=True)
    end = time.monotonic() + 120
    while stats.acked < len(mns) and time.monotonic() < end:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    ready_s = time.perf_counter() - t0
    await asyncio.sleep(hold_s)
    held = sum(c.open for c in conns) if stats.acked >= len(mns) else 0
    for c in conns:
        c.t.close()
    await asyncio.sleep(0.5)
    return held, ready_s


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))] * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="< 1 minute")
    ap.add_argument("--stations", type=int, default=200)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--runs", type=int, default=1, help="repeat each throughput run, report medians")
    ap.add_argument("--fixed-rate", type=float, default=5000.0)
    ap.add_argument(
        "--pg",
        default=os.environ.get("ENVTRACE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--sqlite-normal", action="store_true", help="also SQLite with synchronous=NORMAL")
    ap.add_argument("--hold", type=int, default=10_000)
    ap.add_argument("--edition", choices=("2017", "2025"), default="2017")
    ap.add_argument("--encrypt", action="store_true", help="2025 SM4 on every upload (needs --edition 2025)")
    ap.add_argument("--only", default="", help="comma-separated phases: bare,sealed,unsealed,pg,fixed,hold")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))

    def wanted(phase: str) -> bool:
        return not only or phase in only

    if a.quick:
        a.stations, a.duration, a.hold, a.runs = 100, 3.0, 2000, 1
    if a.encrypt and a.edition != "2025":
        ap.error("--encrypt needs --edition 2025")
    raise_nofile()
    import uvloop

    tmp = tempfile.mkdtemp(prefix="envtrace-bench-")
    per = int(a.duration * 25_000 / a.stations) + 50
    mns = tuple(f"BENCH{i:019d}" for i in range(a.stations))
    plain = [make_frames(mn, per, 1_785_500_000, edition=a.edition, key=None) for mn in mns]
    sm4 = (
        [make_frames(mn, per, 1_785_500_000, edition=a.edition, key=SM4_KEY) for mn in mns]
        if a.encrypt
        else []
    )
    results: dict[str, tuple[float, float, float]] = {}
    estimates: dict[str, float] = {}
    serial = iter(range(1, 1_000_000))

    every: dict[str, list[tuple[float, float, float]]] = {}
    every_cpu: dict[str, list[list[float]]] = {}

    def measure(
        name: str,
        make: Any,
        frames: list[list[bytes]],
        *,
        fixed: float | None = None,
        pg: bool = False,
        repeat: int | None = None,
    ) -> None:
        runs = every.setdefault(name, [])
        cpus = every_cpu.setdefault(name, [])
        for _ in range(a.runs if repeat is None else repeat):
            server = make()
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                if fixed is None:
                    rate, stats, cpu = runner.run(
                        run_closed(
                            server.port,
                            frames,
                            a.window,
                            a.duration,
                            server.cpu,
                            cycle=name.startswith("bare"),
                        )
                    )
                else:
                    rate, stats, cpu = runner.run(
                        run_fixed(server.port, frames, fixed, a.duration, server.cpu)
                    )
            batches, nframes, commit_s = server.stop()
            lat = stats.latencies
            runs.append((rate, pct(lat, 0.5), pct(lat, 0.99)))
            cpus.append(cpu)
            extra = (
                f" batch {nframes / batches:.0f} commit {1000 * commit_s / batches:.1f} ms" if batches else ""
            )
            print(
                f"{name:<30} {rate:8.0f} frames/s  p50 {pct(lat, 0.5):7.1f} ms  p99 {pct(lat, 0.99):7.1f} ms"
                f"  cpu/frame us: net {1e6 * cpu[0]:.0f} storage {1e6 * cpu[1]:.0f} client {1e6 * cpu[3]:.0f}"
                f"{f' postgres {1e6 * cpu[2]:.0f}' if pg else ''}"
                f"{extra}{'  ERRORS ' + str(stats.errors) if stats.errors else ''}",
                flush=True,
            )
        results[name] = (
            statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs),
        )
        net, storage, postgres, client = (statistics.median(c[i] for c in cpus) for i in range(4))
        if storage and fixed is None:
            # what two idle cores would do: each process on its own core, the client and PostgreSQL
            # (here on the same two cores) taking their share
            busiest = max(net, storage)
            estimate = min(1 / busiest, 2 / (net + storage + (postgres if pg else 0.0) + client))
            estimates[name] = estimate
            print(f"{'':<30} CPU-bound estimate on 2 idle cores: {estimate:.0f} frames/s", flush=True)
        if len(runs) > 1:
            print(
                f"{'':<30} median {results[name][0]:.0f} frames/s, p99 {results[name][2]:.1f} ms", flush=True
            )

    def gateway(db: str, *, seal: bool = True, sync: str = "FULL", encrypted: bool = False) -> Any:
        return lambda: Server(
            _gateway_proc, Target(db() if callable(db) else db, seal, sync, mns, encrypted, a.edition)
        )

    def sqlite(name: str) -> Any:
        return lambda: f"sqlite:///{tmp}/{name}-{next(serial)}.db"

    def fresh_pg(name: str) -> Any:
        def make() -> str:
            import psycopg

            admin = a.pg.replace("postgresql+psycopg://", "postgresql://")
            db = f"envtrace_bench_{name}_{os.getpid()}"
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                c.execute(f'CREATE DATABASE "{db}"')
            return str(admin.rsplit("/", 1)[0] + "/" + db)

        return make

    load = os.getloadavg()
    print(f"{a.stations} stations, window {a.window}, {a.duration:.0f} s per run, {a.runs} run(s), edition "
          f"{a.edition}{' SM4' if a.encrypt else ''}, {os.cpu_count()} CPUs, load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)  # fmt: skip
    fixed_name = f"gateway sqlite @{a.fixed_rate:.0f}/s"
    if wanted("bare"):
        measure("bare asyncio (frame + ack)", lambda: Server(_bare_proc), plain)
    if wanted("barefixed") and not a.quick:
        measure(f"bare asyncio @{a.fixed_rate:.0f}/s", lambda: Server(_bare_proc), plain, fixed=a.fixed_rate)
    if a.encrypt:  # plain and SM4 alternately, so that the machine's load hits both alike
        for _ in range(max(a.runs, 2)):
            measure("gateway sqlite, sealed", gateway(sqlite("sealed")), plain, repeat=1)
            measure("gateway sqlite, sealed, SM4", gateway(sqlite("sm4"), encrypted=True), sm4, repeat=1)
    elif wanted("sealed"):
        measure("gateway sqlite, sealed", gateway(sqlite("sealed")), plain)
    if wanted("unsealed"):
        measure("gateway sqlite, not sealed", gateway(sqlite("unsealed"), seal=False), plain)
    if a.sqlite_normal:
        measure("gateway sqlite NORMAL, sealed", gateway(sqlite("normal"), sync="NORMAL"), plain)
    if not a.no_pg and wanted("pg"):
        measure("gateway postgres, sealed", gateway(fresh_pg("sealed")), plain, pg=True)
    if wanted("fixed"):
        measure(fixed_name, gateway(sqlite("fixed")), plain, fixed=a.fixed_rate)
    held = 0
    if wanted("hold"):
        hold_mns = [f"HOLD{i:020d}" for i in range(a.hold)]
        srv = Server(_gateway_proc, Target(sqlite("hold")(), True, "FULL", tuple(hold_mns), False, a.edition))
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            held, ready_s = runner.run(run_hold(srv.port, hold_mns, 3.0, a.edition))
        srv.stop()
        print(f"{'hold test':<30} {held} of {a.hold} connections held (all answered in {ready_s:.1f} s)")
    nan = (float("nan"),) * 3
    bare = results.get("bare asyncio (frame + ack)", nan)[0]
    sealed = results.get("gateway sqlite, sealed", nan)[0]
    unsealed = results.get("gateway sqlite, not sealed", nan)[0]
    print(
        f"sealing cost: {100 * (1 - sealed / unsealed):.1f} % of throughput "
        f"(sealed {sealed:.0f} vs {unsealed:.0f})"
    )
    if "gateway sqlite, sealed" in estimates and "gateway sqlite, not sealed" in estimates:
        e_sealed, e_unsealed = estimates["gateway sqlite, sealed"], estimates["gateway sqlite, not sealed"]
        print(f"sealing cost, CPU-bound estimates: {100 * (1 - e_sealed / e_unsealed):.1f} %")
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if a.encrypt:
        sm4_rate = results["gateway sqlite, sealed, SM4"][0]
        e_sm4, e_plain = estimates.get("gateway sqlite, sealed, SM4"), estimates.get("gateway sqlite, sealed")
        if e_sm4 and e_plain:
            print(f"SM4 cost, CPU-bound estimates: ratio {e_sm4 / e_plain:.2f}")
        print(
            f"frames_per_s={sm4_rate:.0f} ratio_vs_plain={sm4_rate / sealed:.2f} "
            f"plain_frames_per_s={sealed:.0f} "
            f"p99_ack_ms={results.get(fixed_name, nan)[2]:.1f} connections={held}",
            flush=True,
        )
        return 0
    print(
        f"frames_per_s={sealed:.0f} p99_ack_ms={results.get(fixed_name, nan)[2]:.1f} "
        f"connections={held} ratio_vs_bare={sealed / bare:.2f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
