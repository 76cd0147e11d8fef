"""A live gateway (in a thread, real sockets, a real database) and a small blocking station client."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import pytest
from sqlalchemy import Engine

from envtrace.hj212.crc import hj212_crc
from envtrace.ingest import Gateway, GatewayConfig, prepare_database
from envtrace.store import connect, register_station, write_transaction
from envtrace.store.ledger_log import forget_cache

MN = "010000A8900016F000169DC0"
PW = "123456"


def frame(segment: str, *, crc: int | None = None, length: int | None = None) -> bytes:
    """An HJ 212 frame around ``segment`` (correct length and CRC unless given)."""
    data = segment.encode("utf-8")
    n = len(data) if length is None else length
    c = hj212_crc(data) if crc is None else crc
    return b"##%04d%s%04X\r\n" % (n, data, c)


def upload(
    qn: str,
    data_time: str = "20260801085857",
    *,
    mn: str = MN,
    pw: str = PW,
    cn: str = "2011",
    flag: int = 5,
    st: str = "31",
    cp: str | None = None,
    extra: str = "",
) -> bytes:
    body = (
        cp
        if cp is not None
        else "a21026-Rtd=12.5,a21026-Flag=N;a21002-Rtd=40.1,a21002-ZsRtd=44.2,a21002-Flag=N"
    )
    return frame(
        f"QN={qn};ST={st};CN={cn};PW={pw};MN={mn};Flag={flag};{extra}CP=&&DataTime={data_time};{body}&&"
    )


@dataclass
class Client:
    """A blocking station: send bytes, read answers (one frame per line)."""

    port: int
    sock: socket.socket = field(init=False)
    buf: bytes = b""

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answers(self, count: int, timeout: float = 10.0) -> list[str]:
        out: list[str] = []
        end = time.monotonic() + timeout
        while len(out) < count:
            while b"\r\n" in self.buf and len(out) < count:
                line, self.buf = self.buf.split(b"\r\n", 1)
                out.append(line.decode())
            if len(out) >= count:
                break
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"got {len(out)} of {count} answers: {out}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed after {len(out)} answers: {out}")
            self.buf += chunk
        return out

    def nothing_for(self, seconds: float) -> bool:
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return True
        self.buf += chunk
        return not chunk

    def close(self) -> None:
        self.sock.close()


@dataclass
class LiveGateway:
    gateway: Gateway
    engine: Engine
    port: int
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    errors: list[BaseException]
    clients: list[Client] = field(default_factory=list)

    def client(self) -> Client:
        c = Client(self.port)
        self.clients.append(c)
        return c

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.gateway.stop)
            self.thread.join(30)

    def wait_idle(self, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while self.gateway.pending and time.monotonic() < end:
            time.sleep(0.01)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]


def start_gateway(db_url: str, config: GatewayConfig) -> LiveGateway:
    forget_cache()
    engine = connect(db_url, sqlite_synchronous="NORMAL")
    prepare_database(engine)
    gateway = Gateway(engine, config)
    errors: list[BaseException] = []
    ready = threading.Event()
    holder: dict[str, asyncio.AbstractEventLoop] = {}

    def run() -> None:
        async def main() -> None:
            holder["loop"] = asyncio.get_running_loop()
            waiter = asyncio.ensure_future(gateway.ready.wait())
            waiter.add_done_callback(lambda _: ready.set())
            await gateway.run()

        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not ready.wait(30) or errors:
        raise RuntimeError(f"gateway did not start: {errors}")
    assert gateway.port is not None
    return LiveGateway(gateway, engine, gateway.port, thread, holder["loop"], errors)


@pytest.fixture
def make_gateway(db_url: str) -> Iterator[Callable[..., LiveGateway]]:
    started: list[LiveGateway] = []

    def make(register: bool = True, **overrides: object) -> LiveGateway:
        config = replace(GatewayConfig(port=0, idle_timeout_s=30), **overrides)  # type: ignore[arg-type]
        live = start_gateway(db_url, config)
        if register:
            with write_transaction(live.engine) as conn:
                register_station(conn, mn=MN, pw=PW, kind="flue_gas", st="31")
            live.gateway.directory.load()
        started.append(live)
        return live

    yield make
    for live in started:
        for c in live.clients:
            c.close()
        live.stop()
        live.engine.dispose()
    forget_cache()
