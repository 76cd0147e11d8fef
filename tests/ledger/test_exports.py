"""The public surface of envtrace.ledger: declared, importable, documented, purely computational."""

from __future__ import annotations

import ast
import doctest
import importlib
import re
from pathlib import Path

import pytest

import envtrace.ledger

PACKAGE = Path(envtrace.ledger.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")

# The names other packages are being written against (see docs/ledger.md).
PROMISED = {
    "leaf_hash", "node_hash", "EMPTY_ROOT", "Node", "CompactRange", "frontier_ids", "root_from_nodes",
    "inclusion_proof_ids", "inclusion_proof", "consistency_proof", "verify_inclusion",
    "verify_consistency", "root_from_inclusion", "Checkpoint", "SigningKey", "VerifyingKey",
    "sign_checkpoint", "open_checkpoint", "LedgerError", "ProofError", "RootMismatch", "InvalidProof",
    "BadSize", "IndexOutOfRange", "CheckpointError", "SignatureError", "MalformedCheckpoint",
}  # fmt: skip


def isort_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_complete_and_importable() -> None:
    names = envtrace.ledger.__all__
    assert names == sorted(names, key=isort_key)
    assert len(set(names)) == len(names)
    assert set(names) >= PROMISED
    for name in names:
        assert getattr(envtrace.ledger, name) is not None
    public = {n for n in vars(envtrace.ledger) if not n.startswith("_")} - set(MODULES)
    assert public == set(names)


def test_every_error_is_a_ledger_error_and_drawn_in_the_tree() -> None:
    errors = importlib.import_module("envtrace.ledger.errors")
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, envtrace.ledger.LedgerError)
        assert re.search(rf"\b{name}\b", doc), f"{name} missing from the errors docstring"
        assert cls.__doc__


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"envtrace.ledger.{module}"))
    assert result.failed == 0


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_no_io(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0] if not node.module.startswith("envtrace") else node.module)
    allowed = {"__future__", "base64", "binascii", "collections", "dataclasses", "functools", "hashlib", "re"}
    allowed |= {"typing", "cryptography"}
    for name in imported:
        assert name in allowed or name.startswith("envtrace.ledger"), f"{module} imports {name}"


def test_public_functions_are_documented() -> None:
    for name in envtrace.ledger.__all__:
        value = getattr(envtrace.ledger, name)
        if callable(value) and not isinstance(value, type(list[int])):
            assert getattr(value, "__doc__", None), name
