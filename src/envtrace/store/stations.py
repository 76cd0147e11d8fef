"""Registry queries: stations (data loggers), their access passwords, enterprises, points, parameters.

Passwords
    The HJ 212 access password PW is kept only as a salted scrypt hash
    (``scrypt$N$r$p$salt$hash``, hex). Checking a password costs a few milliseconds, so callers
    that check every frame keep a ``PasswordCache``: a verified (hash, password) pair becomes a
    dictionary lookup. The cost parameters are modest on purpose (N=2048, r=8: about 6 ms here):
    HJ 212 passwords are six characters, and a gateway restarted under 10,000 stations must
    re-verify each of them once within seconds. The parameters travel inside each hash, so they
    can be raised later without invalidating stored hashes.

Approval
    A station enrolled on first use by the gateway is *pending* (``approved`` false); staff approve
    it (``approve_station``), and the approval is itself a ledger record.

Registry records
    Registering a station and every later change of its registry fields is sealed in the same
    transaction as a ``station_registry`` leaf (``registry_payload``): who, when, the event and the
    whole sealed state (``REGISTRY_FIELDS`` and a fingerprint of the password hash). ``envtrace
    verify`` compares each station's row with its newest such leaf, so a registry field edited in the
    database behind the platform's back (a station disabled, its encryption switched off, its
    password replaced) is found. The fingerprint is SHA-256 of the salted scrypt hash: it proves the
    hash unchanged without publishing the salt an offline guess would need.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from envtrace.store.errors import StationExists, StationNotFound
from envtrace.store.ledger_log import append, read_head
from envtrace.store.registry import STATION_KINDS, enterprise, monitoring_point, parameter, station

REGISTRY_KIND = "station_registry"
REGISTRY_FIELDS = (
    "kind", "name", "st", "edition", "point_id", "encrypted", "tolerant", "utc_offset_min", "enabled",
)  # fmt: skip
_BOOL_FIELDS = frozenset({"encrypted", "tolerant", "enabled"})

SCRYPT_N = 2048
SCRYPT_R = 8
SCRYPT_P = 1


def hash_password(pw: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash of ``pw``: ``scrypt$N$r$p$salt_hex$hash_hex``."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.scrypt(pw.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(pw: str, pw_hash: str) -> bool:
    """Whether ``pw`` matches ``pw_hash`` (constant-time compare); False for a malformed hash."""
    parts = pw_hash.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, want = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return False
    got = hashlib.scrypt(pw.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(want))
    return hmac.compare_digest(got, want)


class PasswordCache:
    """Remembers verified (hash, password) outcomes, so that checking a frame is a dict lookup.

    Keyed by the stored hash, so a password change (a new hash) invalidates the old entries by
    itself. Bounded: past ``limit`` entries the cache is cleared (each station then pays one
    scrypt again). Thread-safe for the single-assignment use made of it.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._known: dict[tuple[str, str], bool] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def lookup(self, pw: str, pw_hash: str) -> bool | None:
        """The remembered outcome, or None when this pair was never checked."""
        return self._known.get((pw_hash, pw))

    def check(self, pw: str, pw_hash: str) -> bool:
        """The outcome, computing (and remembering) it when needed."""
        known = self._known.get((pw_hash, pw))
        if known is not None:
            return known
        ok = verify_password(pw, pw_hash)
        self.remember(pw, pw_hash, ok=ok)
        return ok

    def remember(self, pw: str, pw_hash: str, *, ok: bool) -> None:
        with self._lock:
            if len(self._known) >= self._limit:
                self._known.clear()
            self._known[(pw_hash, pw)] = ok


@dataclass(frozen=True, slots=True)
class Station:
    """One registered data logger, as the gateway and the registry pages need it."""

    id: int
    mn: str
    kind: str
    name: str | None
    st: str | None
    edition: str
    pw_hash: str
    point_id: int | None
    encrypted: bool
    tolerant: bool
    utc_offset_min: int
    enabled: bool
    approved: bool
    enrolled_us: int | None
    sm4_key: str | None
    created_ts: int


def _station(row: RowMapping) -> Station:
    return Station(
        id=int(row["id"]),
        mn=row["mn"],
        kind=row["kind"],
        name=row["name"],
        st=row["st"],
        edition=row["edition"],
        pw_hash=row["pw_hash"],
        point_id=row["point_id"],
        encrypted=bool(row["encrypted"]),
        tolerant=bool(row["tolerant"]),
        utc_offset_min=int(row["utc_offset_min"]),
        enabled=bool(row["enabled"]),
        approved=bool(row["approved"]),
        enrolled_us=row["enrolled_us"],
        sm4_key=row["sm4_key"],
        created_ts=int(row["created_ts"]),
    )


def get_station(conn: Connection, mn: str) -> Station | None:
    row = conn.execute(select(station).where(station.c.mn == mn)).mappings().one_or_none()
    return None if row is None else _station(row)


def get_station_by_id(conn: Connection, station_id: int) -> Station | None:
    row = conn.execute(select(station).where(station.c.id == station_id)).mappings().one_or_none()
    return None if row is None else _station(row)


def registry_state(row: Mapping[Any, Any]) -> dict[str, object]:
    """The sealed registry state of a station row: ``REGISTRY_FIELDS`` and the password fingerprint."""
    state: dict[str, object] = {}
    for name in REGISTRY_FIELDS:
        value = row[name]
        if name in _BOOL_FIELDS:
            value = bool(value)
        elif name in ("point_id", "utc_offset_min") and value is not None:
            value = int(value)
        state["station_kind" if name == "kind" else name] = value  # "kind" names the leaf's kind
    state["pw_fingerprint"] = hashlib.sha256(str(row["pw_hash"]).encode("ascii")).hexdigest()
    return state


def registry_payload(row: Mapping[Any, Any], *, event: str, by: str | None, ts: int) -> dict[str, object]:
    """The payload of a ``station_registry`` leaf for ``row`` (a station row) after ``event``."""
    return {
        "station_id": int(row["id"]),
        "mn": str(row["mn"]),
        "event": event,
        "by": by,
        "ts": ts,
        **registry_state(row),
    }


def seal_registry(conn: Connection, station_id: int, *, event: str, by: str | None) -> int:
    """Append the station's current registry state as a ``station_registry`` leaf; its index."""
    row = conn.execute(select(station).where(station.c.id == station_id)).mappings().one_or_none()
    if row is None:
        raise StationNotFound(str(station_id))
    return append(conn, REGISTRY_KIND, registry_payload(row, event=event, by=by, ts=int(time.time())))


def change_registry(
    conn: Connection, before: Mapping[Any, Any], values: Mapping[str, object], *, by: str | None
) -> None:
    """Write ``values`` to the station row ``before`` (read in this transaction, after the ledger head
    was locked) and seal the new registry state when a sealed field changed."""
    sid = int(before["id"])
    conn.execute(update(station).where(station.c.id == sid).values(**values))
    after = conn.execute(select(station).where(station.c.id == sid)).mappings().one()
    if registry_state(after) != registry_state(before):
        append(conn, REGISTRY_KIND, registry_payload(after, event="updated", by=by, ts=int(time.time())))


def list_stations(conn: Connection, *, pending: bool | None = None) -> list[Station]:
    """Every station by MN; ``pending=True`` only those awaiting approval, False only approved."""
    query = select(station).order_by(station.c.mn)
    if pending is not None:
        query = query.where(station.c.approved == (not pending))
    return [_station(r) for r in conn.execute(query).mappings()]


def register_station(
    conn: Connection,
    *,
    mn: str,
    pw: str | None = None,
    pw_hash: str | None = None,
    kind: str = "other",
    name: str | None = None,
    st: str | None = None,
    edition: str = "2017",
    point_id: int | None = None,
    encrypted: bool = False,
    tolerant: bool = False,
    utc_offset_min: int = 480,
    approved: bool = True,
    enrolled_us: int | None = None,
    sm4_key: str | None = None,
    by: str | None = None,
    seal: bool = True,
) -> int:
    """Insert a station; give ``pw`` (hashed here) or an existing ``pw_hash``. Returns its id.

    The registration is sealed (``station_registry`` leaf, ``by`` the actor) unless ``seal`` is
    false: the gateway's enrolment on first use seals its own ``station_enrolment`` record instead.
    Raises ``StationExists`` for a known MN and ``ValueError`` for an unknown kind or no password.
    """
    if kind not in STATION_KINDS:
        raise ValueError(f"station kind {kind!r} is not one of {', '.join(STATION_KINDS)}")
    if pw_hash is None:
        if pw is None:
            raise ValueError(f"station {mn!r}: give pw or pw_hash")
        pw_hash = hash_password(pw)
    if conn.execute(select(station.c.id).where(station.c.mn == mn)).first() is not None:
        raise StationExists(mn)
    result = conn.execute(
        insert(station).values(
            mn=mn,
            kind=kind,
            name=name,
            st=st,
            edition=edition,
            pw_hash=pw_hash,
            point_id=point_id,
            encrypted=encrypted,
            tolerant=tolerant,
            utc_offset_min=utc_offset_min,
            approved=approved,
            approved_ts=int(time.time()) if approved else None,
            enrolled_us=enrolled_us,
            sm4_key=sm4_key,
            created_ts=int(time.time()),
        )
    )
    pk = result.inserted_primary_key
    if pk is None:
        raise StationNotFound(mn)
    if seal:
        seal_registry(conn, int(pk[0]), event="registered", by=by)
    return int(pk[0])


def update_station(
    conn: Connection,
    mn: str,
    *,
    pw: str | None = None,
    kind: str | None = None,
    name: str | None = None,
    st: str | None = None,
    edition: str | None = None,
    point_id: int | None = None,
    encrypted: bool | None = None,
    tolerant: bool | None = None,
    utc_offset_min: int | None = None,
    enabled: bool | None = None,
    sm4_key: str | None = None,
    by: str | None = None,
) -> Station:
    """Change the given fields of a station (None leaves a field as it is); returns the result.

    A change of a sealed registry field or of the password is sealed (``station_registry``)."""
    read_head(conn, for_update=True)  # lock the ledger head before the row, as the gateway's writer does
    before = conn.execute(select(station).where(station.c.mn == mn)).mappings().one_or_none()
    if before is None:
        raise StationNotFound(mn)
    values: dict[str, object] = {}
    if pw is not None and not verify_password(pw, str(before["pw_hash"])):  # same PW: keep its hash
        values["pw_hash"] = hash_password(pw)
    if kind is not None:
        if kind not in STATION_KINDS:
            raise ValueError(f"station kind {kind!r} is not one of {', '.join(STATION_KINDS)}")
        values["kind"] = kind
    for key, value in (
        ("name", name),
        ("st", st),
        ("edition", edition),
        ("point_id", point_id),
        ("encrypted", encrypted),
        ("tolerant", tolerant),
        ("utc_offset_min", utc_offset_min),
        ("enabled", enabled),
        ("sm4_key", sm4_key),
    ):
        if value is not None:
            values[key] = value
    if values:
        change_registry(conn, before, values, by=by)
    found = get_station(conn, mn)
    if found is None:
        raise StationNotFound(mn)
    return found


def approve_station(conn: Connection, mn: str, *, by: str) -> Station:
    """Approve a pending station; the approval is sealed as a ``station_approval`` leaf.

    Call inside a write transaction. Approving an approved station changes nothing.
    """
    found = get_station(conn, mn)
    if found is None:
        raise StationNotFound(mn)
    if found.approved:
        return found
    read_head(conn, for_update=True)  # lock the ledger head before the row, as the gateway's writer does
    now = int(time.time())
    conn.execute(
        update(station).where(station.c.id == found.id).values(approved=True, approved_ts=now, approved_by=by)
    )
    append(
        conn,
        "station_approval",
        {"station_id": found.id, "mn": mn, "by": by, "ts": now, "enrolled_us": found.enrolled_us},
    )
    approved = get_station(conn, mn)
    if approved is None:
        raise StationNotFound(mn)
    return approved


def upsert_enterprise(
    conn: Connection,
    *,
    code: str,
    name: str,
    city: str | None = None,
    county: str | None = None,
    industry: str | None = None,
    name_en: str | None = None,
) -> int:
    """The id of the enterprise with this code, inserting it when new."""
    found = conn.execute(select(enterprise.c.id).where(enterprise.c.code == code)).scalar()
    if found is not None:
        return int(found)
    result = conn.execute(
        insert(enterprise).values(
            code=code,
            name=name,
            name_en=name_en,
            city=city,
            county=county,
            industry=industry,
            created_ts=int(time.time()),
        )
    )
    pk = result.inserted_primary_key
    return int(pk[0]) if pk else 0


def upsert_point(
    conn: Connection,
    *,
    code: str,
    name: str,
    kind: str,
    enterprise_id: int | None = None,
    city: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
) -> int:
    """The id of the monitoring point with this code, inserting it when new."""
    found = conn.execute(select(monitoring_point.c.id).where(monitoring_point.c.code == code)).scalar()
    if found is not None:
        return int(found)
    if kind not in STATION_KINDS:
        raise ValueError(f"monitoring point kind {kind!r} is not one of {', '.join(STATION_KINDS)}")
    result = conn.execute(
        insert(monitoring_point).values(
            code=code,
            name=name,
            kind=kind,
            enterprise_id=enterprise_id,
            city=city,
            lat=lat,
            lon=lon,
            created_ts=int(time.time()),
        )
    )
    pk = result.inserted_primary_key
    return int(pk[0]) if pk else 0


@dataclass(frozen=True, slots=True)
class Parameter:
    code: str
    name_zh: str
    name_en: str
    unit: str | None
    kind: str | None


def upsert_parameters(conn: Connection, rows: Iterable[Parameter]) -> int:
    """Insert the parameters not yet known (by code); returns how many were added.

    The gateway seeds them from the codec's factor table at start-up; existing rows are kept as
    staff may have edited names or units.
    """
    known = set(conn.execute(select(parameter.c.code)).scalars())
    new = [
        {"code": p.code, "name_zh": p.name_zh, "name_en": p.name_en, "unit": p.unit, "kind": p.kind}
        for p in rows
        if p.code not in known
    ]
    unique = list({row["code"]: row for row in new}.values())
    if unique:
        conn.execute(insert(parameter), unique)
    return len(unique)


def list_parameters(conn: Connection) -> list[Parameter]:
    rows = conn.execute(select(parameter).order_by(parameter.c.code)).mappings()
    return [Parameter(r["code"], r["name_zh"], r["name_en"], r["unit"], r["kind"]) for r in rows]


def count_stations(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(station)).scalar_one())


def stations_by_ids(conn: Connection, ids: Sequence[int]) -> list[Station]:
    if not ids:
        return []
    return [_station(r) for r in conn.execute(select(station).where(station.c.id.in_(ids))).mappings()]
