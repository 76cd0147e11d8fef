"""The public surface of envtrace.hj212: declared, sorted, importable, documented, pure."""

from __future__ import annotations

import ast
import doctest
import importlib
import re
from pathlib import Path

import pytest

import envtrace.hj212

PACKAGE = Path(envtrace.hj212.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")

# What the gateway and the simulator are written against (docs/hj212.md).
PROMISED = {
    "Framer", "Frame", "Garbage", "decode", "parse", "Decoded", "Packet", "encode", "encode_split",
    "Reassembler", "Reassembled", "Incomplete", "HJ212Error", "FramingError", "LengthMismatch",
    "CrcMismatch", "PacketSyntaxError", "DecryptionError", "hj212_crc", "modbus_crc", "crc_variant",
    "code_2017", "factors", "make_flag", "Station", "qn_answer", "exe_answer", "notice_answer",
    "data_answer", "data_upload", "heartbeat", "parse_key",
}  # fmt: skip


def isort_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_complete_and_importable() -> None:
    names = envtrace.hj212.__all__
    assert names == sorted(names, key=isort_key)
    assert len(set(names)) == len(names)
    assert set(names) >= PROMISED
    for name in names:
        assert getattr(envtrace.hj212, name) is not None
    # decode, encode and factors are both a module and the function the package exports under that name
    public = {n for n in vars(envtrace.hj212) if not n.startswith("_")} - (set(MODULES) - set(names))
    assert public == set(names)


def test_every_error_is_drawn_in_the_tree_and_has_a_kind() -> None:
    errors = importlib.import_module("envtrace.hj212.errors")
    doc = errors.__doc__ or ""
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert len(classes) == 6
    for cls in classes:
        assert issubclass(cls, envtrace.hj212.HJ212Error)
        assert re.search(rf"\b{cls.__name__}\b", doc), cls.__name__
        assert cls.__doc__
        if cls is not envtrace.hj212.HJ212Error:
            assert cls.kind in ("framing", "length", "crc", "syntax", "crypto")


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"envtrace.hj212.{module}"))
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
    allowed = {"__future__", "collections", "csv", "dataclasses", "datetime", "decimal", "enum", "functools",
               "itertools",
               "importlib", "io", "math", "re", "string", "types", "typing", "cryptography"}  # fmt: skip
    for name in imported:
        assert name in allowed or name.startswith("envtrace.hj212"), f"{module} imports {name}"


def test_every_module_says_what_it_implements() -> None:
    for module in MODULES:
        assert (importlib.import_module(f"envtrace.hj212.{module}").__doc__ or "").strip(), module


def test_public_functions_are_documented() -> None:
    for name in envtrace.hj212.__all__:
        value = getattr(envtrace.hj212, name)
        if name != "Edition" and callable(value) and not isinstance(value, type(list[int])):
            assert getattr(value, "__doc__", None), name
