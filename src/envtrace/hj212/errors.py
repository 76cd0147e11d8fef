"""Errors of the HJ 212 codec.

Every error carries the offending frame (``raw``, the bytes as received) and a ``kind`` naming the
layer that rejected it. Messages name the values involved and the start of the frame, so an operator
reading a log line can find the packet in the sealed raw store.

::

    HJ212Error (Exception)             .raw: bytes, .kind, .reason
    ├── FramingError          kind="framing"   no "##", no 4-hex CRC at the end, truncated frame
    ├── LengthMismatch        kind="length"    length field malformed, disagreeing or over 1024
    ├── CrcMismatch           kind="crc"       HJ 212 CRC (appendix A) does not match
    ├── PacketSyntaxError     kind="syntax"    data segment does not follow the grammar
    └── DecryptionError       kind="crypto"    HJ 212-2025 SM4 CP cannot be decrypted

``decode`` never raises these: it returns them in ``Decoded.error``. ``parse`` raises them. Encoder
misuse (a bad argument from our own code) raises ``ValueError``, not an ``HJ212Error``: it is not a
fault of a received packet.
"""

from __future__ import annotations

from typing import ClassVar, Literal

ErrorKind = Literal["framing", "length", "crc", "syntax", "crypto"]

_SHOWN = 48  # bytes of the frame quoted in a message


def frame_start(raw: bytes) -> str:
    """The first bytes of a frame as a readable literal (non-ASCII bytes escaped), for messages."""
    if raw.endswith(b"\r\n"):
        raw = raw[:-2]
    head = raw[:_SHOWN].decode("ascii", errors="backslashreplace")
    head = head.replace("\r", "\\r").replace("\n", "\\n")
    return head + ("..." if len(raw) > _SHOWN else "")


class HJ212Error(Exception):
    """Base of every error about a received HJ 212 frame."""

    kind: ClassVar[ErrorKind]

    def __init__(self, reason: str, *, raw: bytes) -> None:
        self.reason = reason
        self.raw = bytes(raw)
        super().__init__(f"{reason} (frame starts '{frame_start(self.raw)}')")

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[HJ212Error], state: dict[str, object]) -> HJ212Error:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, f"{err.reason} (frame starts '{frame_start(err.raw)}')")
    return err


class FramingError(HJ212Error):
    """The bytes are not an HJ 212 frame: ``##``, 4-digit length, segment, 4 hex CRC, CR LF."""

    kind = "framing"


class LengthMismatch(HJ212Error):
    """The length field is malformed, disagrees with the data segment, or exceeds 1024 bytes.

    ``declared`` is the value of the length field (``None`` when it is not a number), ``actual`` the
    number of UTF-8 bytes of the data segment.
    """

    kind = "length"

    def __init__(self, reason: str, *, declared: int | None, actual: int, raw: bytes) -> None:
        self.declared = declared
        self.actual = actual
        super().__init__(reason, raw=raw)


class CrcMismatch(HJ212Error):
    """The CRC field does not match the HJ 212 CRC of the (plaintext) data segment.

    ``expected`` is the HJ 212 CRC computed here, ``actual`` the value the frame carries, ``variant``
    the CRC family that would produce ``actual`` ("modbus", "modbus-byteswapped", "arc") or ``None``.
    """

    kind = "crc"

    def __init__(self, reason: str, *, expected: int, actual: int, variant: str | None, raw: bytes) -> None:
        self.expected = expected
        self.actual = actual
        self.variant = variant
        super().__init__(reason, raw=raw)


class PacketSyntaxError(HJ212Error):
    """The data segment does not follow the HJ 212 grammar (header fields, ``CP=&&...&&``)."""

    kind = "syntax"


class DecryptionError(HJ212Error):
    """An HJ 212-2025 SM4-encrypted CP cannot be turned back into text with the given key."""

    kind = "crypto"
