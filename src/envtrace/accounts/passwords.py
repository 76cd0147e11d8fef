"""Password hashing (argon2id, RFC 9106 via argon2-cffi) and generated passwords."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from envtrace.accounts.errors import WeakPassword

MIN_LENGTH = 12
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# argon2id with OWASP's recommended minimum (m = 19 MiB, t = 2, p = 1): ~40 ms a verification on
# a 2-core server, so a burst of log-ins cannot starve the app (the library default, RFC 9106's
# low-memory profile with 64 MiB and p = 4, takes ~0.4 s there). Hashes made with other parameters
# are upgraded at the next successful log-in (``needs_rehash``).
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def generate_password(length: int = 20) -> str:
    """A random password from an alphabet without look-alike characters (~5.8 bits each)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(len(password), MIN_LENGTH)


def hash_password(password: str) -> str:
    check_strength(password)
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False for a mismatch or an unreadable hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def dummy_verify(password: str) -> None:
    """Spend the time of one verification, so an unknown user name takes as long as a known one."""
    verify_password(_DUMMY_HASH, password)


_DUMMY_HASH = _HASHER.hash(generate_password())
