"""The public surface of envtrace.evidence: declared, sorted, importable; one error tree."""

from __future__ import annotations

from pathlib import Path

import envtrace.evidence
from envtrace.evidence import errors

PACKAGE = Path(envtrace.evidence.__file__).parent
MODULES = {p.stem for p in PACKAGE.glob("*.py")}


def isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2), name


def test_all_is_sorted_complete_and_importable() -> None:
    names = envtrace.evidence.__all__
    assert names == sorted(names, key=isort_key)
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(envtrace.evidence, name) is not None
    public = {n for n in vars(envtrace.evidence) if not n.startswith("_")} - MODULES
    assert public == set(names)


def test_every_error_is_drawn_in_the_tree_and_derives_from_the_base() -> None:
    doc = errors.__doc__ or ""
    for name, value in vars(errors).items():
        if isinstance(value, type) and issubclass(value, Exception) and not name.startswith("_"):
            assert issubclass(value, errors.EvidenceError)
            assert name in doc, f"{name} is missing from the error tree in errors.py"
