"""envtrace: environmental monitoring data that can be trusted, from the analyser to the public."""

__version__ = "0.1.0"
