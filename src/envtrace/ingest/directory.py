"""The gateway's in-memory view of the station registry, and the password check per frame.

Loaded from the database at start-up and refreshed every ``refresh_interval_s`` (stations added,
approved or disabled by staff while the gateway runs). A verified (password hash, PW) pair is
remembered (``PasswordCache``), so checking a frame is a dictionary lookup; the first check of a
station after a start costs one scrypt, done off the event loop by the auth workers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from envtrace.store import PasswordCache, Station, get_station, list_stations


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of checking one (MN, PW): a known station and whether the PW matched, or unknown."""

    station: Station | None
    pw_ok: bool


class StationDirectory:
    """Stations by MN plus the password cache; safe to read from the loop and the workers."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._by_mn: dict[str, Station] = {}
        self._by_id: dict[int, Station] = {}
        self._alias: dict[str, Station] = {}  # MN a station is being moved to (CN 1002 in flight)
        self.passwords = PasswordCache()
        self._lock = threading.Lock()

    def load(self) -> int:
        """(Re)load every station; returns how many there are."""
        with self._engine.connect() as conn:
            stations = list_stations(conn)
        with self._lock:
            self._by_mn = {s.mn: s for s in stations}
            self._by_id = {s.id: s for s in stations}
        return len(stations)

    def get(self, mn: str) -> Station | None:
        found = self._by_mn.get(mn)
        if found is None and self._alias:
            return self._alias.get(mn)
        return found

    def alias(self, mn: str, station: Station) -> None:
        """Frames with ``mn`` count as ``station``'s (the platform asked it to take that MN)."""
        with self._lock:
            self._alias[mn] = station

    def unalias(self, mn: str) -> None:
        with self._lock:
            self._alias.pop(mn, None)

    def by_id(self, station_id: int) -> Station | None:
        return self._by_id.get(station_id)

    def put(self, station: Station) -> None:
        with self._lock:
            self._by_mn[station.mn] = station
            self._by_id[station.id] = station

    def __len__(self) -> int:
        return len(self._by_mn)

    def quick(self, mn: str, pw: str) -> Verdict | None:
        """The verdict without any I/O or hashing, or None when that needs the slow path."""
        station = self._by_mn.get(mn)
        if station is None:
            station = self._alias.get(mn) if self._alias else None
            if station is None:
                return None
        ok = self.passwords.lookup(pw, station.pw_hash)
        return None if ok is None else Verdict(station, ok)

    def slow(self, mn: str, pw: str) -> Verdict:
        """The verdict, looking the MN up in the database and running scrypt as needed (blocking:
        call from a worker thread)."""
        station = self.get(mn)
        if station is None:
            with self._engine.connect() as conn:
                station = get_station(conn, mn)
            if station is None:
                return Verdict(None, pw_ok=False)
            self.put(station)
        return Verdict(station, self.passwords.check(pw, station.pw_hash))
