"""What the suite learns about one station: every detector's baseline, serialisable to JSON.

A :class:`StationBaseline` is plain data (floats, strings, tuples) so that it can be stored with
the station, shipped to a live worker and restored; ``to_dict`` / ``from_dict`` round-trip it
through JSON exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from envtrace.detect.bunching import BunchingBaseline
from envtrace.detect.clipping import ClipBaseline
from envtrace.detect.copying import MatchModel
from envtrace.detect.correction import CorrectionBaseline
from envtrace.detect.deletion import DeletionBaseline
from envtrace.detect.diluent import DiluentBaseline
from envtrace.detect.emission import StepBaseline
from envtrace.detect.frozen import FrozenBaseline
from envtrace.detect.interference import InterferenceBaseline
from envtrace.detect.level import LevelBaseline
from envtrace.detect.loadcurve import LoadCurve
from envtrace.detect.neighbours import NeighbourModel
from envtrace.detect.regression import RegressionModel


@dataclass
class StationBaseline:
    """Everything learned about one station: one entry per detector and parameter."""

    station: str
    kind: str
    step: int
    resolution: dict[str, float] = field(default_factory=dict)
    hour_resolution: dict[str, float] = field(default_factory=dict)
    floor: dict[str, float] = field(default_factory=dict)
    frozen: dict[str, FrozenBaseline] = field(default_factory=dict)
    neighbours: dict[str, NeighbourModel] = field(default_factory=dict)
    regressions: dict[str, RegressionModel] = field(default_factory=dict)
    particles: dict[str, RegressionModel] = field(default_factory=dict)
    interference: InterferenceBaseline | None = None
    copy_models: dict[str, dict[str, MatchModel]] = field(default_factory=dict)
    bunching: dict[str, BunchingBaseline] = field(default_factory=dict)
    load_curves: dict[str, LoadCurve] = field(default_factory=dict)
    clip: dict[str, ClipBaseline] = field(default_factory=dict)
    level: LevelBaseline | None = None
    diluent: DiluentBaseline | None = None
    correction: dict[str, CorrectionBaseline] = field(default_factory=dict)
    steps: dict[str, StepBaseline] = field(default_factory=dict)
    deletion: dict[str, DeletionBaseline] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "station": self.station,
            "kind": self.kind,
            "step": self.step,
            "resolution": dict(self.resolution),
            "hour_resolution": dict(self.hour_resolution),
            "floor": dict(self.floor),
            "frozen": {k: v.to_dict() for k, v in self.frozen.items()},
            "neighbours": {k: v.to_dict() for k, v in self.neighbours.items()},
            "regressions": {k: v.to_dict() for k, v in self.regressions.items()},
            "particles": {k: v.to_dict() for k, v in self.particles.items()},
            "interference": self.interference.to_dict() if self.interference else None,
            "copy_models": {k: {j: m.to_list() for j, m in v.items()} for k, v in self.copy_models.items()},
            "bunching": {k: v.to_dict() for k, v in self.bunching.items()},
            "load_curves": {k: v.to_dict() for k, v in self.load_curves.items()},
            "clip": {k: v.to_dict() for k, v in self.clip.items()},
            "level": self.level.to_dict() if self.level else None,
            "diluent": self.diluent.to_dict() if self.diluent else None,
            "correction": {k: v.to_dict() for k, v in self.correction.items()},
            "steps": {k: v.to_dict() for k, v in self.steps.items()},
            "deletion": {k: v.to_dict() for k, v in self.deletion.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> StationBaseline:
        def sub(key: str) -> Mapping[str, Mapping[str, object]]:
            v = d.get(key) or {}
            return v if isinstance(v, dict) else {}

        res = d.get("resolution") or {}
        flo = d.get("floor") or {}
        hres = d.get("hour_resolution") or {}
        inter = d.get("interference")
        return cls(
            station=str(d["station"]),
            kind=str(d["kind"]),
            step=int(str(d["step"])),
            resolution={str(k): float(v) for k, v in res.items()} if isinstance(res, dict) else {},
            floor={str(k): float(v) for k, v in flo.items()} if isinstance(flo, dict) else {},
            hour_resolution={str(k): float(v) for k, v in hres.items()} if isinstance(hres, dict) else {},
            frozen={k: FrozenBaseline.from_dict(v) for k, v in sub("frozen").items()},
            neighbours={k: NeighbourModel.from_dict(v) for k, v in sub("neighbours").items()},
            regressions={k: RegressionModel.from_dict(v) for k, v in sub("regressions").items()},
            particles={k: RegressionModel.from_dict(v) for k, v in sub("particles").items()},
            # a baseline stored before the noise model existed is refitted, not misread
            interference=InterferenceBaseline.from_dict(inter)
            if isinstance(inter, dict) and "noise" in inter
            else None,
            bunching={k: BunchingBaseline.from_dict(v) for k, v in sub("bunching").items()},
            load_curves={k: LoadCurve.from_dict(v) for k, v in sub("load_curves").items()},
            clip={k: ClipBaseline.from_dict(v) for k, v in sub("clip").items()},
            level=LevelBaseline.from_dict(lev) if isinstance(lev := d.get("level"), dict) else None,
            diluent=DiluentBaseline.from_dict(dil) if isinstance(dil := d.get("diluent"), dict) else None,
            correction={k: CorrectionBaseline.from_dict(v) for k, v in sub("correction").items()},
            steps={k: StepBaseline.from_dict(v) for k, v in sub("steps").items()},
            deletion={k: DeletionBaseline.from_dict(v) for k, v in sub("deletion").items()},
            copy_models={
                k: {str(j): MatchModel.from_list(m) for j, m in v.items() if isinstance(m, list)}
                for k, v in sub("copy_models").items()
            },
        )

    @property
    def neighbour_ids(self) -> tuple[str, ...]:
        """Every station this baseline needs data from (besides the station itself)."""
        ids = {s for m in self.neighbours.values() for s in m.neighbours}
        ids |= {s for m in (*self.regressions.values(), *self.particles.values()) for s in m.neighbours}
        ids |= {s for models in self.copy_models.values() for s in models}
        return tuple(sorted(ids))
