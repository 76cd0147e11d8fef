"""Ed25519 keys for signed notes (C2SP signed-note), wrapping `cryptography`.

A note signer is a key *name* plus an Ed25519 key. Signature lines carry a 4-byte key ID, which
C2SP signed-note recommends computing as the first four bytes of
SHA-256(key name || 0x0A || 0x01 || 32-byte public key), 0x01 being the Ed25519 signature type.
A verifier matches a signature line by both name and key ID, so `VerifyingKey` holds its name.

Verifier keys travel as PEM (SubjectPublicKeyInfo) files or as the one-line note form
`<name>+<hex key ID>+<base64(0x01 || public key)>` understood by the Go `sumdb/note` tooling.
Signing keys are PEM (PKCS#8, optionally encrypted) or their raw 32-byte seed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from envtrace.ledger.errors import InvalidKey

__all__ = ["ED25519_TYPE", "SigningKey", "VerifyingKey", "check_key_name", "note_key_id"]

ED25519_TYPE = 0x01
"""C2SP signed-note signature type byte of Ed25519."""


def check_key_name(name: str) -> None:
    """Raise `InvalidKey` unless `name` is a usable note key name.

    C2SP signed-note: non-empty, no Unicode spaces, no plus sign; a note may not hold control
    characters either.
    """
    if not isinstance(name, str) or not name:
        raise InvalidKey(f"a key name must be a non-empty string, got {name!r}")
    for char in name:
        if char == "+" or char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F:
            raise InvalidKey(f"a key name may not contain spaces, '+' or control characters: {name!r}")


def note_key_id(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte note key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    check_key_name(name)
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_TYPE]) + public_key).digest()[:4]


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class VerifyingKey:
    """An Ed25519 public key under a note key name; compares by name and key.

    >>> vk = VerifyingKey.from_vkey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    >>> vk.key_id.hex()
    'c74f20a3'
    """

    __slots__ = ("_key", "key_id", "name", "raw")

    name: str
    raw: bytes
    key_id: bytes
    _key: Ed25519PublicKey

    def __init__(self, name: str, raw: bytes) -> None:
        """Make a verifier from a key name and a raw 32-byte Ed25519 public key."""
        if not isinstance(raw, bytes) or len(raw) != 32:
            raise InvalidKey("an Ed25519 public key is 32 raw bytes")
        key = Ed25519PublicKey.from_public_bytes(raw)  # any 32 bytes load; bad points fail to verify
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "key_id", note_key_id(name, raw))
        object.__setattr__(self, "_key", key)

    def __setattr__(self, attr: str, value: object) -> None:
        raise AttributeError(f"VerifyingKey is immutable (cannot set {attr})")

    @classmethod
    def from_raw(cls, name: str, raw: bytes) -> VerifyingKey:
        """Same as the constructor: a key name and a raw 32-byte public key."""
        return cls(name, raw)

    @classmethod
    def from_pem(cls, name: str, pem: bytes | str) -> VerifyingKey:
        """Load a SubjectPublicKeyInfo PEM holding an Ed25519 public key."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidKey(f"cannot read the public key PEM: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidKey(f"the PEM holds a {type(key).__name__}, not an Ed25519 public key")
        return cls(name, _public_raw(key))

    def to_pem(self) -> bytes:
        """Return the SubjectPublicKeyInfo PEM of the public key (the name is not included)."""
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_vkey(cls, vkey: str) -> VerifyingKey:
        """Parse the note verifier-key form `<name>+<hex key ID>+<base64(0x01 || key)>`.

        The key ID in the text must equal the one computed from the name and key.
        """
        name, sep1, rest = vkey.partition("+")
        hex_id, sep2, b64 = rest.partition("+")
        if not (sep1 and sep2) or len(hex_id) != 8:
            raise InvalidKey(f"not a verifier key <name>+<key id>+<key>: {vkey!r}")
        try:
            claimed_id = bytes.fromhex(hex_id)
            blob = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise InvalidKey(f"bad key id or key encoding in {vkey!r}") from exc
        if hex_id != hex_id.lower() or base64.b64encode(blob).decode() != b64:
            raise InvalidKey(f"non-canonical verifier key {vkey!r}")
        if len(blob) != 33 or blob[0] != ED25519_TYPE:
            raise InvalidKey(f"not an Ed25519 verifier key (type 0x01 + 32 bytes): {vkey!r}")
        key = cls(name, blob[1:])
        if key.key_id != claimed_id:
            raise InvalidKey(f"key id {hex_id} does not match the key, which has {key.key_id.hex()}")
        return key

    def to_vkey(self) -> str:
        """Return the note verifier-key form `<name>+<hex key ID>+<base64(0x01 || key)>`."""
        blob = base64.b64encode(bytes([ED25519_TYPE]) + self.raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Return whether `signature` is this key's Ed25519 signature of `message`."""
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyingKey):
            return NotImplemented
        return (self.name, self.raw) == (other.name, other.raw)

    def __hash__(self) -> int:
        return hash((self.name, self.raw))

    def __repr__(self) -> str:
        return f"VerifyingKey({self.to_vkey()!r})"


class SigningKey:
    """An Ed25519 private key. It has no name: the name is given when signing.

    The repr never shows key material.
    """

    __slots__ = ("_key", "public_raw")

    _key: Ed25519PrivateKey
    public_raw: bytes

    def __init__(self, key: Ed25519PrivateKey) -> None:
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "public_raw", _public_raw(key.public_key()))

    def __setattr__(self, attr: str, value: object) -> None:
        raise AttributeError(f"SigningKey is immutable (cannot set {attr})")

    @classmethod
    def generate(cls) -> SigningKey:
        """Make a new random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_raw(cls, seed: bytes) -> SigningKey:
        """Load a key from its raw 32-byte RFC 8032 seed."""
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise InvalidKey("an Ed25519 private key seed is 32 raw bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def to_raw(self) -> bytes:
        """Return the raw 32-byte seed. Keep it secret."""
        return self._key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    @classmethod
    def from_pem(cls, pem: bytes | str, password: bytes | None = None) -> SigningKey:
        """Load a PKCS#8 PEM private key (encrypted when `password` is given)."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidKey(f"cannot read the private key PEM: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidKey(f"the PEM holds a {type(key).__name__}, not an Ed25519 private key")
        return cls(key)

    def to_pem(self, password: bytes | None = None) -> bytes:
        """Return the PKCS#8 PEM, encrypted with `password` when one is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def verifying_key(self, name: str) -> VerifyingKey:
        """Return the public half under key name `name`."""
        return VerifyingKey(name, self.public_raw)

    def key_id(self, name: str) -> bytes:
        """Return the 4-byte note key ID of this key under `name`."""
        return note_key_id(name, self.public_raw)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of `message`."""
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(public={self.public_raw.hex()})"
