"""An HJ 212-2025 station for the gateway tests: SM4 keys, frames framed on bytes, key deliveries.

``Station2025`` is a blocking TCP client built on the codec (``envtrace.hj212``): it sends
encrypted uploads in the raw or ``{0x..}`` text form, reads the gateway's frames with the codec's
``Framer`` (a key delivery in the raw form may hold CR LF inside its cipher), decodes each with the
keys it knows, and on a CN 1014 key delivery answers 9011 / 9012 and adopts the new key, as a real
data logger would. ``register_encrypted`` puts a 2025 station and its key in the registry and the
key store of a live gateway.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from tests.ingest.conftest import LiveGateway

from envtrace.hj212 import Decoded, Framer, Garbage, decode, exe_answer, qn_answer
from envtrace.hj212 import Station as Peer
from envtrace.hj212.commands import data_upload, heartbeat, logger_identity, request_key
from envtrace.store import register_station, write_transaction
from envtrace.store.station_keys import KeyVault, register_key

Form = Literal["raw", "text"]
FLUE = {
    "a21026": {"Rtd": "12.5", "Flag": "N"},
    "a21002": {"Rtd": "40.1", "ZsRtd": "44.2", "Flag": "N"},
    "a19001": {"Rtd": "8.1", "Flag": "N"},
}


def key_dir(live: LiveGateway) -> str:
    """The state folder the gateway keeps its station-key master key in."""
    from envtrace.ingest.keys import default_state_dir

    return live.gateway.config.state_dir or default_state_dir(live.engine)


def register_encrypted(
    live: LiveGateway, mn: str, pw: str, key: str, *, st: str = "31", kind: str = "flue_gas"
) -> None:
    """A 2025 station with SM4 ``key`` in the registry and the key store; the gateway reloads both."""
    vault = KeyVault.open(key_dir(live), create=True)
    with write_transaction(live.engine) as conn:
        register_station(conn, mn=mn, pw=pw, kind=kind, st=st, edition="2025", encrypted=True)
        register_key(
            conn, vault, mn=mn, key_text=key, actor="test", now_us=time.time_ns() // 1000,
            overlap_s=live.gateway.config.key_overlap_s,
        )  # fmt: skip
    reload(live)


def reload(live: LiveGateway) -> None:
    """Have the running gateway read the registry and the key store again (as its refresh does)."""
    live.gateway.directory.load()
    live.gateway.keys.load()


@dataclass
class Station2025:
    """One 2025 data logger on one TCP connection (blocking)."""

    port: int
    mn: str
    pw: str
    key: bytes
    st: str = "31"
    form: Form = "raw"
    answer_deliveries: bool = True
    old_keys: list[bytes] = field(default_factory=list)
    received: list[Decoded] = field(default_factory=list)
    deliveries: list[Decoded] = field(default_factory=list)
    sock: socket.socket = field(init=False)
    framer: Framer = field(init=False, default_factory=Framer)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)

    @property
    def peer(self) -> Peer:
        return Peer(self.mn, self.pw, self.st, "2025")

    # ------------------------------------------------------------------ sending

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def upload_frames(
        self,
        qn: str,
        data_time: str,
        *,
        cn: int = 2011,
        items: Mapping[str, Mapping[str, str]] = FLUE,
        resent: bool = False,
        key: bytes | None = None,
    ) -> list[bytes]:
        return data_upload(
            self.peer, qn=qn, cn=cn, data_time=data_time, items=items, resent=resent,
            key=self.key if key is None else key, cipher_form=self.form,
        )  # fmt: skip

    def upload(self, qn: str, data_time: str, **kwargs: object) -> None:
        for f in self.upload_frames(qn, data_time, **kwargs):  # type: ignore[arg-type]
            self.send(f)

    def heartbeat(self, qn: str) -> None:
        self.send(heartbeat(self.peer, qn=qn))

    def identity(self, qn: str, logger_id: str, cpu_id: str, mac1: str, mac2: str) -> None:
        self.send(logger_identity(self.peer, qn=qn, logger_id=logger_id, cpu_id=cpu_id, mac1=mac1, mac2=mac2))

    def request_key(self, qn: str, sk_create_time: str = "20260101000000000") -> None:
        self.send(
            request_key(self.peer, qn=qn, sk_create_time=sk_create_time, key=self.key, cipher_form=self.form)
        )

    # ------------------------------------------------------------------ receiving

    def _decode(self, raw: bytes) -> Decoded:
        first = None
        for k in (self.key, *reversed(self.old_keys)):
            d = decode(raw, key=k)
            if d.ok:
                return d
            first = first or d
        assert first is not None
        return first

    def _take(self, raw: bytes) -> Decoded:
        d = self._decode(raw)
        self.received.append(d)
        cp = d.cp or {}
        if d.ok and d.header is not None and d.header.get("CN") == "1014" and "NewSK" in cp:
            self.deliveries.append(d)
            if self.answer_deliveries:
                self.send(qn_answer(d.packet, 1, edition="2025"))  # type: ignore[arg-type]
                self.old_keys.append(self.key)
                self.key = cp["NewSK"].encode("ascii")
                self.send(exe_answer(d.packet, 1, edition="2025"))  # type: ignore[arg-type]
        return d

    def poll(self, seconds: float) -> list[Decoded]:
        """Frames that arrive within ``seconds`` (at least one read)."""
        out: list[Decoded] = []
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            self.sock.settimeout(max(left, 0.001))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                chunk = None
            if chunk == b"":
                raise ConnectionError(f"{self.mn}: the gateway closed the connection")
            for event in self.framer.feed(chunk or b""):
                if isinstance(event, Garbage):
                    raise AssertionError(f"garbage from the gateway: {event}")
                out.append(self._take(event.raw))
            if time.monotonic() >= end:
                return out

    def wait_for(self, want: Callable[[Decoded], bool], timeout: float = 10.0) -> Decoded:
        """The first frame received (now or already) that ``want`` accepts."""
        seen = len(self.received)
        for d in self.received[:seen]:
            if want(d):
                self.received.remove(d)
                return d
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for d in self.poll(min(0.2, max(end - time.monotonic(), 0.001))):
                if want(d):
                    self.received.remove(d)
                    return d
        raise TimeoutError(f"{self.mn}: nothing wanted within {timeout} s; got {self.summary()}")

    def answers(self, cn: str, count: int, timeout: float = 10.0) -> list[Decoded]:
        return [self.wait_for(lambda d: cn_of(d) == cn, timeout) for _ in range(count)]

    def summary(self) -> list[str]:
        return [f"{cn_of(d)}:{(d.header or {}).get('QN')}:{'ok' if d.ok else d.error}" for d in self.received]

    def close(self) -> None:
        self.sock.close()


def cn_of(d: Decoded) -> str | None:
    return None if d.header is None else d.header.get("CN")


def qn_of(d: Decoded) -> str | None:
    return None if d.header is None else d.header.get("QN")
