"""The checkpoint signing keys, kept outside the database in ``<state_dir>/keys/``.

Layout (the folder is 0700, private files 0600; nothing here is ever written to the database or
to a log, except public keys)::

    keys/keyring.json             the origin, every key's name, id, public key, dates, leaf index
    keys/<name>.pem               the active private key (PKCS #8 PEM)
    keys/retired/<name>.pem       private keys retired by a rotation (destroy them at will)
    keys/public/<name>.vkey       every public key the log has used, one line in note form
    keys/public/<name>.pem        the same key as a PEM SubjectPublicKeyInfo

Key names are ``envtrace-<origin>-<YYYYMMDD>`` (``-2``, ``-3`` ... if that name is taken), valid C2SP
note key names. ``public/`` keeps every key forever: a checkpoint signed by a retired key stays
verifiable. The ring only stores files; sealing key changes in the ledger and co-signing during a
rotation is ``envtrace.evidence.signer``'s work.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from envtrace.evidence.errors import KeyStoreError, NoSigningKey
from envtrace.ledger import LedgerError, SigningKey, VerifyingKey

KEYRING = "keyring.json"
_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One signing key of the log (its private half stays in a file)."""

    name: str
    key_id: str
    vkey: str
    created_ts: int
    retired_ts: int | None = None
    leaf_index: int | None = None

    @property
    def file_stem(self) -> str:
        return _FILE_UNSAFE.sub("_", self.name)

    def verifying_key(self) -> VerifyingKey:
        return VerifyingKey.from_vkey(self.vkey)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes, mode: int, *, exclusive: bool = False) -> None:
    """Write ``data`` with permissions ``mode`` (atomically by rename unless ``exclusive``)."""
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        target = path
    else:
        target = path.with_name(f".{path.name}.tmp")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if not exclusive:
        os.replace(target, path)
    _fsync_dir(path.parent)


class KeyRing:
    """The key folder of one database's log."""

    def __init__(self, keys_dir: Path) -> None:
        self.dir = keys_dir
        self.public_dir = keys_dir / "public"
        self.retired_dir = keys_dir / "retired"

    # ---------------------------------------------------------------------------- reading

    def _load(self) -> dict[str, object]:
        path = self.dir / KEYRING
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"origin": None, "keys": []}
        except (OSError, ValueError) as exc:
            raise KeyStoreError(path, f"unreadable key ring: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise KeyStoreError(path, "the key ring is not an object with a 'keys' list")
        return doc

    def origin(self) -> str | None:
        """The log origin the keys were made for (None before the first key)."""
        origin = self._load().get("origin")
        return origin if isinstance(origin, str) else None

    def entries(self) -> list[KeyInfo]:
        """Every key the log has had, oldest first."""
        out = []
        for item in self._load()["keys"]:  # type: ignore[attr-defined]
            try:
                out.append(KeyInfo(**item))
            except TypeError as exc:
                raise KeyStoreError(self.dir / KEYRING, f"bad key entry {item!r}: {exc}") from exc
        return out

    def active(self) -> KeyInfo | None:
        """The newest key that is not retired."""
        live = [k for k in self.entries() if k.retired_ts is None]
        return live[-1] if live else None

    def signing_key(self, info: KeyInfo) -> SigningKey:
        """The private half of ``info`` (active or retired)."""
        for folder in (self.dir, self.retired_dir):
            path = folder / f"{info.file_stem}.pem"
            if path.exists():
                mode = path.stat().st_mode & 0o777
                if mode & 0o077:
                    raise KeyStoreError(path, f"private key readable by others (mode {mode:o}): chmod 600")
                try:
                    key = SigningKey.from_pem(path.read_bytes())
                except (OSError, LedgerError) as exc:
                    raise KeyStoreError(path, f"unreadable private key: {exc}") from exc
                if key.verifying_key(info.name).to_vkey() != info.vkey:
                    raise KeyStoreError(path, f"the private key does not match the public key {info.vkey}")
                return key
        raise NoSigningKey(self.dir)

    def published(self) -> list[VerifyingKey]:
        """Every public key in ``public/*.vkey``: the keys outsiders are told to trust."""
        if not self.public_dir.is_dir():
            return []
        keys = []
        for path in sorted(self.public_dir.glob("*.vkey")):
            try:
                keys.append(VerifyingKey.from_vkey(path.read_text(encoding="ascii").strip()))
            except (OSError, UnicodeDecodeError, LedgerError) as exc:
                raise KeyStoreError(path, f"unreadable public key: {exc}") from exc
        return keys

    # ---------------------------------------------------------------------------- writing

    def _ensure_dirs(self) -> None:
        for folder in (self.dir, self.retired_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
        self.public_dir.mkdir(mode=0o755, parents=True, exist_ok=True)

    def _save(self, origin: str, keys: list[KeyInfo]) -> None:
        doc = {"origin": origin, "keys": [asdict(k) for k in keys]}
        _write_file(self.dir / KEYRING, json.dumps(doc, indent=2).encode() + b"\n", 0o600)

    def _new_name(self, origin: str, now: int) -> str:
        base = f"envtrace-{origin}-{time.strftime('%Y%m%d', time.gmtime(now))}"
        taken = {k.name for k in self.entries()}
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        return name

    def create(self, origin: str, now: int) -> KeyInfo:
        """Generate a key for ``origin``, publish its public half, make it the active key."""
        known = self.origin()
        if known is not None and known != origin:
            raise KeyStoreError(self.dir, f"the keys are for origin {known!r}, not {origin!r}")
        self._ensure_dirs()
        key = SigningKey.generate()
        name = self._new_name(origin, now)
        try:
            verifying = key.verifying_key(name)
        except LedgerError as exc:
            raise KeyStoreError(self.dir, f"cannot name a key {name!r}: {exc}") from exc
        info = KeyInfo(name, verifying.key_id.hex(), verifying.to_vkey(), now)
        _write_file(self.dir / f"{info.file_stem}.pem", key.to_pem(), 0o600, exclusive=True)
        _write_file(self.public_dir / f"{info.file_stem}.vkey", (info.vkey + "\n").encode(), 0o644)
        _write_file(self.public_dir / f"{info.file_stem}.pem", verifying.to_pem(), 0o644)
        self._save(origin, [*self.entries(), info])
        return info

    def retire(self, name: str, now: int) -> None:
        """Move ``name``'s private key to ``retired/``; its public key stays published."""
        keys = self.entries()
        origin = self.origin() or ""
        updated = []
        for info in keys:
            if info.name == name and info.retired_ts is None:
                source = self.dir / f"{info.file_stem}.pem"
                if source.exists():
                    os.replace(source, self.retired_dir / source.name)
                    _fsync_dir(self.dir)
                info = replace(info, retired_ts=now)
            updated.append(info)
        self._save(origin, updated)

    def set_leaf(self, name: str, leaf_index: int) -> None:
        """Record the ledger leaf that sealed key ``name``."""
        origin = self.origin() or ""
        self._save(
            origin, [replace(k, leaf_index=leaf_index) if k.name == name else k for k in self.entries()]
        )

    def require_active(self) -> KeyInfo:
        info = self.active()
        if info is None:
            raise NoSigningKey(self.dir)
        return info
