"""envtrace.sim: the station simulator, real HJ 212 data loggers over TCP.

Layers, leaf first: ``noise``, ``schedule``, ``physics`` -> ``flue_gas``, ``wastewater``,
``ambient`` (pure models) -> ``province`` (which stations exist) -> ``faults`` (falsification
patterns), ``aggregate`` (period data), ``corruption`` (protocol faults) -> ``logger`` (one logger
without its network) -> ``runtime``, ``outbox``, ``requests`` -> ``link`` (its TCP connection) ->
``run`` (many stations on one loop). The simulator talks to the platform over TCP only, like a
real station; it uses the codec in ``envtrace.hj212`` for every frame. See ``docs/simulator.md``.
"""

from envtrace.sim.aggregate import PeriodAggregator, PeriodRecord, PeriodValue
from envtrace.sim.ambient import AmbientModel, AmbientRegion, AmbientSpec
from envtrace.sim.corruption import ACCEPTED_FAULTS, FAULT_KINDS, REJECTED_FAULTS, corrupt, expected_error
from envtrace.sim.faults import PATTERNS, Injection, InjectionError, Injector, parse_injection
from envtrace.sim.flue_gas import FlueGasModel, FlueGasSpec
from envtrace.sim.logger import DataLogger, Upload
from envtrace.sim.physics import FACTORS, Sample, co2_from_o2, corrected
from envtrace.sim.province import (
    KINDS,
    REGISTRY_COLUMNS,
    Province,
    StationConfig,
    build_stations,
    read_registry,
    stations_from_rows,
    write_registry,
)
from envtrace.sim.run import Simulation, Summary, default_start, run_stations
from envtrace.sim.runtime import Counters, SimConfig
from envtrace.sim.timespec import TimeSpecError, parse_duration, parse_instant
from envtrace.sim.wastewater import WastewaterModel, WastewaterSpec

__all__ = [
    "ACCEPTED_FAULTS",
    "FACTORS",
    "FAULT_KINDS",
    "KINDS",
    "PATTERNS",
    "REGISTRY_COLUMNS",
    "REJECTED_FAULTS",
    "AmbientModel",
    "AmbientRegion",
    "AmbientSpec",
    "Counters",
    "DataLogger",
    "FlueGasModel",
    "FlueGasSpec",
    "Injection",
    "InjectionError",
    "Injector",
    "PeriodAggregator",
    "PeriodRecord",
    "PeriodValue",
    "Province",
    "Sample",
    "SimConfig",
    "Simulation",
    "StationConfig",
    "Summary",
    "TimeSpecError",
    "Upload",
    "WastewaterModel",
    "WastewaterSpec",
    "build_stations",
    "co2_from_o2",
    "corrected",
    "corrupt",
    "default_start",
    "expected_error",
    "parse_duration",
    "parse_injection",
    "parse_instant",
    "read_registry",
    "run_stations",
    "stations_from_rows",
    "write_registry",
]
