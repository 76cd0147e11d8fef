"""One station connection at the ``asyncio.Protocol`` level: bytes in, frames out, answers back.

Resources
    Per connection: a ``Framer`` (the codec's stream buffer), the peer address, the time of the
    last byte (for the idle sweep) and, while the first frame of an MN/PW pair waits for its
    password check, the frames held back to keep their order.

Errors
    Nothing a station sends can raise here: unframable bytes become quarantined ``Garbage``, and
    a connection that drops mid-frame leaves its incomplete bytes stored the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, cast

from envtrace.ingest import wire

if TYPE_CHECKING:
    from envtrace.ingest.gateway import Gateway

Held = tuple[bytes, int, str | None]


class StationConnection(asyncio.Protocol):
    """A persistent TCP connection from one data logger (or anything else that connects)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.transport: asyncio.Transport | None = None
        self.framer = wire.new_framer()
        self.peer = "?"
        self.opened_us = time.time_ns() // 1000
        self.last_rx = 0.0
        self.station_id: int | None = None
        self.pw = ""  # the PW the station last authenticated with (HJ 212 requests carry it)
        self.held: deque[Held] | None = None
        self.closed = False
        self.paused = False
        self.bytes_in = 0

    # ---------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        self.last_rx = self.gateway.loop_time()
        self.gateway.opened(self)

    def data_received(self, data: bytes) -> None:
        self.last_rx = self.gateway.loop_time()
        self.bytes_in += len(data)
        now_us = time.time_ns() // 1000
        on_piece = self.gateway.on_piece
        for raw, garbage_reason in wire.feed(self.framer, data):
            on_piece(self, raw, now_us, garbage_reason)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.flush()
        self.gateway.closed(self)

    def flush(self) -> None:
        """Release what the framer holds (end of stream, or a pause after a frame without CR LF)."""
        now_us = time.time_ns() // 1000
        for raw, garbage_reason in wire.flush(self.framer):
            self.gateway.on_piece(self, raw, now_us, garbage_reason)

    # ---------------------------------------------------------------- gateway side

    def send(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def pause(self) -> None:
        if not self.paused and not self.closed and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and not self.closed and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if not self.closed and self.transport is not None:
            self.transport.abort()
