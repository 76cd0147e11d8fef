"""The team's independent station client (``../shared/tools/hj212_station.py``, written apart from
our codec) as encrypted HJ 212-2025 stations against a live gateway, in both SM4 wire forms."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.ingest.conftest import LiveGateway
from tests.ingest.station2025 import register_encrypted

Make = Callable[..., LiveGateway]
TOOL = Path(__file__).resolve().parents[3] / "shared" / "tools" / "hj212_station.py"
STATIONS = [
    ("8888888000000000000000B1", "Qm7xT2vR9pLk4WzA"),
    ("8888888000000000000000B2", "Hn3bV8cXz6Ry2TqW"),
]


@pytest.mark.parametrize("wire", ["raw", "text"])
def test_shared_client_talks_to_the_gateway_as_an_encrypted_station(
    make_gateway: Make, tmp_path: Path, wire: str
) -> None:
    if not TOOL.exists():
        pytest.fail(f"the shared station client is missing: {TOOL}")
    live = make_gateway(register=False, unknown_stations="refuse")
    for mn, key in STATIONS:
        register_encrypted(live, mn, "123456", key)
    listing = tmp_path / "stations.txt"
    listing.write_text("".join(f"{mn},123456,{key}\n" for mn, key in STATIONS), encoding="ascii")
    done = subprocess.run(
        [sys.executable, str(TOOL), "--to", f"127.0.0.1:{live.port}", "--edition", "2025", "--mn-list",
         str(listing), "--wire", wire, "--duration", "2", "--rate", "4", "--progress", "0", "--drain", "2"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    summary = dict(pair.split("=", 1) for pair in done.stdout.strip().splitlines()[-1].split())
    assert int(summary["sent"]) >= 8
    assert summary["acked"] == summary["sent"], done.stdout + done.stderr
    assert summary["refused"] == "0"
    live.wait_idle()
    assert live.query("SELECT count(*) FROM quarantine")[0][0] == 0
    forms = {str(r[0]) for r in live.query("SELECT DISTINCT wire FROM raw_frame")}
    assert forms == {wire}
