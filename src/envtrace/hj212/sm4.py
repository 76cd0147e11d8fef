"""HJ 212-2025 §6.4 / appendix A.2: SM4 encryption of the CP region.

What the standard fixes (QUOTED in ``hj212-2025-and-hj75.md`` §1.3):

* SM4 (GB/T 32907), 16-byte key, ECB, no padding, over the bytes between ``CP=&&`` and the closing
  ``&&``, in 16-byte blocks; a tail shorter than 16 bytes stays in clear.
* The CRC and the length are computed over the **plaintext** segment, then the CP is encrypted, so
  a receiver decrypts first and checks the CRC after.
* Field->centre data commands 2000-2999, 1014 and 3020 shall be encrypted (``codes.must_encrypt``).

What it leaves open is how the cipher bytes travel. Both readings are supported:

* ``"raw"``: the cipher bytes themselves; the length field (plaintext length) stays exact, and the
  frame may then contain CR, LF, ``##`` and bytes >= 0x80 (the framer goes by the length field).
* ``"text"``: ``{0xE4,0x3E,...}`` as printed in appendix A.2, followed by the clear tail; the length
  field is the real text length (as one implementation does) or the plaintext length (as the PDF
  prints it); the decoder accepts both and says which.

The key test vector is A.2's ``0000000000000000`` (16 ASCII zeros).
"""

from __future__ import annotations

import functools
import string
from typing import Any, Literal

WireForm = Literal["plain", "raw", "text"]
KEY_SIZE = 16
BLOCK = 16

_HEX = frozenset(string.hexdigits)
_HEX_BYTES = frozenset(string.hexdigits.encode("ascii"))


def parse_key(text: str) -> bytes:
    """A key given as 32 hex digits or as 16 ASCII characters (A.2's ``0000000000000000``).

    >>> parse_key("0000000000000000") == b"0" * 16
    True
    >>> parse_key("30" * 16) == b"0" * 16
    True
    """
    if len(text) == 2 * KEY_SIZE and _HEX.issuperset(text):
        return bytes.fromhex(text)
    data = text.encode("utf-8")
    if len(text) == KEY_SIZE and text.isascii():
        return data
    raise ValueError(f"an SM4 key is 16 ASCII characters or 32 hex digits; got {len(text)} characters")


def check_key(key: bytes) -> bytes:
    """``key`` if it is 16 bytes long, else ``ValueError``."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"an SM4 key has {KEY_SIZE} bytes; got {len(key)}")
    return bytes(key)


def _ecb(key: bytes, data: bytes, *, encrypt: bool) -> bytes:
    cipher = _cipher(check_key(key))
    ctx = cipher.encryptor() if encrypt else cipher.decryptor()
    return bytes(ctx.update(data) + ctx.finalize())


@functools.lru_cache(maxsize=1024)
def _cipher(key: bytes) -> Any:
    """The SM4-ECB ``Cipher`` of a key: immutable, shared by all threads; building one (and importing
    its module) costs more than decrypting a packet's CP, so each key's is built once."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.SM4(key), modes.ECB())


def encrypt_region(plain: bytes, key: bytes) -> bytes:
    """Encrypt the whole 16-byte blocks of a CP region; the tail (< 16 bytes) stays in clear."""
    cut = len(plain) - len(plain) % BLOCK
    return _ecb(key, plain[:cut], encrypt=True) + plain[cut:] if cut else bytes(plain)


def decrypt_region(data: bytes, key: bytes) -> bytes:
    """Inverse of :func:`encrypt_region`."""
    cut = len(data) - len(data) % BLOCK
    return _ecb(key, data[:cut], encrypt=False) + data[cut:] if cut else bytes(data)


def to_text_form(region: bytes) -> bytes:
    """An encrypted region in the printed form: ``{0xE4,0x3E,...}`` then the clear tail."""
    cut = len(region) - len(region) % BLOCK
    if not cut:
        return bytes(region)
    return b"{" + b",".join(b"0x%02X" % b for b in region[:cut]) + b"}" + region[cut:]


def is_text_form(region: bytes) -> bool:
    """Whether a CP region starts like the printed cipher form (``{0x``)."""
    return region[:3] in (b"{0x", b"{0X")


def from_text_form(region: bytes) -> tuple[bytes, bytes, int]:
    """Parse ``{0xNN,...}tail`` into (cipher bytes, clear tail, length of the braces' text).

    Raises ``ValueError`` naming the first malformed element.
    """
    close = region.find(b"}")
    if not is_text_form(region) or close < 0:
        raise ValueError("the cipher text form must be {0xNN,0xNN,...} and it has no closing '}'")
    out = bytearray()
    for i, token in enumerate(region[1:close].split(b",")):
        item = token.strip()
        if len(item) != 4 or item[:2] not in (b"0x", b"0X") or not _HEX_BYTES.issuperset(item[2:]):
            raise ValueError(f"element {i} of the cipher text form is {token[:8]!r}, not 0xNN")
        out.append(int(item[2:], 16))
    return bytes(out), region[close + 1 :], close + 1
