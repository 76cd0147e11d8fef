"""CRC of HJ 212 frames (HJ 212-2017 appendix A, unchanged in HJ 212-2025 appendix A.1).

The standard's routine: ``reg = 0xFFFF``; for each byte ``reg = (reg >> 8) ^ byte`` then eight
shift-right steps with polynomial ``0xA001``; the result is printed as 4 hex digits, high byte first,
over the UTF-8 bytes of the data segment only (not ``##``, the length, the CRC or CR LF).

It is not CRC-16/MODBUS (``reg ^= byte``), which many devices send instead. ``crc_variant`` names
the family a wrong CRC comes from, so tolerant decoding can accept it as a recorded deviation.

Notes on the algorithm (why the fast path is exact):

* After ``(reg >> 8) ^ byte`` the register holds 8 bits, so each step is ``reg = T[(reg >> 8) ^ b]``
  with ``T`` the CRC-16/ARC table; only 256 results are possible (effective strength ~ 8 bits).
* The high byte of ``T`` is GF(2)-linear, ``H[a ^ b] = H[a] ^ H[b]``, and as an 8x8 bit matrix
  ``M`` it has order 8 (``M**8`` is the identity). Hence the value entering the last table lookup
  is ``M**((n-1) % 8) (0xFF)`` XOR the sum over ``k`` of ``M**k`` applied to the XOR of all bytes
  lying ``k`` (mod 8) positions before the end. The bytes are XOR-folded to 8 with big-integer
  operations (C speed) and finished with eight table lookups. ``tests/hj212/test_crc.py`` checks it
  against the standard's bit loop.
"""

from __future__ import annotations

from typing import Literal

CrcVariant = Literal["hj212", "modbus", "modbus-byteswapped", "arc"]


def _arc_table() -> tuple[int, ...]:
    table = []
    for value in range(256):
        reg = value
        for _ in range(8):
            reg = (reg >> 1) ^ 0xA001 if reg & 1 else reg >> 1
        table.append(reg)
    return tuple(table)


_T = _arc_table()  # reflected 0xA001 table: CRC-16/ARC and CRC-16/MODBUS share it
_H = bytes(t >> 8 for t in _T)  # the 8x8 matrix M as a lookup table


def _power_tables() -> tuple[bytes, ...]:
    tables = []
    for k in range(8):
        row = bytearray()
        for value in range(256):
            for _ in range(k):
                value = _H[value]
            row.append(value)
        tables.append(bytes(row))
    return tuple(tables)


_M0, _M1, _M2, _M3, _M4, _M5, _M6, _M7 = _power_tables()
_START = tuple(table[0xFF] for table in (_M0, _M1, _M2, _M3, _M4, _M5, _M6, _M7))  # M**j (0xFF)


def hj212_crc(data: bytes | bytearray | memoryview) -> int:
    """HJ 212 CRC of ``data`` (the data segment's bytes) as an integer 0..0xFFFF.

    >>> segment = b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    >>> format_crc(hj212_crc(segment + b"Flag=5;CP=&&RtdInterval=30&&"))
    '1C80'
    """
    n = len(data)
    if n == 0:
        return 0xFFFF
    x = int.from_bytes(data, "big")  # the byte k places before the end sits at bits 8k..8k+7
    words = (n + 7) >> 3
    while words > 1:
        half = (words + 1) >> 1
        shift = half << 6
        x = (x >> shift) ^ (x & ((1 << shift) - 1))
        words = half
    return _T[
        _START[(n - 1) & 7]
        ^ _M0[x & 255]
        ^ _M1[(x >> 8) & 255]
        ^ _M2[(x >> 16) & 255]
        ^ _M3[(x >> 24) & 255]
        ^ _M4[(x >> 32) & 255]
        ^ _M5[(x >> 40) & 255]
        ^ _M6[(x >> 48) & 255]
        ^ _M7[x >> 56]
    ]


def _reflected(data: bytes | bytearray | memoryview, reg: int) -> int:
    table = _T
    for byte in bytes(data):
        reg = (reg >> 8) ^ table[(reg ^ byte) & 0xFF]
    return reg


def modbus_crc(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MODBUS (init 0xFFFF, ``reg ^= byte``, poly 0xA001): the usual wrong CRC."""
    return _reflected(data, 0xFFFF)


def arc_crc(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/ARC (init 0x0000, ``reg ^= byte``, poly 0xA001)."""
    return _reflected(data, 0x0000)


def crc_variant(segment: bytes | bytearray | memoryview, got: int) -> CrcVariant | None:
    """Which CRC family produced ``got`` for ``segment``: HJ 212 first, then the known mistakes.

    Returns ``"hj212"``, ``"modbus"``, ``"modbus-byteswapped"`` (Modbus with its two bytes printed
    in the other order), ``"arc"`` or ``None`` (no known family: corruption or another routine).
    """
    if got == hj212_crc(segment):
        return "hj212"
    modbus = modbus_crc(segment)
    if got == modbus:
        return "modbus"
    if got == ((modbus >> 8) | ((modbus & 0xFF) << 8)):
        return "modbus-byteswapped"
    if got == arc_crc(segment):
        return "arc"
    return None


_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


def parse_crc(field: bytes | bytearray | str) -> int | None:
    """The value of a 4-hex-digit CRC field (either case), or ``None`` when it is not one."""
    data = field.encode("ascii", errors="replace") if isinstance(field, str) else bytes(field)
    if len(data) != 4 or not _HEX_DIGITS.issuperset(data):
        return None
    return int(data, 16)


def format_crc(value: int) -> str:
    """A CRC as the standard prints it: 4 upper-case hex digits, high byte first."""
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"CRC value {value!r} is outside 0..0xFFFF")
    return f"{value:04X}"
