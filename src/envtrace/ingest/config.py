"""The gateway's settings as one frozen value (the CLI builds it from ``envtrace.config.Settings``)."""

from __future__ import annotations

from dataclasses import dataclass

from envtrace.ingest.errors import BadGatewayConfig

UNKNOWN_STATION_POLICIES = ("enrol", "refuse")
STORAGE_MODES = ("process", "thread")


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Every knob of the gateway; README.md "Configuration" documents each one."""

    host: str = "127.0.0.1"
    port: int = 8212
    unknown_stations: str = "enrol"
    tolerant: bool = False
    idle_timeout_s: float = 600.0
    batch_max: int = 4000
    queue_high: int = 50_000
    queue_low: int = 10_000
    history_requests: bool = True
    history_timeout_s: float = 120.0
    seal: bool = True
    state_interval_s: float = 1.0
    refresh_interval_s: float = 30.0
    auth_workers: int = 2
    storage: str = "process"  # group commit in a child process (its own core), or "thread"

    def __post_init__(self) -> None:
        if self.unknown_stations not in UNKNOWN_STATION_POLICIES:
            raise BadGatewayConfig("unknown_stations", self.unknown_stations, "must be enrol or refuse")
        if not 0 <= self.port <= 65535:
            raise BadGatewayConfig("gateway_port", self.port, "not a TCP port")
        if self.idle_timeout_s <= 0:
            raise BadGatewayConfig("idle_timeout_s", self.idle_timeout_s, "must be positive")
        if self.storage not in STORAGE_MODES:
            raise BadGatewayConfig("storage", self.storage, "must be process or thread")
        if self.batch_max < 1:
            raise BadGatewayConfig("batch_max", self.batch_max, "must be at least 1")
        if not 0 < self.queue_low < self.queue_high:
            raise BadGatewayConfig(
                "queue_low", self.queue_low, f"must be in (0, queue_high={self.queue_high})"
            )
