"""`envtrace demo` (`make demo`): a simulated province on SQLite, the whole platform, live alarms.

What it does, in order:

1. creates ``./demo-data/envtrace.db`` and registers 50 stations of the simulator's province (seed
   212): flue-gas stacks of power units and industrial boilers, wastewater outfalls and ambient air
   sites in Jiangsu's cities, each with its enterprise, monitoring point (position), parameters
   (units, analyser spans, reference O2) and permit limits; the HJ 212 edition is drawn per station,
   so a share speaks HJ 212-2025 with SM4 encryption beside HJ 212-2017 loggers;
2. creates the demo users (one per role, and an enterprise user) and prints their passwords;
3. starts a local SMTP server (mail in ``demo-data/mail/``) and a webhook receiver (signed
   notifications in ``demo-data/webhooks/``), and points the platform's notifications at them;
4. starts ``envtrace serve`` (gateway, web app, background worker: roll-up, live detection, alarms);
5. **backfills** history through the gateway (``envtrace simulate`` at high ``--speed``) so that
   every station's baseline can be learned (15 days, ``--days``; the demo sets ``live_warmup_days``
   to 14), waits until the roll-up has judged it and the baselines are fitted, then runs the
   simulator ``--live-speed`` times faster than real time until the data reach the present
   (``--lag-hours`` of data: injected patterns show within minutes), then in real time;
6. prints each alarm as it opens, and each e-mail and webhook the sinks receive.

``envtrace demo inject PATTERN STATION`` (in a second terminal) asks the running demo to restart its
simulator with a falsification pattern on one station from the current data time; the alarm then
appears in the console's alarm inbox (with its evidence) and in the notification. Ctrl-C stops
everything: the simulator, the platform (which commits what it received), the sinks. A second
``envtrace demo`` resumes on the same database and backfills the time it was stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from envtrace.sim import StationConfig

SEED = 212
STATIONS = 50
KINDS = ("flue_gas", "water", "ambient")
# Real-time samples every 30 simulated minutes and minute data every 30 minutes (HJ 212-2017 allows
# RtdInterval up to 3600 s and MinInterval up to 30 min), in every phase: the backfill's readings
# then cost the roll-up a third of what 10-minute data would, and the baselines are learned on data
# sampled like the live data they judge.
REALTIME_INTERVAL = 1800
MIN_INTERVAL = 30
UTC8 = 8 * 3600
# (user, role, mail address): one user per role of the console, plus an enterprise user.
USERS = (
    ("admin", "admin"),
    ("jiance", "monitoring_staff"),
    ("zhifa", "enforcement_officer"),
    ("fuhe", "reviewer"),
    ("shiyan", "lab_analyst"),
    ("jijian", "discipline_inspector"),
    ("qiye", "enterprise"),
)
MAIL_DOMAIN = "demo.envtrace.local"
# worker intervals of the demo (faster than the defaults so that accelerated data show promptly)
#: The demo's warm-up: two weeks of history (the platform's default, 30 days, gives the ambient
#: neighbour models their month of overlap; two weeks let the demo's backfill finish in minutes).
WARMUP_DAYS = 14
DEMO_ENV = {
    "ENVTRACE_LIVE_WARMUP_DAYS": str(WARMUP_DAYS),
    "ENVTRACE_ROLLUP_INTERVAL_S": "5",
    "ENVTRACE_LIVE_DETECT_INTERVAL_S": "10",
    "ENVTRACE_ALARM_INTAKE_INTERVAL_S": "10",
    "ENVTRACE_NOTIFY_INTERVAL_S": "5",
    "ENVTRACE_ALARM_ESCALATION_INTERVAL_S": "60",
}

demo_app = typer.Typer(
    help="The whole platform on SQLite with a simulated province of 50 stations.",
    invoke_without_command=True,
)

FolderOpt = Annotated[Path, typer.Option(help="Where the demo's database, mail and files live.")]


def register(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")


# ------------------------------------------------------------------------------------ the province


def province() -> list[StationConfig]:
    """The demo's 50 stations (the simulator's province of seed 212, editions mixed, SM4 on 2025)."""
    from envtrace.sim import build_stations

    return build_stations(STATIONS, seed=SEED, kinds=KINDS, edition="mixed", encrypt=True)


def credit_code(name: str) -> str:
    """A unified-social-credit-code-shaped identifier for a simulated enterprise (stable per name)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=6).hexdigest().upper()
    return f"91320{digest}X"[:18].ljust(18, "0")


def register_province(engine: Engine, stations: list[StationConfig], state_dir: Path | None = None) -> int:
    """Register the stations with their enterprise, point, parameters and permit limits (skipping
    MNs already known), the SM4 keys of the encrypted 2025 stations into the key store (sealed under
    the master key of ``state_dir``, by default the database's, as ``envtrace keys register`` does);
    returns how many were added."""
    from sqlalchemy import insert

    from envtrace.store import get_station, register_station, upsert_enterprise, upsert_point
    from envtrace.store.engine import write_transaction
    from envtrace.store.hourly import add_limit_rule
    from envtrace.store.registry import station_parameter
    from envtrace.store.station_keys import KeyVault, register_key

    added = 0
    now = int(time.time())
    vault = None
    if any(st.encrypted for st in stations):
        from envtrace.ingest.keys import default_state_dir

        vault = KeyVault.open(state_dir or default_state_dir(engine), create=True)
    with write_transaction(engine) as conn:
        for st in stations:
            if get_station(conn, st.mn) is not None:
                continue
            enterprise_id = None
            if st.kind != "ambient":
                industry = getattr(st.spec, "unit_type", None) or "wastewater"
                enterprise_id = upsert_enterprise(
                    conn, code=credit_code(st.enterprise), name=st.enterprise, city=st.city, industry=industry
                )
            point_id = upsert_point(
                conn,
                code=f"P-{st.mn}",
                name=st.name,
                kind=st.kind,
                enterprise_id=enterprise_id,
                city=st.city,
                lat=st.lat,
                lon=st.lon,
            )
            sid = register_station(
                conn,
                mn=st.mn,
                pw=st.pw,
                kind=st.kind,
                name=st.name,
                st=st.st,
                edition=st.edition,
                point_id=point_id,
                encrypted=st.encrypted,
                utc_offset_min=st.utc_offset_min,
                by="envtrace demo",
            )
            if st.encrypted and st.key and vault is not None:
                register_key(
                    conn, vault, mn=st.mn, key_text=st.key, actor="envtrace demo",
                    now_us=time.time_ns() // 1000, overlap_s=86_400.0, context=(st.mn, st.pw),
                )  # fmt: skip
            limits: dict[str, float] = getattr(st.spec, "limits", {})
            spans: dict[str, float] = getattr(st.spec, "spans", {})
            rows = [
                {
                    "station_id": sid,
                    "parameter": code,
                    "unit": factor.unit,
                    "span": spans.get(code),
                    "o2_ref": st.o2_ref if code in limits and st.kind == "flue_gas" else None,
                }
                for code, factor in st.factors.items()
            ]
            conn.execute(insert(station_parameter), rows)
            for code, value in limits.items():
                unit = st.factors[code].unit if code in st.factors else "mg/m3"
                add_limit_rule(
                    conn,
                    scope="permit",
                    source=f"排污许可证（演示）{st.enterprise} {code}",
                    created_ts=now,
                    station_id=sid,
                    parameter=code,
                    value=value,
                    unit=unit,
                    averaging="1h",
                    o2_ref_pct=st.o2_ref if st.kind == "flue_gas" else None,
                    created_by="envtrace demo",
                )
            added += 1
    return added


def ensure_users(engine: Engine, enterprise_code: str) -> list[tuple[str, str, str]]:
    """Create the demo users (or give existing ones a new password); (user, role, password) each."""
    from sqlalchemy import select

    from envtrace.accounts import create_user, set_password
    from envtrace.store.accounts import user_by_name
    from envtrace.store.engine import write_transaction
    from envtrace.store.registry import enterprise

    out = []
    now = int(time.time())
    with write_transaction(engine) as conn:
        ent_id = conn.execute(select(enterprise.c.id).where(enterprise.c.code == enterprise_code)).scalar()
        for name, role in USERS:
            if user_by_name(conn, name) is None:
                _, password = create_user(
                    conn,
                    username=name,
                    role=role,
                    now_ts=now,
                    display_name=f"demo {role}",
                    enterprise_id=int(ent_id) if role == "enterprise" and ent_id is not None else None,
                )
            else:
                password = set_password(conn, name, now_ts=now)
            out.append((name, role, password))
    return out


def notify_config(path: Path, *, console_url: str, smtp_port: int | None, webhook: str, secret: str) -> None:
    """The platform's notification configuration for the demo's sinks (TOML)."""
    lines = [
        f'console_url = "{console_url}"',
        'actions = ["open", "escalate", "acknowledge", "verify", "confirm", "dismiss", "reopen"]',
        "max_attempts = 6",
        "backoff_s = [10, 30, 60, 300]",
    ]
    if smtp_port is not None:
        lines += [
            "[smtp]",
            'host = "127.0.0.1"',
            f"port = {smtp_port}",
            f'sender = "alarms@{MAIL_DOMAIN}"',
            "[email_to]",
            *(
                f'{role} = ["{user}@{MAIL_DOMAIN}"]'
                for user, role in USERS
                if role not in ("admin", "enterprise")
            ),
        ]
    lines += ["[[webhooks]]", f'url = "{webhook}"', f'secret = "{secret}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


# ----------------------------------------------------------------------------------- processes


def free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


_PRCTL: Any = None


def prepare_die_with_parent() -> None:
    """Look up ``prctl`` before any thread starts (``preexec_fn`` must not import or load)."""
    global _PRCTL
    try:
        import ctypes

        _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: Ctrl-C still stops everything
        _PRCTL = None


def die_with_parent() -> None:
    """``preexec_fn`` of the demo's children: SIGTERM them if the demo itself dies (Linux
    ``PR_SET_PDEATHSIG``), so a killed demo leaves no gateway or simulator behind."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM))


def envtrace_exe() -> str:
    exe = Path(sys.executable).with_name("envtrace")
    return str(exe) if exe.exists() else "envtrace"


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def local_iso(ts: float) -> str:
    """Station local time (UTC+8) without an offset, as ``envtrace simulate --start`` reads it."""
    return (datetime.fromtimestamp(int(ts), UTC) + timedelta(seconds=UTC8)).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Phases:
    """Where the simulated data stand and how fast they should move.

    Backfill at ``backfill_speed`` up to ``backfill_end`` (data time); then ``live_speed`` until the
    data reach the present; then real time.
    """

    backfill_end: float
    backfill_speed: float
    live_speed: float

    def plan(self, data_ts: float, now: float) -> tuple[str, float, float | None]:
        """(phase, speed, wall seconds to run, None = until stopped) for data standing at ``data_ts``."""
        if data_ts < self.backfill_end - 60:
            return "backfill", self.backfill_speed, (self.backfill_end - data_ts) / self.backfill_speed
        behind = now - data_ts
        if behind > 120 and self.live_speed > 1:
            return "accelerated", self.live_speed, behind / (self.live_speed - 1)
        return "real time", 1.0, None


@dataclass
class Simulator:
    """The demo's simulator process: restarted at each phase change and on each injection."""

    port: int
    registry: Path
    log: Path
    injections: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    phase: str = ""
    start_ts: float = 0.0
    speed: float = 1.0
    wall0: float = 0.0
    until: float | None = None

    def start(self, phase: str, data_ts: float, speed: float, wall_s: float | None) -> None:
        # a backfill that outruns the platform keeps its uploads in the loggers' backlogs: let them
        # all be delivered before the next phase starts
        drain = "900" if phase == "backfill" else "30"
        args = [
            envtrace_exe(),
            "simulate",
            "--to",
            f"127.0.0.1:{self.port}",
            "--registry",
            str(self.registry),
            "--seed",
            str(SEED),
            "--start",
            local_iso(data_ts),
            "--speed",
            f"{speed:g}",
            "--realtime-interval",
            str(REALTIME_INTERVAL),
            "--min-interval",
            str(MIN_INTERVAL),
            "--drain",
            drain,
            "--ack-timeout",
            "30",
            "--progress",
            "0",
        ]
        if wall_s is not None:
            args += ["--duration", f"{max(wall_s, 1.0):.1f}"]
        for spec in self.injections:
            args += ["--inject", spec]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=out, preexec_fn=die_with_parent)
        self.phase, self.start_ts, self.speed = phase, data_ts, speed
        self.wall0 = time.time()
        self.until = None if wall_s is None else self.wall0 + wall_s

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        stop_process(self.proc, 45)
        self.proc = None


# --------------------------------------------------------------------------------- database reads


def newest_data(engine: Engine) -> float | None:
    """The newest data time any station has sent (``station_state.last_data_ts``)."""
    from envtrace.store.state import station_states

    with engine.connect() as conn:
        times = [s.last_data_ts for s in station_states(conn) if s.last_data_ts is not None]
    return float(max(times)) if times else None


def progress(engine: Engine) -> tuple[int | None, int, int]:
    """(newest judged hour, stations with a fitted baseline, stations known to live detection)."""
    from sqlalchemy import func, select

    from envtrace.store.detect_state import states
    from envtrace.store.hourly import rollup_value

    with engine.connect() as conn:
        judged = conn.execute(
            select(func.max(rollup_value.c.period_ts)).where(rollup_value.c.granularity == "hour")
        ).scalar()
        rows = states(conn)
    return (None if judged is None else int(judged)), sum(r.phase == "live" for r in rows), len(rows)


def new_alarms(engine: Engine, after: int) -> list[tuple[int, str, str, str, str, str, str]]:
    """Alarms with id > ``after``: (id, MN, station name, pattern, kind, severity, window)."""
    from envtrace.alarms import Actor, list_alarms
    from envtrace.store.alarms import station_labels

    out = []
    with engine.connect() as conn:
        viewer = Actor("demo", "admin")
        for a in sorted(list_alarms(conn, viewer, limit=200), key=lambda s: s.id):
            if a.id <= after:
                continue
            mn, name, _ = station_labels(conn, a.station_id)
            window = f"{local_iso(a.start_ts)[5:16]} .. {local_iso(a.end_ts)[5:16]}"
            out.append((a.id, mn, name or "", a.pattern, a.kind, a.severity, window))
    return out


# ------------------------------------------------------------------------------------- injection


def inject_folder(folder: Path) -> Path:
    return folder / "inject"


def resolve_injection(
    request: dict[str, Any], stations: list[StationConfig], data_ts: float
) -> tuple[str, StationConfig]:
    """An ``--inject`` spec with an absolute start (local ISO time) from a request."""
    from envtrace.sim import parse_injection

    who = str(request["station"]).strip()
    by_index = who.isdigit() and int(who) < len(stations)
    station = stations[int(who)] if by_index else next((s for s in stations if s.mn == who), None)
    if station is None:
        raise ValueError(f"no demo station {who!r} (give a registry index 0-{len(stations) - 1} or an MN)")
    start = data_ts + float(request.get("offset_s", 0.0))
    spec = f"{request['pattern']}:{station.mn}:{local_iso(start)}"
    if request.get("duration"):
        spec += f":{request['duration']}"
    if request.get("params"):
        spec += "@" + ",".join(str(p) for p in request["params"])
    parse_injection(spec, stations, origin=start)  # validates pattern, kind and parameters
    return spec, station


# ------------------------------------------------------------------------------------ the command


@demo_app.callback()
def demo(
    ctx: typer.Context,
    folder: FolderOpt = Path("demo-data"),
    port: Annotated[int, typer.Option(help="Gateway port (a free one if taken).")] = 8212,
    http_port: Annotated[int, typer.Option(help="Web port (a free one if taken).")] = 8000,
    days: Annotated[
        float, typer.Option(help="Days of history to backfill (the demo's baselines need 14).")
    ] = WARMUP_DAYS + 1,
    lag_hours: Annotated[
        float, typer.Option(help="Hours of data before the present that run accelerated after the backfill.")
    ] = 12.0,
    live_speed: Annotated[
        float, typer.Option(help="Speed of the accelerated phase (simulated s per s).")
    ] = 60.0,
    backfill_speed: Annotated[
        float, typer.Option(help="Speed of the backfill (simulated s per s).")
    ] = 21600.0,
    inject: Annotated[
        list[str] | None,
        typer.Option(help="PATTERN:STATION[:DURATION]: inject when the backfill is done (repeatable)."),
    ] = None,
) -> None:
    """Run the whole platform on SQLite with a simulated province of 50 stations (see docs)."""
    if ctx.invoked_subcommand is not None:
        return
    requests = []
    for spec in inject or ():
        pattern, _, rest = spec.partition(":")
        station, _, duration = rest.partition(":")
        requests.append({"pattern": pattern, "station": station or "0", "duration": duration or None})
    run_demo(folder, port, http_port, days, lag_hours, live_speed, backfill_speed, requests)


def run_demo(
    folder: Path,
    port: int,
    http_port: int,
    days: float,
    lag_hours: float,
    live_speed: float,
    backfill_speed: float,
    start_requests: list[dict[str, Any]],
) -> None:
    from envtrace.cli.demo_sinks import MailSink, WebhookSink
    from envtrace.ingest import prepare_database
    from envtrace.sim import write_registry
    from envtrace.store import connect

    prepare_die_with_parent()
    folder.mkdir(parents=True, exist_ok=True)
    folder = folder.resolve()
    db = f"sqlite:///{folder / 'envtrace.db'}"
    stations = province()
    registry = folder / "stations.csv"
    write_registry(registry, stations)
    engine = connect(db)
    prepare_database(engine)
    added = register_province(engine, stations)
    first_fg = next(s for s in stations if s.kind == "flue_gas")
    users = ensure_users(engine, credit_code(first_fg.enterprise))
    say(f"database {db}: {len(stations)} stations ({added} new)")

    port, http_port = free_port(port), free_port(http_port)
    console = f"http://127.0.0.1:{http_port}/console"

    quiet = Quiet()

    def received(path: Path, summary: str) -> None:
        if quiet.on or quiet.preparing:
            quiet.notifications += 1
            return
        say(f"{'MAIL' if path.suffix == '.eml' else 'WEBHOOK'} {path.relative_to(folder)}  {summary}")

    mail: MailSink | None = None
    try:
        mail = MailSink(folder / "mail", free_port(8025), received)
        mail.start()
    except ImportError:
        say("no aiosmtpd (pip install aiosmtpd): e-mail notifications are off; webhooks still land")
    secret = secrets.token_hex(16)
    hooks = WebhookSink(folder / "webhooks", free_port(8026), secret, received)
    hooks.start()
    notify_path = folder / "notify.toml"
    notify_config(
        notify_path,
        console_url=console,
        smtp_port=None if mail is None else mail.port,
        webhook=hooks.url,
        secret=secret,
    )
    env = {**os.environ, **DEMO_ENV, "ENVTRACE_NOTIFY_CONFIG": str(notify_path)}
    serve = subprocess.Popen(
        [envtrace_exe(), "serve", "--db", db, "--port", str(port), "--http-port", str(http_port)],
        env=env,
        stderr=(folder / "serve.log").open("ab"),
        preexec_fn=die_with_parent,
    )
    sim = Simulator(port, registry, folder / "simulate.log")
    pid_file = folder / "demo.pid"
    inbox = inject_folder(folder)
    inbox.mkdir(exist_ok=True)
    try:
        if not wait_port(port, serve, 90):
            say(f"the gateway did not start (see {folder / 'serve.log'})")
            raise typer.Exit(1)
        web_up = wait_port(http_port, serve, 60)
        pid_file.write_text(str(os.getpid()))
        banner(folder, console, http_port, users, stations, web_up=web_up, mail=mail is not None)
        now = time.time()
        start_data = newest_data(engine)
        if start_data is None or start_data < now - 60 * 86400:
            start_data = now - days * 86400
            start_data -= start_data % 3600
        phases = Phases(max(start_data, now - lag_hours * 3600), backfill_speed, live_speed)
        DemoLoop(engine, sim, phases, start_data, stations, inbox, console, quiet, start_requests).run(serve)
    except KeyboardInterrupt:
        say("stopping (the platform commits what it received)")
    finally:
        sim.stop()
        stop_process(serve, 30)
        hooks.stop()
        if mail is not None:
            mail.stop()
        pid_file.unlink(missing_ok=True)
        engine.dispose()


@dataclass
class Quiet:
    """While the backfill runs, alarms and notifications (old exceedances, mostly) are counted, not
    printed one by one."""

    on: bool = True
    preparing: bool = True
    notifications: int = 0
    alarms: int = 0


def say(text: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    typer.echo(f"[demo {stamp}] {text}")
    sys.stdout.flush()


def banner(
    folder: Path,
    console: str,
    http_port: int,
    users: list[tuple[str, str, str]],
    stations: list[StationConfig],
    *,
    web_up: bool,
    mail: bool,
) -> None:
    lines = [
        "",
        f"  console  {console}" + ("" if web_up else "   (the web app did not start: see serve.log)"),
        f"  portal   http://127.0.0.1:{http_port}/",
        "  users (passwords are new at each start):",
        *(f"    {u:<8} {r:<22} {p}" for u, r, p in users),
        f"  mail     {folder / 'mail'}/" + ("" if mail else "  (off: aiosmtpd missing)"),
        f"  webhooks {folder / 'webhooks'}/",
        "  inject a falsification pattern (second terminal), for example:",
    ]
    examples = [  # the first two reveal themselves within an hour of data; a frozen run takes hours
        ("diluent_tamper", next(s for s in stations if s.kind == "flue_gas")),
        ("forged_correction", [s for s in stations if s.kind == "flue_gas"][1]),
        ("frozen_value", next(s for s in stations if s.kind == "ambient")),
    ]
    lines += [f"    envtrace demo inject {p} {s.mn}   # {s.name}" for p, s in examples]
    lines.append("  Ctrl-C stops everything.")
    typer.echo("\n".join(lines) + "\n")


def resume_at(engine: Engine, data_ts: float) -> float:
    """Where a new simulator run starts: the next whole hour after the newest data received. A run
    stopped mid-hour has sent that hour's partial records (and a logger would not send the hour
    twice), so the next run starts with a fresh hour."""
    newest = newest_data(engine)
    if newest is None or newest < data_ts:
        return data_ts
    return newest - newest % 3600 + 3600


def baselines_ready(engine: Engine, history_end: float) -> bool:
    """Whether the roll-up has judged the backfilled history and live detection has taken it in
    (every station with enough history then has its baseline: injected data come after it)."""
    from envtrace.store.detect_state import count_pending

    judged, _, _ = progress(engine)
    with engine.connect() as conn:
        waiting = count_pending(conn)
    return judged is not None and judged >= history_end - 2 * 3600 and waiting == 0


@dataclass
class DemoLoop:
    """Keeps the simulator in the right phase, takes injection requests, reports progress and alarms."""

    engine: Engine
    sim: Simulator
    phases: Phases
    data_ts: float
    stations: list[StationConfig]
    inbox: Path
    console: str
    quiet: Quiet
    start_requests: list[dict[str, Any]]
    last_alarm: int = 0
    last_report: float = 0.0
    ready: bool = False

    def run(self, serve: subprocess.Popen[bytes]) -> None:
        self.last_alarm = max((a[0] for a in new_alarms(self.engine, 0)), default=0)
        while serve.poll() is None:
            now = time.time()
            self.keep_simulating(now)
            self.take_requests()
            self.report_alarms()
            self.report_progress(now)
            time.sleep(1.0)
        say("the platform stopped (see serve.log)")

    def keep_simulating(self, now: float) -> None:
        self.check_ready()
        if self.sim.running():
            return
        self.data_ts = resume_at(self.engine, self.data_ts)
        phase, speed, wall = self.phases.plan(self.data_ts, now)
        if phase != "backfill" and self.sim.phase == "backfill":
            say(
                "history sent: the stations go live now; injections wait until the roll-up has judged "
                "the history and live detection has its baselines"
            )
        if phase != self.sim.phase:
            say(f"simulator: {phase} from {local_iso(self.data_ts)} at {speed:g}x")
        self.quiet.on = phase == "backfill"
        self.sim.start(phase, self.data_ts, speed, wall)

    def check_ready(self) -> None:
        """Once the live phase runs, watch for the baselines; then apply the injections asked at
        start (the simulator restarts with them, as for any injection)."""
        if self.ready or self.sim.phase in ("", "backfill"):
            return
        self.ready = baselines_ready(self.engine, self.phases.backfill_end)
        if not self.ready:
            return
        say(
            f"baselines ready: {self.quiet.alarms} alarms opened on the history (exceedances mostly), "
            f"{self.quiet.notifications} notifications delivered to the sinks"
        )
        self.quiet.preparing = False
        if self.start_requests:
            self.sim.stop()
            self.data_ts = resume_at(self.engine, self.data_ts)
            for request in self.start_requests:
                apply_request(request, self.stations, self.data_ts, self.sim, None)

    def take_requests(self) -> None:
        for path in sorted(self.inbox.glob("*.json")):
            if not self.ready:
                queued = path.with_suffix(".queued")
                if not queued.exists():
                    queued.write_text("the demo applies it once the baselines are ready", encoding="utf-8")
                continue
            request = json.loads(path.read_text(encoding="utf-8"))
            self.sim.stop()
            self.data_ts = resume_at(self.engine, self.data_ts)
            apply_request(request, self.stations, self.data_ts, self.sim, path)
            phase, speed, wall = self.phases.plan(self.data_ts, time.time())
            self.sim.start(phase, self.data_ts, speed, wall)

    def report_alarms(self) -> None:
        for alarm_id, mn, name, pattern, kind, severity, window in new_alarms(self.engine, self.last_alarm):
            self.last_alarm = alarm_id
            if self.quiet.on or not self.ready:
                self.quiet.alarms += 1
                continue
            link = f"{self.console}/alarms/{alarm_id}"
            say(f"ALARM #{alarm_id} {kind}/{pattern} ({severity}) {mn} {name} [{window}] {link}")

    def report_progress(self, now: float) -> None:
        if self.ready or now - self.last_report < 20:
            return
        self.last_report = now
        judged, fitted, known = progress(self.engine)
        sent = newest_data(self.engine)
        judged_text = "-" if judged is None else local_iso(judged)[:13] + "h"
        sent_text = local_iso(sent or self.data_ts)[:13] + "h"
        say(
            f"{self.sim.phase or 'starting'}: data up to {sent_text}, judged up to {judged_text}, "
            f"baselines fitted {fitted}/{known}, alarms {self.quiet.alarms}"
        )


def apply_request(
    request: dict[str, Any],
    stations: list[StationConfig],
    data_ts: float,
    sim: Simulator,
    path: Path | None,
) -> None:
    """Add an injection to the simulator's list and answer the request file (``.done`` / ``.error``)."""
    try:
        spec, station = resolve_injection(request, stations, data_ts)
    except (ValueError, KeyError) as exc:
        say(f"injection refused: {exc}")
        if path is not None:
            path.with_suffix(".error").write_text(str(exc), encoding="utf-8")
            path.unlink()
        return
    sim.injections.append(spec)
    say(f"INJECT {spec} ({station.name})")
    if path is not None:
        path.with_suffix(".queued").unlink(missing_ok=True)
        answer = {"spec": spec, "mn": station.mn, "name": station.name, "kind": station.kind}
        path.with_suffix(".done").write_text(json.dumps(answer, ensure_ascii=False), encoding="utf-8")
        path.unlink()


@demo_app.command("inject")
def inject_command(
    pattern: Annotated[str, typer.Argument(help="A falsification pattern (envtrace simulate --help).")],
    station: Annotated[str, typer.Argument(help="The station: registry index (0-49) or MN.")],
    folder: FolderOpt = Path("demo-data"),
    duration: Annotated[
        str | None, typer.Option(help="How long (6h, 2d); default: until the demo ends.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE strength parameter of the pattern (repeatable).")
    ] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the running demo to take it.")] = 120.0,
) -> None:
    """Inject a falsification pattern into one station of the running demo, from now on."""
    folder = folder.resolve()
    pid_file = folder / "demo.pid"
    if not pid_file.exists():
        typer.echo(f"error: no demo is running on {folder} (start it with `envtrace demo`)", err=True)
        raise typer.Exit(1)
    inbox = inject_folder(folder)
    inbox.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}"
    request = {"pattern": pattern, "station": station, "duration": duration, "params": param or []}
    tmp = inbox / f"{name}.part"
    tmp.write_text(json.dumps(request), encoding="utf-8")
    tmp.replace(inbox / f"{name}.json")
    end = time.monotonic() + wait
    while time.monotonic() < end:
        done, error = inbox / f"{name}.done", inbox / f"{name}.error"
        if (inbox / f"{name}.queued").exists():
            typer.echo(
                "queued: the demo is still preparing its history and baselines; it injects the pattern "
                "as soon as it goes live (watch its terminal)"
            )
            return
        if error.exists():
            typer.echo(f"error: {error.read_text(encoding='utf-8')}", err=True)
            raise typer.Exit(1)
        if done.exists():
            answer = json.loads(done.read_text(encoding="utf-8"))
            typer.echo(f"injected {answer['spec']}")
            typer.echo(f"station {answer['mn']} {answer['name']} ({answer['kind']})")
            typer.echo(
                "the alarm opens once the roll-up has judged the hours that reveal the pattern and live "
                "detection has fed them: about an hour of data time for a per-hour pattern "
                "(diluent_tamper, forged_correction), longer for one seen over a run or a window "
                "(frozen_value: a run too long to be chance, hours; level_shift, sampler_interference: "
                f"days). Watch the demo's terminal, the console's alarm inbox and {folder / 'mail'}/"
            )
            return
        time.sleep(0.5)
    typer.echo("error: the demo did not take the request (is it still backfilling or stopped?)", err=True)
    raise typer.Exit(1)
