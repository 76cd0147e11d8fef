"""What every station of a run shares: its settings, the simulated clock, the counters.

Two clocks: **wall time** (the event loop's monotonic clock) paces the network (answer timeouts,
heartbeats, backoff), **simulated time** (Unix seconds) stamps the data. With ``speed`` X, one wall
second is X simulated seconds, so hours of data take seconds of wall time (``--speed``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Literal

from envtrace.sim.corruption import FAULT_KINDS
from envtrace.sim.faults import Injection
from envtrace.sim.province import StationConfig

__all__ = ["Counters", "Runtime", "SimClock", "SimConfig", "WriteHook"]

WriteHook = Callable[[str, bytes, str | None], None]
"""Called with (MN, bytes written, fault kind or None) for every write a station makes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """Settings of one simulation run (the ``envtrace simulate`` options, in-process)."""

    host: str
    port: int
    stations: Sequence[StationConfig]
    seed: int = 1
    duration: float | None = None
    """Wall seconds of data collection; ``None`` runs until ``Simulation.stop()``."""
    start: float | None = None
    """Simulated time of the first sample (Unix s). Default: now; with ``speed`` > 1 and a duration,
    ``now - duration * (speed - 1)``, so that the simulated span ends at the real present."""
    speed: float = 1.0
    realtime_interval: float = 30.0
    """Simulated seconds between real-time samples (HJ 212 RtdInterval)."""
    min_interval: int = 10
    """Minute-data period in minutes (HJ 212 MinInterval)."""
    ack_timeout: float = 10.0
    """Wall seconds to wait for an answer before resending (HJ 212-2017 table 1: 10 s)."""
    retries: int = 3
    """Resends after the first attempt (HJ 212-2017 table 1: 3)."""
    heartbeat: float = 60.0
    """Wall seconds between 9015 heartbeats of HJ 212-2025 stations (0: none)."""
    window: int = 64
    """Uploads in flight (unanswered) per connection."""
    faults: float = 0.0
    """Probability that a data frame is written with a protocol fault."""
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    injections: Sequence[Injection] = ()
    cipher_form: Literal["raw", "text"] = "raw"
    connect_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    ramp: float = 0.0
    """Wall seconds over which the stations' first connections are spread."""
    backlog_limit: int = 20000
    """Uploads a station keeps while it cannot deliver them; the oldest are dropped beyond."""
    backlog_rate: float = 20.0
    """Backlog frames per wall second per station, sent only when no new data waits."""
    backlog_retry_max: float = 300.0
    """Longest wait (wall s) before an unanswered backlog upload is tried again (it doubles from
    ``ack_timeout``)."""
    drain: float = 5.0
    """Wall seconds to wait for outstanding answers after the run stops."""
    key_lifetime_days: float = 90.0
    key_renew_days: float = 7.0
    """Ask for a new key (CN 1014) this many simulated days before the current one expires."""
    key_retry: float = 60.0
    key_overlap: float = 300.0
    """Wall seconds an old key still decrypts the centre's frames after a new one is adopted."""
    status: bool = True
    """Send 2021 equipment status with each minute period (flue gas and wastewater)."""
    history_days: float = 1.0
    on_write: WriteHook | None = None


@dataclass(slots=True)
class Counters:
    """Run totals. Frames are counted per frame (a split upload counts each sub-packet)."""

    sent: int = 0
    """Data frames written (first attempts, resends and backlog)."""
    acked: int = 0
    resent: int = 0
    """Data frames written again: after an answer timeout, or from the backlog (RF=1 in 2025)."""
    failed: int = 0
    """Data frames given up: refused by the centre, or dropped from a full backlog."""
    unacked: int = 0
    """Data frames still unanswered (in flight or in the backlog) when the run ended."""
    connections: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    refused: int = 0
    faults: int = 0
    samples: int = 0
    deleted_samples: int = 0
    heartbeats: int = 0
    notices_unanswered: int = 0
    requests: int = 0
    answers: int = 0
    key_requests: int = 0
    keys_adopted: int = 0
    bad_replies: int = 0
    late_answers: int = 0
    backlog_peak: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class SimClock:
    """Simulated time as a linear function of the loop's clock."""

    __slots__ = ("speed", "start", "wall0")

    def __init__(self, start: float, speed: float, wall0: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.start = start
        self.speed = speed
        self.wall0 = wall0

    def sim(self, wall: float) -> float:
        return self.start + (wall - self.wall0) * self.speed

    def wall(self, sim: float) -> float:
        return self.wall0 + (sim - self.start) / self.speed


@dataclass(slots=True)
class Runtime:
    """Shared state of a running simulation (one event loop)."""

    config: SimConfig
    clock: SimClock
    counters: Counters = field(default_factory=Counters)
    stopping: bool = False
    drain_until: float = 0.0
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)

    def now(self) -> float:
        """Simulated time now."""
        return self.clock.sim(asyncio.get_running_loop().time())

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` of wall time; once the run stops, no later than the end of the drain."""
        if self.stopping:
            left = self.drain_until - asyncio.get_running_loop().time()
            if min(seconds, left) > 0:
                await asyncio.sleep(min(seconds, left))
            return
        if seconds <= 0:
            return
        try:
            async with asyncio.timeout(seconds):
                await self.stop_event.wait()
        except TimeoutError:
            pass
