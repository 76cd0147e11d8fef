"""Stream framing: TCP bytes in, ``Frame`` and ``Garbage`` events out (sans I/O).

A frame is ``##``, a 4-digit length, the data segment, a 4-hex-digit CRC and CR LF (HJ 212-2017
table 2). The framer works on bytes and never decodes text, because an HJ 212-2025 CP in the raw
SM4 wire form may contain CR, LF, ``##`` and bytes >= 0x80.

How a frame's end is found, starting at a ``##``:

1. **Length field first.** With a 4-digit length ``L``, the segment should end at ``6 + L`` with the
   closing ``&&`` of ``CP=&&...&&`` followed by 4 hex digits. If so, that is the frame.
2. **Terminator scan as fallback**, for the length deviations of real devices (+6, characters vs
   UTF-8 bytes, 3-digit lengths, wrong values): the first ``&&`` + 4 hex digits followed by CR LF
   or by the next ``##``. A terminator found *before* the declared end wins (a length that counts too
   much would otherwise hold the frame until more bytes arrive); one found after it is used only when
   the declared end is not a frame end.
3. A frame found by scanning that contains a new ``##`` + 4 digits before its terminator was cut
   short (a device restarted mid-packet): the bytes before the new header are reported as garbage.
4. CR LF after the CRC belongs to the frame (so does a bare LF, a deviation some devices have).
   When other bytes follow the CRC (packets back to back without CR LF) the frame ends at the CRC.
   When nothing follows yet, the frame is held until the next bytes arrive or ``flush()`` is
   called, so that a frame's bytes never depend on where TCP cut the stream.

Every byte fed comes out exactly once, in order, in a ``Frame`` or a ``Garbage`` event: bytes
outside frames are reported (the gateway quarantines them), never dropped. Memory is bounded: a
``##`` with no frame end within ``max_frame`` bytes is reported as garbage and the search moves on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

DEFAULT_MAX_FRAME = 16384  # bytes; a conforming frame is at most 1036, the {0x..} form ~5.2 kB

_TERMINATOR = re.compile(rb"&&[0-9A-Fa-f]{4}(?:\r?\n|(?=##))")
_TERMINATOR_AT_END = re.compile(rb"&&[0-9A-Fa-f]{4}(?:\r?\n|(?=##)|\Z)")
_INNER_HEADER = re.compile(rb"##[0-9]{4}")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_HASH = 0x23
_CR = 0x0D
_LF = 0x0A


@dataclass(frozen=True, slots=True)
class Frame:
    """The bytes of one frame, from ``##`` through CR LF (or through the CRC when CR LF is missing;
    through a bare LF when the device ends lines with LF only). ``crlf``: the frame ends in CR LF.

    ``method`` says how its end was found: ``"length"`` (the length field) or ``"scan"`` (terminator
    scan after the length field failed, i.e. a length deviation the decoder will report).
    """

    raw: bytes
    method: Literal["length", "scan"]
    crlf: bool


@dataclass(frozen=True, slots=True)
class Garbage:
    """Bytes skipped while looking for frames, with the reason."""

    raw: bytes
    reason: str


FrameEvent = Frame | Garbage

OUTSIDE = "bytes outside a frame"
CUT_SHORT = "frame cut short: a new frame header follows before its end"
TRUNCATED = "incomplete frame at the end of the stream"


class Framer:
    """Incremental HJ 212 framer. ``feed`` bytes as they arrive, ``flush`` at end of stream.

    >>> f = Framer()
    >>> f.feed(b"xx##0087QN=20240601085857223;ST=32;CN=1011;PW=123456;")
    [Garbage(raw=b'xx', reason='bytes outside a frame')]
    >>> [type(e).__name__ for e in f.feed(b"MN=010000A8900016F000169DC0;Flag=9;CP=&&&&2200\\r\\n")]
    ['Frame']

    A frame whose CR LF has not arrived yet is held; call ``flush()`` after an idle period to release
    it (the framer stays usable afterwards).
    """

    __slots__ = ("_buf", "_max", "_resume")

    def __init__(self, *, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if max_frame < 16:
            raise ValueError(f"max_frame {max_frame} is too small for any HJ 212 frame")
        self._buf = bytearray()
        self._max = max_frame
        self._resume = 2  # offset from the held frame's start where the terminator scan resumes

    @property
    def buffered(self) -> int:
        """Bytes held, waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[FrameEvent]:
        """Add received bytes; return the frames and garbage they complete, in stream order."""
        self._buf += chunk
        return self._drain(final=False)

    def flush(self) -> list[FrameEvent]:
        """End of stream (or idle): release a held frame, report any remaining bytes as garbage."""
        events = self._drain(final=True)
        if self._buf:
            events.append(Garbage(bytes(self._buf), TRUNCATED))
            self._buf.clear()
        self._resume = 2
        return events

    def _drain(self, *, final: bool) -> list[FrameEvent]:
        buf = self._buf
        events: list[FrameEvent] = []
        pos = 0
        n = len(buf)
        while pos < n:
            start = buf.find(b"##", pos)
            if start < 0:
                keep = 1 if buf[n - 1] == _HASH and not final else 0
                if n - keep > pos:
                    events.append(Garbage(bytes(buf[pos : n - keep]), OUTSIDE))
                pos = n - keep
                break
            while start + 2 < n and buf[start + 2] == _HASH:  # "###0101": the header is the last "##"
                start += 1
            if start > pos:
                events.append(Garbage(bytes(buf[pos:start]), OUTSIDE))
                pos = start
            end = self._frame_end(buf, pos, final=final)
            if end is None:
                if n - pos < self._max + 2:
                    break
                nxt = buf.find(b"##", pos + 2)
                stop = nxt if nxt >= 0 else n - (buf[n - 1] == _HASH)
                self._resume = 2
                events.append(Garbage(bytes(buf[pos:stop]), f"no frame end within {self._max} bytes"))
                pos = stop
                continue
            stop, method = end
            self._resume = 2
            if method == "cut":
                events.append(Garbage(bytes(buf[pos:stop]), CUT_SHORT))
            else:
                raw = bytes(buf[pos:stop])
                events.append(Frame(raw, method, raw.endswith(b"\r\n")))
            pos = stop
        if pos:
            del buf[:pos]
        return events

    def _frame_end(
        self, buf: bytearray, s: int, *, final: bool
    ) -> tuple[int, Literal["length", "scan", "cut"]] | None:
        """Where the frame starting at ``s`` ends, or ``None`` when more bytes are needed."""
        n = len(buf)
        limit = min(n, s + self._max)
        if n - s < 6 and not final:
            return None
        pattern = _TERMINATOR_AT_END if final and limit == n else _TERMINATOR
        terminator = pattern.search(buf, s + self._resume, limit)
        if terminator is None and not final:
            self._resume = max(2, limit - s - 8)  # a terminator may still complete in the last bytes
        field = buf[s + 2 : s + 6]
        if len(field) == 4 and field.isdigit():
            seg_end = s + 6 + int(field)
            crc_end = seg_end + 4
            early = terminator is not None and terminator.start() + 2 < seg_end
            if (
                not early
                and crc_end <= limit
                and buf[seg_end - 2 : seg_end] == b"&&"
                and _HEX.issuperset(buf[seg_end:crc_end])
            ):
                return self._with_crlf(buf, crc_end, final=final, method="length")
        if terminator is None:
            return None
        inner = _INNER_HEADER.search(buf, s + 2, terminator.start())
        if inner is not None:
            return inner.start(), "cut"
        return self._with_crlf(buf, terminator.start() + 6, final=final, method="scan")

    @staticmethod
    def _with_crlf(
        buf: bytearray, crc_end: int, *, final: bool, method: Literal["length", "scan"]
    ) -> tuple[int, Literal["length", "scan", "cut"]] | None:
        n = len(buf)
        if crc_end < n and buf[crc_end] == _LF:  # a bare LF tail (a deviation the decoder reports)
            return crc_end + 1, method
        if crc_end + 2 <= n:
            return (crc_end + 2, method) if buf[crc_end : crc_end + 2] == b"\r\n" else (crc_end, method)
        if final:
            return crc_end, method
        if crc_end == n or buf[crc_end] == _CR:
            return None  # the CR LF (or the first byte after the CRC) is still to come
        return crc_end, method
