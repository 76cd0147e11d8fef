"""SM4 keys in the gateway (HJ 212-2025 §6.4): decoding with a station's keys, key requests and
deliveries (CN 1014), platform-initiated and 90-day rotations, the overlap window.

The ring
    ``KeyRing`` holds, per station, the keys a frame may be encrypted with, opened from the key store
    (``store.station_keys``; the master key is read once at start): the key the station was last
    seen using first, then its current key, a pending (delivered, not yet used) key, and previous
    keys whose overlap window (``key_overlap_s``) is not over. A frame is decoded with the first key
    that gives a readable, CRC-correct plaintext; the CRC is computed over the plaintext, so the
    codec decrypts first, then checks. When every key fails the frame is quarantined ``crypto``
    with the key ids tried and the codec's reason, and **not answered**. A pending key that decodes
    a frame is *activated* (sealed ``activated``; the old key becomes ``previous`` for the overlap
    window) and is tried first from then on.

Delivery and crash safety
    A station's 1014 request (``SKCreateTime`` of its key) is answered 9013 after its frame commits;
    then ``deliver`` issues the new key: it is generated, sealed and **committed as pending** (a
    ``delivered`` ledger record in the same transaction) and put in the ring, and only then is the
    1014 (``SKCreateTime``, ``NewSK``) sent, encrypted with the key the station uses, in the wire
    form (raw / ``{0x..}`` text) the station uses. If the gateway dies between the commit and the
    send, the station keeps its old key and the platform holds both; the pending key is delivered
    again at the station's next request. A pending key is never replaced by another while it may
    still reach the station (``issue_key`` re-delivers it).

Rotation
    Staff queue ``envtrace keys rotate`` (a ``rotate_key`` command; ``commands``); the gateway
    delivers when the station is connected. Every ``key_check_interval_s`` the gateway retires keys
    whose overlap is over and, with ``key_auto_rotate``, delivers a new key to connected 2025
    stations whose current key is older than ``key_rotation_days`` (§6.4.3: 90 days; stations
    normally ask first) or was adopted from the old registry column although the policy refuses it.

Resources and errors
    Database work runs in worker threads, one operation at a time (``_lock``); a failure is logged
    (never with key material) and retried at the next occasion; it never reaches a connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from envtrace.hj212 import Station as Peer
from envtrace.hj212 import deliver_key, format_qn
from envtrace.hj212.decode import Decoded, decode
from envtrace.store import Station, write_transaction
from envtrace.store import station_commands as commands_db
from envtrace.store import station_keys as keys_db
from envtrace.store.errors import KeyStoreUnavailable
from envtrace.store.station_keys import KeyVault, UsableKey

if TYPE_CHECKING:
    from envtrace.ingest.commands import CommandDesk
    from envtrace.ingest.config import GatewayConfig
    from envtrace.ingest.session import StationConnection

log = logging.getLogger("envtrace.ingest.keys")

_FAILED = ("crypto", "crc")
_ORDER = {"current": 0, "pending": 1, "previous": 2}


def _now_us() -> int:
    return time.time_ns() // 1000


class KeyRing:
    """Opened keys per station, in the order frames are tried; safe on the event loop only."""

    def __init__(self) -> None:
        self._keys: dict[int, list[UsableKey]] = {}
        self._in_use: dict[int, str] = {}
        self._touched: dict[int, float] = {}
        self.forms: dict[int, str] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self._keys.values())

    def candidates(self, station_id: int) -> list[UsableKey]:
        return self._keys.get(station_id, [])

    def in_use(self, station_id: int) -> UsableKey | None:
        """The key the station was last seen using, else its current key."""
        keys = self._keys.get(station_id, [])
        used = self._in_use.get(station_id)
        for k in keys:
            if k.key_id == used:
                return k
        return next((k for k in keys if k.state == "current"), None)

    def _ordered(self, station_id: int, keys: list[UsableKey]) -> list[UsableKey]:
        used = self._in_use.get(station_id)
        return sorted(keys, key=lambda k: (k.key_id != used, _ORDER.get(k.state, 3), -k.created_us))

    def replace(self, loaded: Mapping[int, list[UsableKey]], started: float) -> None:
        """Take the store's view, except for stations whose keys changed here since ``started``."""
        for sid in set(self._keys) | set(loaded):
            if self._touched.get(sid, -1.0) >= started:
                continue
            keys = list(loaded.get(sid, []))
            if keys:
                self._keys[sid] = self._ordered(sid, keys)
            else:
                self._keys.pop(sid, None)

    def add(self, key: UsableKey) -> None:
        """A key issued here (pending): tried from now on, after the key in use."""
        sid = key.station_id
        keys = [k for k in self._keys.get(sid, []) if k.key_id != key.key_id]
        self._keys[sid] = self._ordered(sid, [*keys, key])
        self._touched[sid] = time.monotonic()

    def used(self, station_id: int, key: UsableKey, wire_form: str, overlap_s: float) -> bool:
        """A cipher frame decoded with ``key``: remember it (and the wire form); True when that
        makes a pending key current (the caller seals the activation)."""
        self.forms[station_id] = wire_form
        if self._in_use.get(station_id) == key.key_id and key.state != "pending":
            return False
        self._in_use[station_id] = key.key_id
        keys = self._keys.get(station_id, [])
        activated = key.state == "pending"
        if activated:
            until = _now_us() + int(overlap_s * 1_000_000)
            keys = [
                replace(k, state="current", activated_us=_now_us())
                if k.key_id == key.key_id
                else replace(k, state="previous", until_us=until)
                if k.state == "current"
                else k
                for k in keys
            ]
            self._touched[station_id] = time.monotonic()
        self._keys[station_id] = self._ordered(station_id, keys)
        return activated


class KeyService:
    """The gateway's side of the key lifecycle (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        config: GatewayConfig,
        vault: KeyVault | None,
        *,
        new_qn: Callable[[], str],
        desk: CommandDesk,
    ) -> None:
        self.engine = engine
        self.config = config
        self.vault = vault
        self.ring = KeyRing()
        self.new_qn = new_qn
        self.desk = desk
        self._lock = asyncio.Lock()
        self._delivering: set[int] = set()
        self._replace_soon: set[int] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.delivered = 0
        self.activated = 0

    # ------------------------------------------------------------------ loading

    def load(self, *, adopt: bool = False) -> int:
        """(Re)load the ring from the store (blocking: a worker thread). ``adopt`` first moves keys
        still in clear in the station table into the store. Returns the keys loaded."""
        if self.vault is None:
            return 0
        started = time.monotonic()
        now = _now_us()
        if adopt:
            with write_transaction(self.engine) as conn:
                adopted = keys_db.adopt_legacy_keys(
                    conn,
                    self.vault,
                    actor="gateway:migration",
                    now_us=now,
                    overlap_s=self.config.key_overlap_s,
                )
            for mn, problems in adopted:
                log.info("station %s: its SM4 key moved into the key store (sealed)", mn)
                if problems:
                    log.warning(
                        "station %s: its SM4 key is weak (%s); it will be replaced", mn, "; ".join(problems)
                    )
                    self._replace_soon.add(self._station_id(mn))
        with self.engine.connect() as conn:
            loaded = keys_db.usable_keys(conn, self.vault, now_us=now)
        self.ring.replace(loaded, started)
        return sum(len(v) for v in loaded.values())

    def _station_id(self, mn: str) -> int:
        from envtrace.store import get_station

        with self.engine.connect() as conn:
            found = get_station(conn, mn)
        return found.id if found is not None else -1

    # ------------------------------------------------------------------ decoding

    def decode(self, station: Station, raw: bytes, *, strict: bool) -> tuple[Decoded, str | None]:
        """Decode a frame of an encrypted station with its keys: (decoded, None) when one key (or
        no key: a clear CP) reads it, else (the first attempt, the quarantine reason)."""
        keys = self.ring.candidates(station.id)
        if not keys:
            decoded = decode(raw, key=None, strict=strict)
            if decoded.ok or not _looks_encrypted(decoded):
                return decoded, None
            return decoded, (
                f"SM4: station {station.mn} is registered as encrypted but the platform holds no usable "
                f"key for it (register one: envtrace keys register): {decoded.error}"
            )
        first: Decoded | None = None
        for entry in keys:
            decoded = decode(raw, key=entry.key, strict=strict)
            error = decoded.error
            if decoded.ok or error is None or error.kind not in _FAILED or decoded.wire_form == "plain":
                if decoded.ok and decoded.wire_form != "plain":
                    self._note_used(station, entry, str(decoded.wire_form))
                return decoded, None
            first = first or decoded
        assert first is not None
        tried = ", ".join(f"{k.key_id} ({k.state}, fingerprint {k.fingerprint[:8]})" for k in keys)
        return first, (
            f"SM4 ({first.wire_form} form): none of the {len(keys)} keys of station {station.mn} gives a "
            f"valid plaintext (tried {tried}): {first.error}"
        )

    def _note_used(self, station: Station, key: UsableKey, wire_form: str) -> None:
        if self.ring.used(station.id, key, wire_form, self.config.key_overlap_s):
            self.activated += 1
            log.info("station %s took its new SM4 key %s", station.mn, key.key_id)
            self._spawn(self._activate(station.id, key.key_id))

    async def _activate(self, station_id: int, key_id: str) -> None:
        def work() -> None:
            with write_transaction(self.engine) as conn:
                keys_db.activate_key(
                    conn, station_id=station_id, key_id=key_id, now_us=_now_us(),
                    overlap_s=self.config.key_overlap_s, actor="gateway",
                )  # fmt: skip

        async with self._lock:
            try:
                await asyncio.to_thread(work)
            except Exception:
                log.exception(
                    "sealing the activation of key %s failed; it is sealed at the next load", key_id
                )

    # ------------------------------------------------------------------ delivery

    def key_requested(self, conn: StationConnection, station: Station, cp: Mapping[str, str]) -> None:
        """A committed 1014 request (field -> centre): deliver a key (a pending one again, if any)."""
        told = cp.get("SKCreateTime", "")
        log.info("station %s asks for a new SM4 key (its key created %s)", station.mn, told or "?")
        self._spawn(self.deliver(conn, station, actor="station", reason="station request (CN 1014)"))

    async def deliver(
        self,
        conn: StationConnection,
        station: Station,
        *,
        actor: str,
        reason: str,
        command_id: int | None = None,
    ) -> str | None:
        """Issue (commit) a key for ``station`` and send it on ``conn``; the key id, or None when it
        cannot be done now (no key to encrypt with, a delivery already running, a failure)."""
        sid = station.id
        if self.vault is None or sid in self._delivering:
            return None
        in_use = self.ring.in_use(sid)
        if in_use is None:
            log.warning("station %s: no SM4 key to encrypt a key delivery with", station.mn)
            return None
        qn = self.new_qn()
        local = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=station.utc_offset_min)
        sk_create_time = format_qn(local)
        vault = self.vault

        def work() -> UsableKey:
            with write_transaction(self.engine) as db:
                issued = keys_db.issue_key(
                    db, vault, station_id=sid, actor=actor, now_us=_now_us(), sk_create_time=sk_create_time,
                    reason=reason, context=(station.mn,),
                )  # fmt: skip
                if command_id is not None:
                    commands_db.set_command_state(
                        db, command_id, state="sent", qn=qn, sent_us=_now_us(),
                        detail=f"key {issued.key_id} (fingerprint {issued.fingerprint})",
                    )  # fmt: skip
                return issued

        self._delivering.add(sid)
        try:
            async with self._lock:
                issued = await asyncio.to_thread(work)
        except Exception:
            log.exception("issuing an SM4 key for station %s failed; nothing was sent", station.mn)
            return None
        finally:
            self._delivering.discard(sid)
        self.ring.add(issued)  # committed: frames under it decode from now on
        if conn.closed or conn.station_id != sid:
            log.info(
                "station %s left before key %s could be sent; it stays pending", station.mn, issued.key_id
            )
            return issued.key_id
        form = self.ring.forms.get(sid, self.config.key_delivery_form)
        frame = deliver_key(
            Peer(station.mn, conn.pw, station.st or "32", "2025"),
            qn=qn,
            new_key=issued.text(),
            sk_create_time=issued.sk_create_time or sk_create_time,
            key=in_use.key,
            cipher_form="text" if form == "text" else "raw",
        )
        self.desk.expect(qn, sid, "rotate_key", command_id, issued.key_id)
        conn.send(frame)
        self.delivered += 1
        log.info("sent SM4 key %s to station %s (QN %s, %s form)", issued.key_id, station.mn, qn, form)
        return issued.key_id

    # ------------------------------------------------------------------ upkeep

    async def upkeep(self, connected: Mapping[int, tuple[StationConnection, Station]]) -> None:
        """Retire keys past their overlap, reload the ring, deliver due rotations."""
        if self.vault is None:
            return
        now = _now_us()

        def retire() -> list[str]:
            with write_transaction(self.engine) as conn:
                return keys_db.retire_expired(conn, now_us=now)

        def due() -> list[tuple[int, str]]:
            older = now - int(self.config.key_rotation_days * 86_400 * 1_000_000)
            with self.engine.connect() as conn:
                return keys_db.due_for_rotation(conn, older_than_us=older)

        async with self._lock:
            retired = await asyncio.to_thread(retire)
        if retired:
            log.info("retired %d SM4 keys whose overlap window ended", len(retired))
        await asyncio.to_thread(self.load)
        wanted = set(self._replace_soon)
        if self.config.key_auto_rotate:
            wanted.update(sid for sid, _ in await asyncio.to_thread(due))
        for sid in sorted(wanted):
            found = connected.get(sid)
            if found is None or found[1].edition != "2025" or not found[1].encrypted:
                continue
            got = await self.deliver(found[0], found[1], actor="gateway", reason="key rotation (§6.4.3)")
            if got is not None:
                self._replace_soon.discard(sid)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for key work in flight (graceful stop)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def default_state_dir(engine: Engine) -> str:
    """The state folder of the engine's database, as ``envtrace.config.state_dir_for`` names it for the
    URL staff give (``postgresql://``, not the driver's ``postgresql+psycopg://``)."""
    from envtrace.config import state_dir_for

    url = engine.url.render_as_string(hide_password=False).replace(
        "postgresql+psycopg://", "postgresql://", 1
    )
    return str(state_dir_for(url))


def open_vault(engine: Engine, config: GatewayConfig) -> KeyVault | None:
    """The station-key master key (created on first use); None, logged, when it cannot be had:
    the gateway then runs without SM4 keys (encrypted stations' frames are quarantined)."""
    state_dir = config.state_dir or default_state_dir(engine)
    try:
        return KeyVault.open(state_dir, create=True)
    except (OSError, KeyStoreUnavailable) as exc:
        log.error("no station-key master key (%s): encrypted stations cannot be read", exc)
        return None


def _looks_encrypted(decoded: Decoded) -> bool:
    """The codec's hint that a frame decoded without a key carries SM4 cipher."""
    return decoded.wire_form == "text" or (decoded.error is not None and "SM4" in str(decoded.error))
