"""``envtrace hj212``: decode, encode and check HJ 212 packets from the command line.

``envtrace hj212 decode [FILE]`` reads one packet per line (standard input without FILE), takes the
line's own CR/LF as the packet's tail, and prints one JSON object per packet, in order::

    {"ok": bool, "error": null | {"kind": "framing"|"length"|"crc"|"syntax", "message": str},
     "deviations": [str], "edition": "2005"|"2017"|"2025"|null,
     "header": {"QN": .., "ST": .., "CN": .., "PW": .., "MN": .., "Flag": .., "PNUM": .., "PNO": ..},
     "cp": {...}}

Header and CP values are the packet's own strings; absent header keys are omitted; ``header`` and
``cp`` are ``null`` when the text cannot be read. Blank lines are skipped. With ``--key`` (SM4,
HJ 212-2025) a CP that cannot be decrypted gives kind ``"crypto"``. ``--stream`` frames the input
as a TCP byte stream instead of lines (captures, raw-binary encrypted frames); bytes outside frames
then print as kind ``"framing"`` objects with ``"garbage": true``.

``envtrace hj212 encode [FILE]`` reads ``{"header": {...}, "cp": {...} | [[key, value], ...]}`` (one
JSON document, or one per line) and writes the frames, CR LF included, split when over 1024 bytes.

``envtrace hj212 crc SEGMENT`` prints the HJ 212 CRC of a data segment; given a whole frame
(``##...``) it says whether the frame's CRC matches and which CRC family it comes from.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, Literal

import typer

if TYPE_CHECKING:
    from envtrace.hj212 import Decoded


def _as_json(decoded: Decoded) -> dict[str, Any]:
    error = decoded.error
    return {
        "ok": decoded.ok,
        "error": None if error is None else {"kind": error.kind, "message": str(error)},
        "deviations": list(decoded.deviations),
        "edition": decoded.edition,
        "header": dict(decoded.header) if decoded.header is not None else None,
        "cp": dict(decoded.cp) if decoded.cp is not None else None,
    }


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    for number, line in enumerate(stream):
        packet = line.rstrip(b"\r\n")
        if number == 0 and packet.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark
            packet = packet[3:]
        if packet.strip():
            yield packet + b"\r\n"


def _write(out: BinaryIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")).encode("utf-8") + b"\n")


def _key(text: str | None) -> bytes | None:
    from envtrace.hj212 import parse_key

    if text is None:
        return None
    try:
        return parse_key(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--key") from exc


def _decode(stream: BinaryIO, out: BinaryIO, *, key: bytes | None, strict: bool, framed: bool) -> None:
    from envtrace.hj212 import Frame, Framer, decode

    if not framed:
        for packet in _lines(stream):
            _write(out, _as_json(decode(packet, key=key, strict=strict)))
        return
    framer = Framer()
    while True:
        chunk = stream.read(65536)
        events = framer.feed(chunk) if chunk else framer.flush()
        for event in events:
            if isinstance(event, Frame):
                _write(out, _as_json(decode(event.raw, key=key, strict=strict)))
            else:
                message = f"{len(event.raw)} bytes skipped: {event.reason}"
                error = {"kind": "framing", "message": message}
                _write(out, {"ok": False, "error": error, "garbage": True, "deviations": [],
                             "edition": None, "header": None, "cp": None})  # fmt: skip
        if not chunk:
            return


def _documents(text: str) -> list[Any]:
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _encode_one(document: Any, *, key: bytes | None, cipher_form: str) -> list[bytes]:
    from envtrace.hj212 import encode, encode_split

    if not isinstance(document, dict) or not isinstance(document.get("header"), dict):
        raise ValueError('each document must be an object {"header": {...}, "cp": ...}')
    header = document["header"]
    cp = document.get("cp", {})
    form: Literal["raw", "text"] = "text" if cipher_form == "text" else "raw"
    if isinstance(cp, str):
        return [encode(header, cp, key=key, cipher_form=form)]
    if isinstance(cp, list):
        if not all(isinstance(p, list | tuple) and len(p) == 2 for p in cp):
            raise ValueError("a cp list must hold [key, value] pairs")
        cp = [(str(k), v) for k, v in cp]
    elif not isinstance(cp, dict):
        raise ValueError("cp must be an object, a list of [key, value] pairs or a string")
    return encode_split(header, cp, key=key, cipher_form=form)


def register(app: typer.Typer) -> None:
    """Add the ``hj212`` command group (decode, encode, crc)."""
    group = typer.Typer(
        name="hj212",
        help="HJ 212 packets: decode to JSON lines, encode from JSON, compute CRCs.",
        no_args_is_help=True,
    )

    @group.command("decode")
    def decode_command(
        file: Annotated[
            Path | None, typer.Argument(help="Packets, one per line (default: standard input).")
        ] = None,
        tolerant: Annotated[
            bool,
            typer.Option("--tolerant", help="Accept known device deviations (Modbus CRC, +6 lengths, ...)."),
        ] = False,
        key: Annotated[
            str | None,
            typer.Option("--key", help="SM4 key: 16 ASCII characters or 32 hex digits (HJ 212-2025)."),
        ] = None,
        stream: Annotated[
            bool,
            typer.Option("--stream", help="Frame the input as a byte stream instead of lines."),
        ] = False,
    ) -> None:
        """Decode packets and print one JSON object per packet."""
        sm4_key = _key(key)
        out = sys.stdout.buffer
        if file is None:
            _decode(sys.stdin.buffer, out, key=sm4_key, strict=not tolerant, framed=stream)
        else:
            with file.open("rb") as handle:
                _decode(handle, out, key=sm4_key, strict=not tolerant, framed=stream)
        out.flush()

    @group.command("encode")
    def encode_command(
        file: Annotated[
            Path | None,
            typer.Argument(help='JSON {"header": {...}, "cp": {...}} (default: standard input).'),
        ] = None,
        key: Annotated[
            str | None,
            typer.Option("--key", help="Encrypt the CP with this SM4 key (HJ 212-2025)."),
        ] = None,
        cipher_form: Annotated[
            str,
            typer.Option("--cipher-form", help="With --key: 'raw' cipher bytes or 'text' {0xNN,...}."),
        ] = "raw",
    ) -> None:
        """Build conforming frames from JSON and write them (CR LF included)."""
        if cipher_form not in ("raw", "text"):
            raise typer.BadParameter("use 'raw' or 'text'", param_hint="--cipher-form")
        sm4_key = _key(key)
        text = file.read_text("utf-8") if file is not None else sys.stdin.read()
        try:
            frames = [
                frame
                for document in _documents(text)
                for frame in _encode_one(document, key=sm4_key, cipher_form=cipher_form)
            ]
        except ValueError as exc:  # json.JSONDecodeError is a ValueError too
            typer.echo(f"envtrace hj212 encode: {exc}", err=True)
            raise typer.Exit(2) from exc
        sys.stdout.buffer.write(b"".join(frames))
        sys.stdout.buffer.flush()

    @group.command("crc")
    def crc_command(
        segment: Annotated[str, typer.Argument(help="A data segment (QN=...&&), or a whole frame (##...).")],
    ) -> None:
        """Print the HJ 212 CRC of a data segment, or check the CRC of a whole frame."""
        from envtrace.hj212 import crc_variant, decode, format_crc, hj212_crc, parse_crc

        data = segment.encode("utf-8")
        if not data.startswith(b"##"):
            typer.echo(format_crc(hj212_crc(data)))
            return
        decoded = decode(data.rstrip(b"\r\n") + b"\r\n", strict=False)
        body = data.rstrip(b"\r\n")
        got = parse_crc(body[-4:])
        seg = decoded.segment if decoded.segment is not None else body[6:-4]
        expected = format_crc(hj212_crc(seg))
        if got is None:
            typer.echo(f"{expected}  (the frame does not end in a 4-hex-digit CRC)")
            raise typer.Exit(1)
        variant = crc_variant(seg, got)
        verdict = "matches" if variant == "hj212" else f"is {variant or 'not a known CRC'}"
        typer.echo(f"{expected}  (the frame carries {format_crc(got)}: {verdict})")
        if variant != "hj212":
            raise typer.Exit(1)

    app.add_typer(group, name="hj212")
