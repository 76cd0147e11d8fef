"""The examples in the standards modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["rounding", "iaqi", "aqi", "fluegas"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"envtrace.standards.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
