"""``envtrace simulate``: HJ 212 data loggers over TCP against a platform (``--to HOST:PORT``).

The stations are generated deterministically from ``--seed`` (or read from ``--registry``); each
keeps a persistent connection, uploads real-time, minute, hour and day data, resends what is not
acknowledged, answers the platform's requests, and can carry protocol faults (``--faults``) and
falsification patterns (``--inject``). The last line on stdout is the summary (``key=value``).
Models, options and patterns: ``docs/simulator.md``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from envtrace.sim import SimConfig

INJECT_HELP = (
    "PATTERN[:STATION[:START[:DURATION]]][@KEY=VALUE,...]: a falsification pattern on one station "
    "(index or MN; default the first station it applies to), from START (+2h, or ISO time; default "
    "the start) for DURATION (6h, 3d; default to the end). Repeatable. Patterns: dilution_after_o2, "
    "diluent_tamper, forged_correction, frozen_value, ceiling_clip, slope_tamper, selective_deletion, "
    "sampler_interference, copied_series, threshold_shaving, level_shift."
)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to the ``envtrace`` application."""
    app.command("simulate")(simulate)


def simulate(
    to: Annotated[str | None, typer.Option("--to", help="HOST:PORT of the platform's HJ 212 gateway")] = None,
    stations: Annotated[
        int | None, typer.Option(help="Number of stations (default 10, or all in --registry)")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Wall seconds of data collection (default: until Ctrl-C or SIGTERM)")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(help="Real-time uploads per wall second per station (sets --speed, or the interval)"),
    ] = None,
    edition: Annotated[str, typer.Option(help="HJ 212 edition of the loggers: 2017, 2025 or mixed")] = "2017",
    encrypt: Annotated[
        bool, typer.Option("--encrypt", help="SM4-encrypt the uploads of 2025 stations")
    ] = False,
    kinds: Annotated[str, typer.Option(help="Station kinds, taken in turn")] = "flue_gas,water,ambient",
    seed: Annotated[int, typer.Option(help="Seed: same seed, same stations, same data")] = 1,
    inject: Annotated[list[str] | None, typer.Option(help=INJECT_HELP)] = None,
    faults: Annotated[
        float, typer.Option(help="Probability that a data frame carries a protocol fault")
    ] = 0.0,
    fault_kinds: Annotated[
        str, typer.Option(help="Protocol faults to draw from")
    ] = "crc,modbus_crc,length,syntax,garbage,split,concat",
    realtime_interval: Annotated[
        float, typer.Option(help="Simulated seconds between real-time samples (RtdInterval)")
    ] = 30.0,
    min_interval: Annotated[int, typer.Option(help="Minute-data period, minutes (MinInterval)")] = 10,
    start: Annotated[
        str | None, typer.Option(help="Simulated start, ISO 8601 (local UTC+8 without offset); default now")
    ] = None,
    speed: Annotated[float | None, typer.Option(help="Simulated seconds per wall second")] = None,
    registry_out: Annotated[
        Path | None, typer.Option(help="Write the stations used (mn,pw,kind,st,edition,encrypted,key,...)")
    ] = None,
    registry: Annotated[
        Path | None, typer.Option(help="Simulate the stations of this registry CSV (needs mn,pw columns)")
    ] = None,
    ack_timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer before resending")] = 10.0,
    retries: Annotated[int, typer.Option(help="Resends before an upload goes to the backlog")] = 3,
    heartbeat: Annotated[float, typer.Option(help="Seconds between 9015 heartbeats (2025; 0 = none)")] = 60.0,
    window: Annotated[int, typer.Option(help="Unanswered uploads in flight per connection")] = 64,
    wire: Annotated[str, typer.Option(help="SM4 cipher on the wire: raw bytes or {0xNN,...} text")] = "raw",
    backlog_rate: Annotated[float, typer.Option(help="Backlog frames per second per station")] = 20.0,
    drain: Annotated[float, typer.Option(help="Seconds to wait for answers after the run")] = 5.0,
    ramp: Annotated[float, typer.Option(help="Seconds over which first connections are spread")] = 0.0,
    key_lifetime_days: Annotated[float, typer.Option(help="SM4 key lifetime, simulated days")] = 90.0,
    key_renew_days: Annotated[float, typer.Option(help="Ask for a new key this many days before")] = 7.0,
    progress: Annotated[
        float, typer.Option(help="Seconds between progress lines on stderr (0 = off)")
    ] = 10.0,
) -> None:
    """Simulate HJ 212 data loggers (flue-gas CEMS, wastewater, ambient air) over TCP."""
    from envtrace.sim import (
        FAULT_KINDS,
        InjectionError,
        SimConfig,
        TimeSpecError,
        build_stations,
        default_start,
        parse_injection,
        parse_instant,
        write_registry,
    )
    from envtrace.sim.province import read_registry

    kind_list = tuple(k.strip() for k in kinds.split(",") if k.strip())
    chosen_faults = tuple(k.strip() for k in fault_kinds.split(",") if k.strip())
    bad = [k for k in chosen_faults if k not in FAULT_KINDS]
    if bad:
        raise typer.BadParameter(f"unknown fault kind(s) {bad}; known: {', '.join(FAULT_KINDS)}")
    if not 0.0 <= faults <= 1.0:
        raise typer.BadParameter(f"--faults is a probability in [0, 1], not {faults}")
    if wire not in ("raw", "text"):
        raise typer.BadParameter(f"--wire is raw or text, not {wire!r}")
    try:
        if registry is not None:
            station_list = read_registry(registry, seed=seed, limit=stations)
        else:
            station_list = build_stations(
                10 if stations is None else stations,
                seed=seed,
                kinds=kind_list,
                edition=edition,
                encrypt=encrypt,
            )
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    if registry_out is not None:
        write_registry(registry_out, station_list)
    if duration is not None and duration <= 0:
        typer.echo(f"stations={len(station_list)} (registry only, nothing sent)")
        return
    if to is None:
        raise typer.BadParameter("--to HOST:PORT is required to send anything", param_hint="--to")
    host, _, port_text = to.rpartition(":")
    if not host or not port_text.isdigit():
        raise typer.BadParameter(f"--to {to!r} is not HOST:PORT", param_hint="--to")
    interval, sim_speed = realtime_interval, speed
    if rate is not None:
        if rate <= 0:
            raise typer.BadParameter(f"--rate must be positive, not {rate}")
        if speed is None:
            sim_speed = rate * realtime_interval
        else:
            interval = speed / rate
    sim_speed = 1.0 if sim_speed is None else sim_speed
    if interval < 1.0 or sim_speed <= 0:
        raise typer.BadParameter(
            f"the real-time interval would be {interval:g} simulated s and the speed {sim_speed:g}: "
            "DataTime has 1 s resolution, so raise --speed or lower --rate"
        )
    import time

    now = time.time()
    try:
        origin = parse_instant(start, origin=now) if start else default_start(now, sim_speed, duration)
        end = math.inf if duration is None else origin + duration * sim_speed
        injections = [parse_injection(spec, station_list, origin=origin, end=end) for spec in inject or ()]
    except (InjectionError, TimeSpecError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    config = SimConfig(
        host=host,
        port=int(port_text),
        stations=station_list,
        seed=seed,
        duration=duration,
        start=origin,
        speed=sim_speed,
        realtime_interval=interval,
        min_interval=min_interval,
        ack_timeout=ack_timeout,
        retries=retries,
        heartbeat=heartbeat,
        window=window,
        faults=faults,
        fault_kinds=chosen_faults,
        injections=injections,
        cipher_form="text" if wire == "text" else "raw",
        backlog_rate=backlog_rate,
        drain=drain,
        ramp=ramp,
        key_lifetime_days=key_lifetime_days,
        key_renew_days=key_renew_days,
    )
    _raise_file_limit()
    summary = _run(config, progress)
    typer.echo(summary)


def _run(config: SimConfig, progress: float) -> str:
    import asyncio
    import signal
    import sys

    from envtrace.sim import Simulation

    sim = Simulation(config)

    async def main() -> str:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, sim.stop)
        task = asyncio.ensure_future(sim.run())
        while not task.done():
            await asyncio.wait([task], timeout=progress if progress > 0 else None)
            if not task.done():
                c = sim.counters
                print(
                    f"simulate: sent={c.sent} acked={c.acked} resent={c.resent} "
                    f"connections={c.connections} reconnects={c.reconnects} backlog_peak={c.backlog_peak}",
                    file=sys.stderr,
                    flush=True,
                )
        return task.result().line()

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def _raise_file_limit() -> None:
    """Thousands of stations need thousands of descriptors: lift the soft limit to the hard one."""
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover - platform dependent
        pass
