"""The JSON probes in vectors/: each must succeed, or raise exactly the error it names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import envtrace.ledger
from envtrace.ledger import (
    Checkpoint,
    VerifyingKey,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)

from . import gen_vectors

VECTORS = gen_vectors.VECTORS


def probes(folder: str) -> list[Any]:
    paths = sorted((VECTORS / folder).glob("*.json"))
    return [pytest.param(path, id=path.stem) for path in paths]


def check(path: Path, run: Any) -> dict[str, Any]:
    probe: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert probe["desc"]
    want = probe["want_error"]
    if want is None:
        run(probe)
        return probe
    error = getattr(envtrace.ledger, want)
    assert issubclass(error, envtrace.ledger.LedgerError)
    with pytest.raises(error) as info:
        run(probe)
    assert type(info.value) is error, f"{probe['desc']}: raised {type(info.value).__name__}"
    return probe


def hexes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


@pytest.mark.parametrize("path", probes("inclusion"))
def test_inclusion_probe(path: Path) -> None:
    def run(p: dict[str, Any]) -> None:
        verify_inclusion(
            bytes.fromhex(p["leaf_hash"]),
            p["leaf_index"],
            p["tree_size"],
            hexes(p["proof"]),
            bytes.fromhex(p["root"]),
        )

    check(path, run)


@pytest.mark.parametrize("path", probes("consistency"))
def test_consistency_probe(path: Path) -> None:
    def run(p: dict[str, Any]) -> None:
        verify_consistency(
            p["size1"], p["size2"], bytes.fromhex(p["root1"]), bytes.fromhex(p["root2"]), hexes(p["proof"])
        )

    check(path, run)


@pytest.mark.parametrize("path", probes("checkpoint"))
def test_checkpoint_probe(path: Path) -> None:
    opened: list[Checkpoint] = []

    def run(p: dict[str, Any]) -> None:
        verifiers = [VerifyingKey.from_vkey(v) for v in p["verifiers"]]
        opened.append(open_checkpoint(p["note"], verifiers))

    probe = check(path, run)
    if probe["want_error"] is None:
        want = probe["want"]
        assert opened == [
            Checkpoint(want["origin"], want["size"], bytes.fromhex(want["root"]), want["timestamp"])
        ]


def test_every_kind_of_tampering_is_probed() -> None:
    names = {p.stem for p in VECTORS.glob("*/*.json")}
    for tag in (
        "happy",
        "bitflip@0",
        "wrong-leaf",
        "size+1",
        "size-1",
        "size*2",
        "extra-last",
        "missing-first",
    ):
        assert any(name.endswith(tag) for name in names if name.startswith("size")), tag
    for tag in ("swapped-roots", "size1+1", "size2*2", "wrong-root1"):
        assert any(name.endswith(tag) for name in names), tag
    assert len(list(VECTORS.glob("inclusion/*.json"))) >= 250
    assert len(list(VECTORS.glob("consistency/*.json"))) >= 250
    assert len(list(VECTORS.glob("checkpoint/*.json"))) >= 40


def test_vectors_on_disk_are_what_the_generator_makes() -> None:
    wanted = {key: gen_vectors.render(probe) for key, probe in gen_vectors.build().items()}
    on_disk = gen_vectors.on_disk()
    assert sorted(on_disk) == sorted(wanted), "run: .venv/bin/python -m tests.ledger.gen_vectors"
    drifted = [key for key in wanted if on_disk[key] != wanted[key]]
    assert not drifted, f"drifted (run python -m tests.ledger.gen_vectors): {drifted[:5]}"
