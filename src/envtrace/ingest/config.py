"""The gateway's settings as one frozen value (the CLI builds it from ``envtrace.config.Settings``)."""

from __future__ import annotations

from dataclasses import dataclass

from envtrace.ingest.errors import BadGatewayConfig

UNKNOWN_STATION_POLICIES = ("enrol", "refuse")
STORAGE_MODES = ("process", "thread")
CIPHER_FORMS = ("raw", "text")
PLAINTEXT_POLICIES = ("accept", "quarantine")


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
    # --- HJ 212-2025 (docs/gateway.md "HJ 212-2025", docs/keys.md) ---
    state_dir: str | None = None  # the station-key master key's folder; None: beside the database
    key_overlap_s: float = 86_400.0  # both keys are tried this long after a station takes a new one
    key_rotation_days: float = 90.0  # §6.4.3: a key older than this is replaced
    key_auto_rotate: bool = True  # the gateway delivers due keys itself (stations normally ask first)
    key_check_interval_s: float = 60.0  # retire keys past their overlap; look for due rotations
    key_delivery_form: str = "raw"  # SM4 wire form of a 1014 delivery before the station used one
    encrypted_plaintext: str = "accept"  # a clear CP from an encrypted station: accept (noted) or quarantine
    command_poll_s: float = 2.0  # how often queued station commands are looked for
    command_timeout_s: float = 300.0  # a command unanswered this long after sending expires
    identity_refresh_s: float = 3_600.0  # the same 1001 identity moves last_seen at most this often

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
        if self.key_delivery_form not in CIPHER_FORMS:
            raise BadGatewayConfig("key_delivery_form", self.key_delivery_form, "must be raw or text")
        if self.encrypted_plaintext not in PLAINTEXT_POLICIES:
            raise BadGatewayConfig(
                "encrypted_plaintext", self.encrypted_plaintext, "must be accept or quarantine"
            )
        if self.key_overlap_s < 0 or self.key_rotation_days <= 0:
            raise BadGatewayConfig("key_overlap_s", self.key_overlap_s, "overlap >= 0 and rotation > 0 days")
        if not 0 < self.queue_low < self.queue_high:
            raise BadGatewayConfig(
                "queue_low", self.queue_low, f"must be in (0, queue_high={self.queue_high})"
            )
