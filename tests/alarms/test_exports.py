"""The public surface of ``envtrace.alarms`` is declared, sorted and importable."""

from __future__ import annotations

import envtrace.alarms as alarms


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (the order ruff keeps ``__all__`` in)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_unique_and_importable() -> None:
    names = alarms.__all__
    assert names == sorted(names, key=_isort_key)
    assert len(names) == len(set(names))
    missing = [name for name in names if not hasattr(alarms, name)]
    assert missing == []


def test_every_public_name_is_declared() -> None:
    public = {name for name in vars(alarms) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(alarms, name)).__name__ == "module"}
    assert public - modules == set(alarms.__all__)
