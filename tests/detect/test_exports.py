"""The public surface of ``envtrace.detect`` is declared, sorted and documented."""

from __future__ import annotations

from pathlib import Path

import pytest

import envtrace.detect as detect
from envtrace.detect import (
    bunching,
    clipping,
    copying,
    correction,
    deletion,
    diluent,
    emission,
    frozen,
    interference,
    level,
    quality,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "detect.md"

DETECTORS = [
    (frozen, "frozen_values"),
    (interference, "sampler_interference"),
    (level, "level_shift"),
    (copying, "copied_series"),
    (clipping, "ceiling_clip"),
    (bunching, "limit_bunching"),
    (bunching, "predicted_bunching"),
    (deletion, "selective_deletion"),
    (diluent, "diluent_inconsistency"),
    (correction, "forged_correction"),
    (emission, "emission_steps"),
    (quality, "flagged_runs"),
    (quality, "detection_limit_runs"),
    (quality, "pm25_above_pm10"),
    (quality, "ordinary_gaps"),
    (quality, "out_of_range"),
    (quality, "spikes"),
    (quality, "startup_shutdown"),
]


def test_all_is_sorted_and_importable() -> None:
    assert detect.__all__ == sorted(detect.__all__)
    for name in detect.__all__:
        assert getattr(detect, name) is not None


@pytest.mark.parametrize(("module", "name"), DETECTORS)
def test_every_detector_has_notes_and_is_documented(module: object, name: str) -> None:
    fn = getattr(module, name)
    assert fn.__doc__, name
    doc = getattr(module, "__doc__", None) or ""
    assert "Notes" in doc, f"{name}: the module docstring must say where the method comes from"
    assert f"`{name}`" in DOCS.read_text(encoding="utf-8"), f"{name} is not in docs/detect.md"
