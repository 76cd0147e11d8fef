"""A simulation run: many data loggers on one asyncio loop, and the clock that drives them.

One *collector* task samples every logger on its real-time grid (a heap of due times, so thousands
of stations cost one timer), and hands the uploads to each station's :class:`~envtrace.sim.link.Link`,
which owns the station's connection. Tasks per station: one while disconnected, three while
connected (link, reader, pump). No threads.

Python API (what the demo, the gateway's tests and the benchmarks call)::

    stations = build_stations(50, seed=7)
    summary = await run_stations(SimConfig(host="127.0.0.1", port=port, stations=stations, duration=30))
    print(summary.line())

    sim = Simulation(SimConfig(host=..., port=..., stations=..., speed=60.0))
    task = asyncio.create_task(sim.run())
    ...                      # watch sim.counters, sim.links
    sim.stop()               # collection ends, outstanding answers are awaited up to `drain` s
    summary = await task

Resources and errors: ``run`` returns when every station has delivered what it collected or the
drain time is over; connection errors are handled per station (reconnect with backoff); programming
errors propagate out of the TaskGroup.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from dataclasses import dataclass

from envtrace.sim.faults import Injector
from envtrace.sim.link import Link
from envtrace.sim.logger import DataLogger
from envtrace.sim.noise import Stream
from envtrace.sim.province import Province
from envtrace.sim.runtime import Counters, Runtime, SimClock, SimConfig

__all__ = ["Simulation", "Summary", "default_start", "run_stations"]

SUMMARY_HEAD = ("sent", "acked", "resent", "failed", "unacked", "connections", "reconnects")


@dataclass(frozen=True, slots=True)
class Summary:
    """Totals of a finished run."""

    counters: dict[str, int]
    stations: int
    elapsed: float
    sim_start: float
    sim_end: float

    def line(self) -> str:
        """One line of ``key=value`` pairs; the headline counts first."""
        c = self.counters
        rest = [k for k in c if k not in SUMMARY_HEAD]
        pairs = [f"{k}={c[k]}" for k in (*SUMMARY_HEAD, *rest)]
        pairs += [
            f"stations={self.stations}",
            f"elapsed_s={self.elapsed:.1f}",
            f"simulated_h={(self.sim_end - self.sim_start) / 3600.0:.2f}",
        ]
        return " ".join(pairs)


def default_start(now: float, speed: float, duration: float | None) -> float:
    """Simulated start: now, or early enough that a fast run ends at the real present."""
    if speed > 1.0 and duration is not None:
        return now - duration * (speed - 1.0)
    return now


class Simulation:
    """Stations of one run, their links and the collector."""

    def __init__(self, config: SimConfig) -> None:
        if config.realtime_interval < 1.0:
            raise ValueError(f"realtime interval {config.realtime_interval} s: DataTime has 1 s resolution")
        self.config = config
        self.province = Province(config.stations, seed=config.seed)
        self.start = (
            config.start
            if config.start is not None
            else default_start(time.time(), config.speed, config.duration)
        )
        self.loggers: list[DataLogger] = []
        for st in config.stations:
            injector = Injector(st, self.province, config.injections)
            self.loggers.append(
                DataLogger(
                    st,
                    self.province.models[st.mn],
                    injector,
                    realtime_interval=config.realtime_interval,
                    min_interval_min=config.min_interval,
                    sim_start=self.start,
                    status=config.status,
                    history_days=config.history_days,
                )
            )
        self.links: list[Link] = []
        self._rt: Runtime | None = None
        self.sim_end = self.start

    @property
    def counters(self) -> Counters:
        return self._rt.counters if self._rt is not None else Counters()

    def stop(self) -> None:
        """End collection now; stations then deliver what they hold, for at most ``drain`` s."""
        rt = self._rt
        if rt is None or rt.stopping:
            return
        rt.stopping = True
        rt.drain_until = asyncio.get_running_loop().time() + self.config.drain
        rt.stop_event.set()
        for link in self.links:
            link.wake.set()

    async def run(self) -> Summary:
        cfg = self.config
        loop = asyncio.get_running_loop()
        wall0 = loop.time()
        t0 = time.monotonic()
        rt = self._rt = Runtime(cfg, SimClock(self.start, cfg.speed, wall0))
        self.links = [Link(lg, rt) for lg in self.loggers]
        ramp = Stream("ramp", cfg.seed)
        async with asyncio.TaskGroup() as tg:
            for i, link in enumerate(self.links):
                tg.create_task(link.run(ramp.uniform(i) * cfg.ramp))
            tg.create_task(self._collect(rt))
            if cfg.duration is not None:
                tg.create_task(self._timer(cfg.duration))
        c = rt.counters
        c.unacked = sum(link.outstanding_frames() for link in self.links)
        c.samples = sum(lg.samples for lg in self.loggers)
        c.deleted_samples = sum(lg.deleted for lg in self.loggers)
        return Summary(c.as_dict(), len(self.loggers), time.monotonic() - t0, self.start, self.sim_end)

    async def _timer(self, duration: float) -> None:
        rt = self._rt
        if rt is not None:
            await rt.pause(duration)
        self.stop()

    async def _collect(self, rt: Runtime) -> None:
        """Sample every logger on its real-time grid, in wall-clock order of the due times."""
        loop = asyncio.get_running_loop()
        clock, cfg = rt.clock, rt.config
        jitter = Stream("send-jitter", cfg.seed)
        spread = min(1.0, 0.5 * cfg.realtime_interval / cfg.speed)
        heap: list[tuple[float, int, float]] = []
        for i in range(len(self.loggers)):
            heap.append((clock.wall(self.start) + jitter.uniform(i) * spread, i, self.start))
        heapq.heapify(heap)
        end_sim = math.inf if cfg.duration is None else clock.sim(clock.wall0 + cfg.duration)
        batch = 0
        while heap and not rt.stopping:
            due, i, t = heap[0]
            now = loop.time()
            if due > now:
                batch = 0
                await rt.pause(due - now)
                continue
            heapq.heappop(heap)
            if t > end_sim:
                continue
            logger = self.loggers[i]
            self.links[i].enqueue(logger.collect(t))
            self.sim_end = max(self.sim_end, t)
            nxt = logger.next_sample_time(t)
            heapq.heappush(heap, (clock.wall(nxt) + jitter.uniform(i) * spread, i, nxt))
            batch += 1
            if batch >= 200:  # let the network breathe when many stations fall due together
                batch = 0
                await asyncio.sleep(0)


async def run_stations(config: SimConfig) -> Summary:
    """Run the stations of ``config`` until its duration is over (or forever without one)."""
    return await Simulation(config).run()
