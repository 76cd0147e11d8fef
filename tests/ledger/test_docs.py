"""docs/ledger.md is checked: its example checkpoint opens, its stand-alone verifier works, and
every public name of envtrace.ledger is documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

import envtrace.ledger
from envtrace.ledger import (
    CompactRange,
    VerifyingKey,
    inclusion_proof,
    leaf_hash,
    open_checkpoint,
)

from .reference import RFC_LEAVES

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger.md"
RFC_ROOT8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def block(kind: str) -> str:
    found = re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(found) == 1, f"expected one ```{kind} block in {DOC}"
    return str(found[0])


def test_example_checkpoint_opens_with_the_documented_keys() -> None:
    vkey = VerifyingKey.from_vkey(block("vkey").strip())
    pem = re.search(r"-----BEGIN PUBLIC KEY-----\n.*?-----END PUBLIC KEY-----\n", DOC.read_text(), re.S)
    assert pem is not None
    assert VerifyingKey.from_pem(vkey.name, pem.group()) == vkey
    checkpoint = open_checkpoint(block("checkpoint"), [vkey])
    assert (checkpoint.origin, checkpoint.size, checkpoint.root.hex()) == (vkey.name, 8, RFC_ROOT8)
    assert checkpoint.timestamp == 1704067200


def test_the_stand_alone_verifier_works() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(block("python"), str(DOC), "exec"), namespace)
    size, root = namespace["open_checkpoint"](block("checkpoint"), block("vkey").strip())
    assert (size, root.hex()) == (8, RFC_ROOT8)
    store: dict[tuple[int, int], bytes] = {}
    cr = CompactRange()
    for data in RFC_LEAVES:
        for node in cr.append(leaf_hash(data)):
            store[node.level, node.index] = node.hash
    for index, data in enumerate(RFC_LEAVES):
        proof = inclusion_proof(index, 8, lambda level, i: store[level, i])
        leaf = leaf_hash(data)
        assert namespace["root_from_inclusion"](leaf, index, 8, proof) == root
        with pytest.raises(ValueError, match="too"):
            namespace["root_from_inclusion"](leaf, index, 8, proof[:-1])
    tampered = block("checkpoint").replace("\n8\n", "\n9\n")
    with pytest.raises(InvalidSignature):
        namespace["open_checkpoint"](tampered, block("vkey").strip())


@pytest.mark.parametrize("name", envtrace.ledger.__all__)
def test_every_public_name_is_documented(name: str) -> None:
    assert re.search(rf"\b{re.escape(name)}\b", DOC.read_text(encoding="utf-8")), name
