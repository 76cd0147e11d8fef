"""The periodic job of this package for ``envtrace worker``: ``jobs(settings) -> list[Job]``."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine

from envtrace.evidence.options import EvidenceOptions
from envtrace.evidence.signer import checkpoint_if_due
from envtrace.jobs import Job


def jobs(settings: object) -> list[Job]:
    """The checkpoint job: looks every few seconds, signs every ``checkpoint_interval_s`` (60 s) or
    ``checkpoint_leaves`` (10,000) new leaves, whichever comes first (see ``EvidenceOptions``)."""
    options = EvidenceOptions.from_settings(settings)

    def checkpoint(engine: Engine, now_ts: int) -> Mapping[str, int]:
        return checkpoint_if_due(engine, options, now_ts)

    return [Job("checkpoint", options.poll_s, checkpoint)]
