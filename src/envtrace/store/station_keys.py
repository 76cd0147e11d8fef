"""HJ 212-2025 SM4 station keys: the key policy, sealing at rest, the lifecycle and its history.

HJ 212-2025 §6.4 has each field unit encrypt its data with a 16-byte SM4 key. §6.4.3 (as quoted in
``shared/specs/hj212-2025-and-hj75.md`` §1.3): the initial key is registered on the upper
computer, the key is replaced every 90 days (the field unit asks for the new one in advance, CN
1014), and fixed or patterned key values are forbidden (items f/g).

Storage
    Keys live in ``station_key``, apart from the readings, each **sealed** with AES-256-GCM under a
    *master key* that never enters the database: a 32-byte file ``<state_dir>/station-keys/
    master.key`` (mode 0600 in a 0700 folder; ``envtrace.config.state_dir_for``), created on first
    use. The associated data binds a sealed key to its station and key id, so a sealed value copied
    onto another row does not open. What the database and the ledger show of a key is its
    **fingerprint**: HMAC-SHA256 under a key derived from the master key, 128 bits in hex. Without
    the master key it reveals nothing of a 16-character key; with it, reuse of a key anywhere is
    seen. Keys are never logged and never in an error message (``KeyRefused`` names the rule).

Lifecycle (``station_key.state``)
    ``pending`` (issued, committed, not yet seen in use) -> ``current`` (the station's key) ->
    ``previous`` (replaced; still tried until ``until_us``, the end of the overlap window) ->
    ``retired``; any of them -> ``revoked`` (by staff). Every change is a row of
    ``station_key_event`` **and** a ``station_key`` ledger leaf in the same transaction: event
    (``registered``, ``delivered``, ``activated``, ``retired``, ``revoked``), station, MN, key id,
    fingerprint, actor, time (µs) and details (SKCreateTime, previous key, overlap end, reason).

History
    No key is deleted: ``key_history`` gives every key a station ever had with the time it was in
    use, so frames received under an earlier key can still be decoded by ``envtrace verify``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import stat
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    RowMapping,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from envtrace.store.errors import KeyNotFound, KeyRefused, KeyStoreUnavailable, StationNotFound
from envtrace.store.ledger_log import append, read_head
from envtrace.store.metadata import metadata
from envtrace.store.registry import station
from envtrace.store.stations import update_station
from envtrace.store.types import Bytes, Id

log = logging.getLogger("envtrace.store.station_keys")

KEY_STATES = ("pending", "current", "previous", "retired", "revoked")
KEY_EVENTS = ("registered", "delivered", "activated", "retired", "revoked")
KEY_ORIGINS = ("registered", "generated", "imported")
LEAF_KIND = "station_key"
MASTER_FILE = Path("station-keys") / "master.key"
KEY_LENGTH = 16
# HJ 212-2025 appendix A.2's test key: public, so never a station's key.
A2_TEST_KEY = b"0000000000000000"
MIN_DISTINCT = 6
MIN_ENTROPY_BITS = 2.8  # Shannon entropy per character; 16 distinct characters give 4.0
KEYBOARD_RUNS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", string.ascii_lowercase)
# generated keys: letters and digits without the look-alikes (0/O, 1/l/I) staff may have to read aloud
GENERATED_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

station_key = Table(
    "station_key",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", ForeignKey("station.id"), nullable=False),
    Column("key_id", String(32), nullable=False, unique=True, comment="names the key in events and logs"),
    Column("fingerprint", String(64), nullable=False, comment="HMAC-SHA256 under the master key, hex"),
    Column("sealed", Bytes, nullable=False, comment="the key, AES-256-GCM under the master key"),
    Column("state", String(12), nullable=False),
    Column("origin", String(12), nullable=False, comment="registered | generated | imported"),
    Column("sk_create_time", String(17), comment="SKCreateTime, station local time, 17 digits"),
    Column("created_us", Id, nullable=False),
    Column("activated_us", Id, comment="first frame received under it (or registration)"),
    Column("until_us", Id, comment="previous keys: end of the overlap window"),
    Column("ended_us", Id, comment="retired or revoked at"),
    CheckConstraint(f"state IN {KEY_STATES!r}", name="state"),
    CheckConstraint(f"origin IN {KEY_ORIGINS!r}", name="origin"),
)
Index("ix_station_key_station", station_key.c.station_id, station_key.c.created_us)
Index("ix_station_key_fingerprint", station_key.c.fingerprint)

station_key_event = Table(
    "station_key_event",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", ForeignKey("station.id"), nullable=False, index=True),
    Column("mn", String(64), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("event", String(12), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("actor", Text, nullable=False),
    Column("ts_us", Id, nullable=False),
    Column("detail", Text, nullable=False, comment="canonical JSON: SKCreateTime, previous key, reason ..."),
    Column("leaf_index", Id, unique=True, comment="its station_key leaf in the ledger"),
    CheckConstraint(f"event IN {KEY_EVENTS!r}", name="event"),
)


# ------------------------------------------------------------------------------------ the policy


def parse_key_text(text: str) -> bytes:
    """A key as staff type it: 16 printable ASCII characters, or 32 hexadecimal digits.

    Raises ``ValueError`` (without echoing the value) for anything else."""
    value = text.strip()
    if len(value) == 2 * KEY_LENGTH and all(c in string.hexdigits for c in value):
        return bytes.fromhex(value)
    if len(value) == KEY_LENGTH and value.isascii() and all(0x21 <= ord(c) <= 0x7E for c in value):
        return value.encode("ascii")
    raise ValueError(
        f"an SM4 key is {KEY_LENGTH} printable ASCII characters or {2 * KEY_LENGTH} hex digits "
        f"(got {len(value)} characters)"
    )


def _runs(key: bytes) -> int:
    """Characters covered by arithmetic runs of at least 4 (steps equal, 1 to 3 in size)."""
    covered = 0
    i = 0
    while i < len(key) - 1:
        step = key[i + 1] - key[i]
        j = i + 1
        while j < len(key) - 1 and key[j + 1] - key[j] == step:
            j += 1
        if step != 0 and abs(step) <= 3 and j - i + 1 >= 4:
            covered += j - i + 1
            i = j + 1
        else:
            i += 1
    return covered


def _period(key: bytes) -> int | None:
    for p in range(1, len(key) // 2 + 1):
        if all(key[i] == key[i % p] for i in range(len(key))):
            return p
    return None


def key_problems(key: bytes, *, context: Sequence[str] = ()) -> list[str]:
    """Why ``key`` is fixed, patterned or guessable (HJ 212-2025 §6.4.3 f/g); empty when it is fine.

    Rules: the appendix A.2 test key; all characters the same; a short pattern repeated; arithmetic
    runs (``0123``, ``abcd``, ``9753``) covering most of the key; a keyboard or alphabet run of 6;
    fewer than ``MIN_DISTINCT`` distinct characters; Shannon entropy below ``MIN_ENTROPY_BITS``;
    the station's PW or an 8-character piece of its MN (``context``) inside the key."""
    if len(key) != KEY_LENGTH:
        return [f"an SM4 key has {KEY_LENGTH} bytes, not {len(key)}"]
    problems: list[str] = []
    if key == A2_TEST_KEY:
        problems.append("it is the HJ 212-2025 appendix A.2 test key")
    if len(set(key)) == 1:
        problems.append("all 16 characters are the same")
    else:
        period = _period(key)
        if period is not None:
            problems.append(f"it repeats a {period}-character pattern")
    if _runs(key) >= 10:
        problems.append("it is made of ascending or descending sequences (like 0123 or abcd)")
    lowered = key.lower()
    for row in KEYBOARD_RUNS:
        hit = next(
            (
                True
                for source in (row, row[::-1])
                for i in range(len(source) - 5)
                if source[i : i + 6].encode("ascii") in lowered
            ),
            False,
        )
        if hit:
            problems.append("it contains a keyboard or alphabet run of 6 characters")
            break
    distinct = len(set(key))
    if 1 < distinct < MIN_DISTINCT:
        problems.append(f"it has only {distinct} distinct characters (at least {MIN_DISTINCT} needed)")
    counts = Counter(key)
    entropy = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if entropy < MIN_ENTROPY_BITS and distinct > 1:
        problems.append(f"low entropy: {entropy:.2f} bits per character (at least {MIN_ENTROPY_BITS})")
    for text in context:
        if not text:
            continue
        raw = text.encode("utf-8", "replace").lower()
        if len(raw) <= 8:
            if len(raw) >= 4 and raw in lowered:
                problems.append("it contains the station's password or identifier")
                break
        elif any(raw[i : i + 8] in lowered for i in range(len(raw) - 7)):
            problems.append("it contains a piece of the station's MN")
            break
    return problems


def generate_key(*, context: Sequence[str] = ()) -> str:
    """A fresh key: 16 characters drawn by ``secrets`` from ``GENERATED_ALPHABET`` (95 bits), drawn
    again until the policy has nothing against it."""
    while True:
        text = "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(KEY_LENGTH))
        if not key_problems(text.encode("ascii"), context=context):
            return text


# ------------------------------------------------------------------------------------ sealing


class KeyVault:
    """The master key: seals and opens station keys, computes fingerprints. Keep one per process.

    ``repr`` shows the file, never the key."""

    __slots__ = ("_fp_key", "_master", "path")

    def __init__(self, master: bytes, path: str = "<memory>") -> None:
        if len(master) != 32:
            raise KeyStoreUnavailable(path, f"a master key has 32 bytes, not {len(master)}")
        self._master = master
        self._fp_key = hmac.new(master, b"envtrace station-key fingerprint v1", hashlib.sha256).digest()
        self.path = path

    def __repr__(self) -> str:
        return f"KeyVault({self.path!r})"

    @classmethod
    def open(cls, state_dir: Path | str, *, create: bool = True) -> KeyVault:
        """The master key of ``state_dir`` (``station-keys/master.key``), created when missing and
        ``create``. A file readable by others is made private (0600) with a warning."""
        path = Path(state_dir) / MASTER_FILE
        if not path.exists():
            if not create:
                raise KeyStoreUnavailable(str(path), "missing (it is created by `envtrace keys` or serve)")
            path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path.parent, 0o700)
            master = secrets.token_bytes(32)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return cls.open(state_dir, create=False)  # another process made it meanwhile
            with os.fdopen(fd, "wb") as fh:
                fh.write(master.hex().encode("ascii") + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            log.info("created the station-key master key %s", path)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("station-key master key %s had mode %o; made private (0600)", path, mode)
            os.chmod(path, 0o600)
        try:
            master = bytes.fromhex(path.read_text("ascii").strip())
        except (OSError, ValueError) as exc:
            raise KeyStoreUnavailable(str(path), f"unreadable: {type(exc).__name__}") from None
        return cls(master, str(path))

    def fingerprint(self, key: bytes) -> str:
        """HMAC-SHA256 of the key under the fingerprint key, first 128 bits in hex."""
        return hmac.new(self._fp_key, key, hashlib.sha256).hexdigest()[:32]

    @staticmethod
    def _aad(station_id: int, key_id: str) -> bytes:
        return f"envtrace station_key v1:{station_id}:{key_id}".encode()

    def seal(self, station_id: int, key_id: str, key: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(12)
        return b"\x01" + nonce + AESGCM(self._master).encrypt(nonce, key, self._aad(station_id, key_id))

    def unseal(self, station_id: int, key_id: str, sealed: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(sealed) < 13 or sealed[0] != 1:
            raise KeyStoreUnavailable(self.path, f"sealed key {key_id} has an unknown format")
        try:
            return AESGCM(self._master).decrypt(sealed[1:13], sealed[13:], self._aad(station_id, key_id))
        except InvalidTag:
            raise KeyStoreUnavailable(
                self.path, f"sealed key {key_id} does not open with this master key (wrong state folder?)"
            ) from None


# ------------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class StationKey:
    """A key as the registry shows it: everything but the key."""

    id: int
    station_id: int
    key_id: str
    fingerprint: str
    state: str
    origin: str
    sk_create_time: str | None
    created_us: int
    activated_us: int | None
    until_us: int | None
    ended_us: int | None


@dataclass(frozen=True, slots=True)
class UsableKey:
    """A key opened for decoding or encrypting: the gateway's ring and the verifier's history."""

    station_id: int
    key_id: str
    fingerprint: str
    state: str
    created_us: int
    activated_us: int | None
    until_us: int | None
    ended_us: int | None
    sk_create_time: str | None
    key: bytes = field(repr=False)

    def text(self) -> str:
        """The key as 16 characters (NewSK), or 32 hex digits for a binary key."""
        if self.key.isascii() and all(0x21 <= b <= 0x7E for b in self.key):
            return self.key.decode("ascii")
        return self.key.hex()


def _key(row: RowMapping) -> StationKey:
    return StationKey(
        id=int(row["id"]),
        station_id=int(row["station_id"]),
        key_id=row["key_id"],
        fingerprint=row["fingerprint"],
        state=row["state"],
        origin=row["origin"],
        sk_create_time=row["sk_create_time"],
        created_us=int(row["created_us"]),
        activated_us=row["activated_us"],
        until_us=row["until_us"],
        ended_us=row["ended_us"],
    )


def _usable(vault: KeyVault, row: RowMapping) -> UsableKey:
    key = vault.unseal(int(row["station_id"]), row["key_id"], bytes(row["sealed"]))
    return UsableKey(
        station_id=int(row["station_id"]),
        key_id=row["key_id"],
        fingerprint=row["fingerprint"],
        state=row["state"],
        created_us=int(row["created_us"]),
        activated_us=row["activated_us"],
        until_us=row["until_us"],
        ended_us=row["ended_us"],
        sk_create_time=row["sk_create_time"],
        key=key,
    )


def event_payload(row: Mapping[str, object]) -> dict[str, object]:
    """The ``station_key`` leaf payload a ``station_key_event`` row stands for (verify checks it)."""
    return {
        "event": row["event"],
        "station_id": row["station_id"],
        "mn": row["mn"],
        "key_id": row["key_id"],
        "fingerprint": row["fingerprint"],
        "actor": row["actor"],
        "ts_us": row["ts_us"],
        "detail": json.loads(str(row["detail"])),
    }


def _event(
    conn: Connection,
    *,
    station_id: int,
    mn: str,
    key_id: str,
    event: str,
    fingerprint: str,
    actor: str,
    ts_us: int,
    detail: Mapping[str, object],
) -> int:
    """One key change: the event row and its ledger leaf, in the caller's transaction."""
    canonical = json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    row = {
        "station_id": station_id,
        "mn": mn,
        "key_id": key_id,
        "event": event,
        "fingerprint": fingerprint,
        "actor": actor,
        "ts_us": ts_us,
        "detail": canonical,
    }
    leaf_index = append(conn, LEAF_KIND, event_payload(row))
    conn.execute(insert(station_key_event).values(**row, leaf_index=leaf_index))
    log.info("station %s key %s %s by %s (fingerprint %s)", mn, key_id, event, actor, fingerprint)
    return leaf_index


def _station_row(conn: Connection, *, mn: str | None = None, station_id: int | None = None) -> RowMapping:
    s = station.c
    q = select(s.id, s.mn, s.pw_hash, s.encrypted)
    q = q.where(s.mn == mn) if mn is not None else q.where(s.id == station_id)
    row = conn.execute(q).mappings().one_or_none()
    if row is None:
        raise StationNotFound(mn if mn is not None else f"#{station_id}")
    return row


def _new_key_id() -> str:
    return "k" + secrets.token_hex(6)


def _set_state(conn: Connection, key_id: str, **values: object) -> None:
    conn.execute(update(station_key).where(station_key.c.key_id == key_id).values(**values))


def list_keys(conn: Connection, *, station_id: int | None = None) -> list[StationKey]:
    """Every key (no key material), by station then creation time."""
    k = station_key.c
    q = select(station_key).order_by(k.station_id, k.created_us, k.id)
    if station_id is not None:
        q = q.where(k.station_id == station_id)
    return [_key(r) for r in conn.execute(q).mappings()]


def key_events(conn: Connection, *, station_id: int | None = None) -> list[dict[str, object]]:
    e = station_key_event.c
    q = select(station_key_event).order_by(e.id)
    if station_id is not None:
        q = q.where(e.station_id == station_id)
    return [dict(r) for r in conn.execute(q).mappings()]


def usable_keys(
    conn: Connection, vault: KeyVault, *, now_us: int, station_ids: Iterable[int] | None = None
) -> dict[int, list[UsableKey]]:
    """Keys a station may be using now (pending, current, previous within its overlap), opened."""
    k = station_key.c
    q = select(station_key).where(k.state.in_(("pending", "current", "previous"))).order_by(k.created_us)
    if station_ids is not None:
        q = q.where(k.station_id.in_(list(station_ids)))
    out: dict[int, list[UsableKey]] = {}
    for row in conn.execute(q).mappings():
        if row["state"] == "previous" and row["until_us"] is not None and row["until_us"] <= now_us:
            continue
        opened = _open_or_log(vault, row)
        if opened is not None:
            out.setdefault(int(row["station_id"]), []).append(opened)
    return out


def _open_or_log(vault: KeyVault, row: RowMapping) -> UsableKey | None:
    """The key opened, or None (logged) when the master key does not open it: the gateway keeps
    running (frames under that key are quarantined, raw) instead of refusing every station."""
    try:
        return _usable(vault, row)
    except KeyStoreUnavailable as exc:
        log.error("station #%s: %s", row["station_id"], exc)
        return None


def key_history(
    conn: Connection, vault: KeyVault, *, station_ids: Iterable[int] | None = None
) -> dict[int, list[UsableKey]]:
    """Every key each station ever had (revoked and retired ones too), opened, oldest first."""
    k = station_key.c
    q = select(station_key).order_by(k.station_id, k.created_us, k.id)
    if station_ids is not None:
        q = q.where(k.station_id.in_(list(station_ids)))
    out: dict[int, list[UsableKey]] = {}
    for row in conn.execute(q).mappings():
        opened = _open_or_log(vault, row)
        if opened is not None:
            out.setdefault(int(row["station_id"]), []).append(opened)
    return out


def _refuse_reuse(conn: Connection, mn: str, fingerprint: str) -> None:
    used = conn.execute(
        select(station.c.mn)
        .select_from(station_key.join(station, station.c.id == station_key.c.station_id))
        .where(station_key.c.fingerprint == fingerprint)
        .limit(1)
    ).scalar()
    if used is not None:
        where = "this station before" if used == mn else "another station"
        raise KeyRefused(mn, [f"the key was already used by {where}: keys are never reused"])


def _open_keys(conn: Connection, station_id: int) -> list[RowMapping]:
    k = station_key.c
    return list(
        conn.execute(
            select(station_key)
            .where(k.station_id == station_id, k.state.in_(("pending", "current", "previous")))
            .order_by(k.created_us)
        ).mappings()
    )


def register_key(
    conn: Connection,
    vault: KeyVault,
    *,
    mn: str,
    key_text: str,
    actor: str,
    now_us: int,
    overlap_s: float,
    sk_create_time: str | None = None,
    context: Sequence[str] = (),
    origin: str = "registered",
    enforce_policy: bool = True,
    encrypt: bool = True,
) -> StationKey:
    """Register a key staff set on the station's logger (the initial key, or a replacement).

    It becomes the station's ``current`` key at once and the station is switched to encrypted;
    a former current key stays usable for ``overlap_s`` (``previous``); a pending key is revoked.
    Registering the current key again changes nothing. Raises ``KeyRefused`` for a malformed key, a
    key the policy forbids or a key used before anywhere. ``encrypt`` switches the station to
    encrypted. Call inside a write transaction."""
    s = _station_row(conn, mn=mn)
    sid = int(s["id"])
    try:
        key = parse_key_text(key_text)
    except ValueError as exc:
        raise KeyRefused(mn, [str(exc)]) from None
    problems = key_problems(key, context=context)
    if problems and enforce_policy:
        raise KeyRefused(mn, problems)
    fingerprint = vault.fingerprint(key)
    same = next((r for r in _open_keys(conn, sid) if r["state"] == "current"), None)
    if same is not None and same["fingerprint"] == fingerprint:
        return _key(same)  # registering the key in use again changes nothing (an import run twice)
    if enforce_policy:
        _refuse_reuse(conn, mn, fingerprint)
    read_head(conn, for_update=True)  # lock the ledger head first, as the writer does
    key_id = _new_key_id()
    for old in _open_keys(conn, sid):
        if old["state"] == "pending":
            _set_state(conn, old["key_id"], state="revoked", ended_us=now_us)
            _event(
                conn, station_id=sid, mn=mn, key_id=old["key_id"], event="revoked",
                fingerprint=old["fingerprint"], actor=actor, ts_us=now_us,
                detail={"reason": f"superseded by the registered key {key_id}"},
            )  # fmt: skip
        elif old["state"] == "current":
            until = now_us + int(overlap_s * 1_000_000)
            _set_state(conn, old["key_id"], state="previous", until_us=until)
    conn.execute(
        insert(station_key).values(
            station_id=sid,
            key_id=key_id,
            fingerprint=fingerprint,
            sealed=vault.seal(sid, key_id, key),
            state="current",
            origin=origin,
            sk_create_time=sk_create_time,
            created_us=now_us,
            activated_us=now_us,
        )
    )
    detail: dict[str, object] = {"origin": origin, "sk_create_time": sk_create_time}
    if problems:
        detail["weak"] = problems
    _event(
        conn, station_id=sid, mn=mn, key_id=key_id, event="registered", fingerprint=fingerprint,
        actor=actor, ts_us=now_us, detail=detail,
    )  # fmt: skip
    if encrypt and not s["encrypted"]:
        update_station(conn, mn, encrypted=True, by=actor)  # a registry change: sealed there
    return _key(conn.execute(select(station_key).where(station_key.c.key_id == key_id)).mappings().one())


def issue_key(
    conn: Connection,
    vault: KeyVault,
    *,
    station_id: int,
    actor: str,
    now_us: int,
    sk_create_time: str,
    reason: str,
    context: Sequence[str] = (),
) -> UsableKey:
    """A new key for delivery by CN 1014, committed as ``pending`` **before** it is sent (the caller
    sends it only after this transaction commits). A pending key already there is returned again
    (re-delivery: the station may not have received it). Either way a ``delivered`` event is
    sealed. Call inside a write transaction."""
    s = _station_row(conn, station_id=station_id)
    mn = str(s["mn"])
    read_head(conn, for_update=True)  # lock the ledger head first, as the writer does
    pending = [r for r in _open_keys(conn, station_id) if r["state"] == "pending"]
    if pending:
        row = pending[-1]
        usable = _usable(vault, row)
        detail: dict[str, object] = {"reason": reason, "again": True, "sk_create_time": row["sk_create_time"]}
    else:
        text = generate_key(context=context)
        key = text.encode("ascii")
        key_id = _new_key_id()
        fingerprint = vault.fingerprint(key)
        conn.execute(
            insert(station_key).values(
                station_id=station_id,
                key_id=key_id,
                fingerprint=fingerprint,
                sealed=vault.seal(station_id, key_id, key),
                state="pending",
                origin="generated",
                sk_create_time=sk_create_time,
                created_us=now_us,
            )
        )
        row = conn.execute(select(station_key).where(station_key.c.key_id == key_id)).mappings().one()
        usable = _usable(vault, row)
        detail = {"reason": reason, "again": False, "sk_create_time": sk_create_time}
    _event(
        conn, station_id=station_id, mn=mn, key_id=usable.key_id, event="delivered",
        fingerprint=usable.fingerprint, actor=actor, ts_us=now_us, detail=detail,
    )  # fmt: skip
    return usable


def activate_key(
    conn: Connection, *, station_id: int, key_id: str, now_us: int, overlap_s: float, actor: str
) -> bool:
    """The station used pending key ``key_id``: it becomes current, the former current key
    ``previous`` until ``now + overlap_s``. False when the key is not pending (already done)."""
    s = _station_row(conn, station_id=station_id)
    rows = _open_keys(conn, station_id)
    target = next((r for r in rows if r["key_id"] == key_id), None)
    if target is None or target["state"] != "pending":
        return False
    read_head(conn, for_update=True)  # lock the ledger head first, as the writer does
    until = now_us + int(overlap_s * 1_000_000)
    previous = [r for r in rows if r["state"] == "current"]
    for old in previous:
        _set_state(conn, old["key_id"], state="previous", until_us=until)
    for other in rows:  # an older pending key the station never took will never be used
        if other["state"] == "pending" and other["key_id"] != key_id:
            _set_state(conn, other["key_id"], state="revoked", ended_us=now_us)
            _event(
                conn, station_id=station_id, mn=str(s["mn"]), key_id=other["key_id"], event="revoked",
                fingerprint=other["fingerprint"], actor=actor, ts_us=now_us,
                detail={"reason": f"the station took the later key {key_id}"},
            )  # fmt: skip
    _set_state(conn, key_id, state="current", activated_us=now_us)
    _event(
        conn, station_id=station_id, mn=str(s["mn"]), key_id=key_id, event="activated",
        fingerprint=target["fingerprint"], actor=actor, ts_us=now_us,
        detail={"previous": [r["key_id"] for r in previous], "overlap_until_us": until if previous else None},
    )  # fmt: skip
    return True


def revoke_key(
    conn: Connection, *, mn: str, key_id: str | None, actor: str, reason: str, now_us: int
) -> list[str]:
    """Revoke one key (or, ``key_id=None``, every open key) of a station: frames under it are no
    longer decoded. Returns the key ids revoked; ``KeyNotFound`` when there is nothing to revoke."""
    s = _station_row(conn, mn=mn)
    sid = int(s["id"])
    rows = _open_keys(conn, sid) if key_id is None else [
        r for r in conn.execute(
            select(station_key).where(station_key.c.station_id == sid, station_key.c.key_id == key_id)
        ).mappings()
        if r["state"] not in ("revoked",)
    ]  # fmt: skip
    if not rows:
        raise KeyNotFound(mn, key_id)
    read_head(conn, for_update=True)  # lock the ledger head first, as the writer does
    done = []
    for r in rows:
        _set_state(conn, r["key_id"], state="revoked", ended_us=now_us)
        _event(
            conn, station_id=sid, mn=mn, key_id=r["key_id"], event="revoked", fingerprint=r["fingerprint"],
            actor=actor, ts_us=now_us, detail={"reason": reason, "was": r["state"]},
        )  # fmt: skip
        done.append(str(r["key_id"]))
    return done


def retire_expired(conn: Connection, *, now_us: int, actor: str = "gateway") -> list[str]:
    """``previous`` keys whose overlap window is over become ``retired`` (sealed); returns them."""
    k = station_key.c
    rows = list(
        conn.execute(
            select(station_key, station.c.mn)
            .select_from(station_key.join(station, station.c.id == k.station_id))
            .where(k.state == "previous", k.until_us.is_not(None), k.until_us <= now_us)
        ).mappings()
    )
    if rows:
        read_head(conn, for_update=True)  # lock the ledger head first, as the writer does
    for r in rows:
        _set_state(conn, r["key_id"], state="retired", ended_us=now_us)
        _event(
            conn, station_id=int(r["station_id"]), mn=str(r["mn"]), key_id=r["key_id"], event="retired",
            fingerprint=r["fingerprint"], actor=actor, ts_us=now_us,
            detail={"overlap_until_us": r["until_us"]},
        )  # fmt: skip
    return [str(r["key_id"]) for r in rows]


def due_for_rotation(conn: Connection, *, older_than_us: int) -> list[tuple[int, str]]:
    """(station id, key id) of current keys created before ``older_than_us`` with no pending
    successor: keys the platform should replace (HJ 212-2025 §6.4.3: every 90 days)."""
    k = station_key.c
    pending = {int(x) for x in conn.execute(select(k.station_id).where(k.state == "pending")).scalars()}
    rows = conn.execute(
        select(k.station_id, k.key_id).where(k.state == "current", k.created_us < older_than_us)
    ).all()
    return [(int(sid), str(kid)) for sid, kid in rows if int(sid) not in pending]


def adopt_legacy_keys(
    conn: Connection, vault: KeyVault, *, actor: str, now_us: int, overlap_s: float
) -> list[tuple[str, list[str]]]:
    """Move keys still in clear in ``station.sm4_key`` (registered before the key store) into the
    store, sealed, and clear the column. A key the policy would refuse is adopted all the same
    (refusing it would lose the station's data) and reported: (MN, problems) per adopted key,
    so the caller can have it replaced."""
    s = station.c
    rows = conn.execute(select(s.id, s.mn, s.sm4_key).where(s.sm4_key.is_not(None))).all()
    out: list[tuple[str, list[str]]] = []
    for sid, mn, text in rows:
        if not text:
            continue
        try:
            key = parse_key_text(str(text))
        except ValueError:
            log.warning("station %s: its registered SM4 key is malformed; left in place", mn)
            continue
        problems = key_problems(key)
        already = conn.execute(
            select(station_key.c.id).where(
                station_key.c.station_id == sid, station_key.c.fingerprint == vault.fingerprint(key)
            )
        ).first()
        if already is None:
            register_key(
                conn, vault, mn=str(mn), key_text=str(text), actor=actor, now_us=now_us, overlap_s=overlap_s,
                origin="imported", enforce_policy=False, encrypt=False,
            )  # fmt: skip
        conn.execute(update(station).where(s.id == sid).values(sm4_key=None))
        out.append((str(mn), problems))
    return out
