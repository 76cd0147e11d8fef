"""Detectors over station series, returning :class:`Evidence` (pure: numpy and polars, no I/O)."""

from envtrace.detect.baseline import StationBaseline
from envtrace.detect.evidence import Alarm, Evidence, PlotSeries, merge_evidence
from envtrace.detect.series import ParameterInfo, StationSeries, stations_from_frames
from envtrace.detect.streaming import StationDetectorState, Update
from envtrace.detect.suite import detect_network, fit_station, scan_station

__all__ = [
    "Alarm",
    "Evidence",
    "ParameterInfo",
    "PlotSeries",
    "StationBaseline",
    "StationDetectorState",
    "StationSeries",
    "Update",
    "detect_network",
    "fit_station",
    "merge_evidence",
    "scan_station",
    "stations_from_frames",
]
