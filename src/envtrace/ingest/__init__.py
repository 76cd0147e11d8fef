"""envtrace.ingest: the HJ 212 gateway (direct transmission from stations to the platform).

Modules: ``config`` (GatewayConfig) · ``wire`` (the seam to the codec: framing, decoding, answers) ·
``values`` (readings from a packet) · ``directory`` (stations and password checks in memory) ·
``work`` (what the loop hands the writer) · ``writer`` (group commit, then answers) · ``session``
(one connection) · ``history`` (requests for missed data) · ``gateway`` (the whole) · ``startup``.
"""

from envtrace.ingest.config import UNKNOWN_STATION_POLICIES, GatewayConfig
from envtrace.ingest.errors import BadGatewayConfig, IngestError, WriterStopped
from envtrace.ingest.gateway import Counters, Gateway
from envtrace.ingest.startup import prepare_database

__all__ = [
    "UNKNOWN_STATION_POLICIES",
    "BadGatewayConfig",
    "Counters",
    "Gateway",
    "GatewayConfig",
    "IngestError",
    "WriterStopped",
    "prepare_database",
]
