"""Vectors of the HJ 212 tests: every packet quoted in the shared specs, with its expected reading.

A helper module imported by name (``from hj212_vectors import PACKETS``); the data is in vectors/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


PACKETS: list[dict[str, Any]] = load_vectors("packets.json")
SM4_VECTORS: dict[str, Any] = load_vectors("sm4.json")
VALID = [v for v in PACKETS if v["strict"]["ok"]]


def frame(vector: dict[str, Any]) -> bytes:
    """The vector's packet as it travels: UTF-8 bytes and CR LF."""
    return str(vector["packet"]).encode("utf-8") + b"\r\n"
