"""``envtrace hj212``: run the installed command as acceptance does (subprocess, JSON lines)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ENVTRACE = REPO / ".venv" / "bin" / "envtrace"
VECTORS = REPO / "tests" / "hj212" / "vectors"
PACKETS: list[dict[str, Any]] = json.loads((VECTORS / "packets.json").read_text(encoding="utf-8"))
SM4_VECTORS: dict[str, Any] = json.loads((VECTORS / "sm4.json").read_text(encoding="utf-8"))

KEYS = {"ok", "error", "deviations", "edition", "header", "cp"}


def envtrace(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    if not ENVTRACE.exists():
        pytest.fail(f"{ENVTRACE} is missing: run `make test` (it installs the package into .venv)")
    return subprocess.run([str(ENVTRACE), "hj212", *args], input=stdin, capture_output=True, timeout=60)


def lines(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode("utf-8").splitlines()]


def test_decode_file_prints_one_json_object_per_packet(tmp_path: Path) -> None:
    packets = tmp_path / "in.txt"
    body = "\n".join(v["packet"] for v in PACKETS) + "\n\n"  # a trailing blank line is skipped
    packets.write_text(body.replace("\n", "\r\n", 3), encoding="utf-8")  # some CRLF, some LF
    result = envtrace("decode", str(packets))
    assert result.returncode == 0, result.stderr
    out = lines(result.stdout)
    assert len(out) == len(PACKETS)
    for got, vector in zip(out, PACKETS, strict=True):
        assert set(got) == KEYS
        assert got["ok"] is vector["strict"]["ok"]
        assert (got["error"] or {}).get("kind") == vector["strict"]["error"]
        if got["error"] is not None:
            assert set(got["error"]) == {"kind", "message"}
            assert got["error"]["message"]
        assert got["deviations"] == vector["deviations"]
        assert got["edition"] == vector["edition"]
        assert got["header"] == vector["header"]
        assert got["cp"] == vector["cp"]


def test_decode_stdin_tolerant_and_missing_crlf() -> None:
    f2 = next(v["packet"] for v in PACKETS if v["source"].endswith("F2"))
    strict = lines(envtrace("decode", stdin=f2.encode()).stdout)
    tolerant = lines(envtrace("decode", "--tolerant", stdin=f2.encode()).stdout)
    assert strict[0]["ok"] is False
    assert strict[0]["error"]["kind"] == "crc"
    assert "crc:modbus" in strict[0]["deviations"]
    assert tolerant[0]["ok"] is True
    assert tolerant[0]["error"] is None


def test_decode_skips_a_byte_order_mark() -> None:
    (got,) = lines(envtrace("decode", stdin=b"\xef\xbb\xbf" + PACKETS[0]["packet"].encode() + b"\n").stdout)
    assert got["ok"] is True


def test_decode_garbage_line_is_a_framing_error() -> None:
    (got,) = lines(envtrace("decode", stdin=b"hello\n").stdout)
    assert got == {"ok": False, "error": got["error"], "deviations": [], "edition": None, "header": None,
                   "cp": None}  # fmt: skip
    assert got["error"]["kind"] == "framing"


def test_decode_with_key_and_stream_mode() -> None:
    example = SM4_VECTORS["examples"][0]
    encoded = envtrace("encode", "--key", SM4_VECTORS["key_ascii"],
                       stdin=json.dumps(_document(example["plaintext"])).encode())  # fmt: skip
    assert encoded.returncode == 0, encoded.stderr
    assert bytes.fromhex(example["cipher_hex"]) in encoded.stdout  # raw cipher bytes, CR/LF inside
    stream = b"junk" + encoded.stdout + example["plaintext"].encode() + b"\r\n"
    out = lines(envtrace("decode", "--stream", "--key", SM4_VECTORS["key_ascii"], stdin=stream).stdout)
    assert [o["ok"] for o in out] == [False, True, True]
    assert out[0].get("garbage") is True
    assert out[0]["error"]["kind"] == "framing"
    assert out[1]["cp"] == out[2]["cp"]
    assert out[1]["header"]["CN"] == "2051"
    wrong = lines(envtrace("decode", "--stream", "--key", "1" * 16, stdin=encoded.stdout).stdout)
    assert wrong[0]["error"]["kind"] == "crypto"


def _document(packet: str) -> dict[str, Any]:
    from envtrace.hj212 import parse

    parsed = parse(packet.encode())
    return {"header": parsed.header, "cp": [list(p) for p in parsed.cp]}


def test_encode_reproduces_a_vector_from_json() -> None:
    vector = next(v for v in PACKETS if v["source"].endswith("app. C CN 2011"))
    document = {"header": vector["header"], "cp": vector["cp"]}
    result = envtrace("encode", stdin=json.dumps(document).encode())
    assert result.returncode == 0, result.stderr
    assert result.stdout == vector["packet"].encode() + b"\r\n"


def test_encode_rejects_bad_input() -> None:
    result = envtrace("encode", stdin=b'{"header": {"ST": "32"}, "cp": {}}')
    assert result.returncode == 2
    assert b"required" in result.stderr
    assert envtrace("encode", stdin=b"not json").returncode == 2


def test_crc_of_a_segment_and_of_a_frame() -> None:
    segment = PACKETS[0]["packet"][6:-4]
    assert envtrace("crc", segment).stdout.decode().strip() == "1C80"
    ok = envtrace("crc", PACKETS[0]["packet"])
    assert ok.returncode == 0
    assert b"matches" in ok.stdout
    f3 = next(v["packet"] for v in PACKETS if v["source"].endswith("F3"))
    bad = envtrace("crc", f3)
    assert bad.returncode == 1
    assert b"FCC1" in bad.stdout
    assert b"modbus" in bad.stdout


def test_bad_key_is_a_usage_error() -> None:
    result = envtrace("decode", "--key", "short", stdin=b"")
    assert result.returncode == 2
    assert b"--key" in result.stderr
