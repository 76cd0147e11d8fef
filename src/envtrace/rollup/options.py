"""How the roll-up runs: grace periods, batch sizes, the AQI report, the flow basis, tolerances.

The defaults are what ``envtrace worker`` uses; every figure is documented in ``docs/rollup.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envtrace.rollup.errors import BadOption

FLOW_BASES = ("auto", "as_reported")
AQI_REPORTS = ("realtime", "release")
CHECK_BASES = ("station", "platform", "either")
CHECK_SCOPES = ("until_pass", "hour")


@dataclass(frozen=True, slots=True)
class Tolerance:
    """A station value agrees when within ``ulps`` units of its last printed decimal plus ``rel`` of
    the platform's value, outside the band of admissible recomputations."""

    rel: float
    ulps: float = 1.0

    def allowed(self, platform: float, decimals: int) -> float:
        return self.ulps * 10.0 ** (-decimals) + self.rel * abs(platform)


@dataclass(frozen=True, slots=True)
class RollupOptions:
    """``hour_grace_s`` / ``day_grace_s``: a period is first computed this long after it ends (so the
    station's minute and period data are in); late data re-open it at once. ``batch_frames``: raw
    frames taken in per transaction; ``chunk_periods``: station-periods computed per transaction;
    ``time_budget_s``: a run stops starting new chunks after this long (the rest waits for the next
    run). ``aqi_report``: ``realtime`` (HJ 633 text) or ``release`` (the national release practice).
    ``flow_basis``: ``auto`` converts the flue-gas flow to standard dry when the hour has valid
    temperature, absolute pressure and moisture; ``as_reported`` never converts."""

    hour_grace_s: int = 600
    day_grace_s: int = 3600
    batch_frames: int = 5000
    chunk_periods: int = 32
    time_budget_s: float = 25.0
    aqi_report: str = "realtime"
    flow_basis: str = "auto"
    over_range_valid: bool = True
    standard_check_basis: str = "either"
    standard_check_scope: str = "until_pass"
    standard_check_kinds: tuple[str, ...] = ("flue_gas",)
    avg: Tolerance = field(default_factory=lambda: Tolerance(rel=0.01))
    zs: Tolerance = field(default_factory=lambda: Tolerance(rel=0.02))
    cou: Tolerance = field(default_factory=lambda: Tolerance(rel=0.03))

    def __post_init__(self) -> None:
        if self.flow_basis not in FLOW_BASES:
            raise BadOption("flow_basis", self.flow_basis, f"one of {', '.join(FLOW_BASES)}")
        if self.aqi_report not in AQI_REPORTS:
            raise BadOption("aqi_report", self.aqi_report, f"one of {', '.join(AQI_REPORTS)}")
        if self.standard_check_basis not in CHECK_BASES:
            raise BadOption(
                "standard_check_basis", self.standard_check_basis, f"one of {', '.join(CHECK_BASES)}"
            )
        if self.standard_check_scope not in CHECK_SCOPES:
            raise BadOption(
                "standard_check_scope", self.standard_check_scope, f"one of {', '.join(CHECK_SCOPES)}"
            )
        for name in ("hour_grace_s", "day_grace_s"):
            if getattr(self, name) < 0:
                raise BadOption(name, getattr(self, name), "zero or more seconds")
        for name in ("batch_frames", "chunk_periods"):
            if getattr(self, name) < 1:
                raise BadOption(name, getattr(self, name), "at least 1")
