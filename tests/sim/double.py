"""A test double of the platform: an asyncio HJ 212 server that answers like a gateway would.

It is the simulator's external boundary, so a double is what the simulator's own tests need (the
real gateway's end-to-end tests live with the gateway). It frames with the codec, decodes with each
station's key, records every frame, answers uploads with 9014 and notices with 9013, and can be told
to withhold answers, to drop connections and to send requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from envtrace.hj212 import Decoded, Frame, Framer, Garbage, data_answer, decode, notice_answer

Policy = Callable[["Received"], bool]


@dataclass(frozen=True, slots=True)
class Received:
    mn: str
    raw: bytes
    decoded: Decoded
    at: float

    @property
    def cn(self) -> str:
        return (self.decoded.header or {}).get("CN", "")

    @property
    def qn(self) -> str:
        return (self.decoded.header or {}).get("QN", "")


@dataclass
class Platform:
    keys: dict[str, bytes] = field(default_factory=dict)
    answer: Policy = lambda r: True
    """Whether to answer a frame that asks for an answer (withhold to test resending)."""
    frames: list[Received] = field(default_factory=list)
    garbage: list[bytes] = field(default_factory=list)
    connections: int = 0
    writers: dict[str, asyncio.StreamWriter] = field(default_factory=dict)
    on_frame: Callable[[Received, asyncio.StreamWriter], None] | None = None
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> Platform:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self.writers.values()):
                w.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    def drop_all(self) -> None:
        """Close every station's connection (the stations must reconnect)."""
        for w in list(self.writers.values()):
            w.close()
        self.writers.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        framer = Framer()
        mn = ""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                for ev in framer.feed(chunk):
                    if isinstance(ev, Garbage):
                        self.garbage.append(ev.raw)
                        continue
                    assert isinstance(ev, Frame)
                    mn = self._handle(ev.raw, writer) or mn
        except (ConnectionError, OSError):
            pass
        finally:
            if mn and self.writers.get(mn) is writer:
                del self.writers[mn]
            writer.close()

    def _handle(self, raw: bytes, writer: asyncio.StreamWriter) -> str:
        mn = (decode(raw, strict=False).header or {}).get("MN", "")
        d = decode(raw, key=self.keys.get(mn))
        rec = Received(mn, raw, d, asyncio.get_running_loop().time())
        self.frames.append(rec)
        if mn:
            self.writers[mn] = writer
        if self.on_frame is not None:
            self.on_frame(rec, writer)
        pkt = d.packet
        if d.ok and pkt is not None and pkt.ack_required and self.answer(rec):
            cn = int(pkt.cn)
            if cn in (9015, 1014, 1001, 2012, 2022):
                writer.write(notice_answer(pkt))
            elif 2000 <= cn <= 2999:
                writer.write(data_answer(pkt))
        return mn

    def of(self, cn: str, mn: str | None = None) -> list[Received]:
        return [r for r in self.frames if r.cn == cn and (mn is None or r.mn == mn)]
