"""Where the published material lives and how often checkpoints are signed.

``EvidenceOptions.from_settings(settings)`` reads, from the platform's settings object when it has
them, else from the environment (prefix ``ENVTRACE_``), else the defaults:

================================  =============================  =====================================
setting                           environment                    default
================================  =============================  =====================================
``db_url``                        ``ENVTRACE_DB_URL``            (required)
``state_dir``                     ``ENVTRACE_STATE_DIR``         ``envtrace.config.state_dir_for``
``ledger_origin``                 ``ENVTRACE_LEDGER_ORIGIN``     ``envtrace.<province>/<db name>``
``province``                      ``ENVTRACE_PROVINCE``          ``local``
``checkpoint_interval_s``         ``ENVTRACE_CHECKPOINT_INTERVAL_S``  60
``checkpoint_leaves``             ``ENVTRACE_CHECKPOINT_LEAVES``      10000
================================  =============================  =====================================

The origin is fixed per database: once a checkpoint is published, the published origin wins and a
different configured one is refused (``OriginMismatch``, raised where the origin is resolved).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy.engine import make_url

from envtrace.config import state_dir_for

DEFAULT_INTERVAL_S = 60.0
DEFAULT_LEAVES = 10_000
POLL_S = 5.0
_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]+")


def _setting(settings: object, name: str) -> object:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(f"ENVTRACE_{name.upper()}") or None
    return value


def database_name(db_url: str) -> str:
    """A short name of the database: the SQLite file's stem, or the PostgreSQL database name."""
    url = make_url(db_url)
    name = url.database or "envtrace"
    if url.get_backend_name() == "sqlite":
        name = Path(name).stem or "envtrace"
    return _UNSAFE.sub("-", name).strip("-/") or "envtrace"


def default_origin(db_url: str, province: str | None = None) -> str:
    """``envtrace.<province>/<database name>``, with anything but ``[A-Za-z0-9._/-]`` as ``-``."""
    prov = _UNSAFE.sub("-", province or "local").strip("-/") or "local"
    return f"envtrace.{prov}/{database_name(db_url)}"


@dataclass(frozen=True, slots=True)
class EvidenceOptions:
    """What the evidence services need from the configuration."""

    db_url: str
    state_dir: Path
    origin: str | None = None
    """The configured origin, or None for the published one (or the default on a new log)."""
    default_origin: str = "envtrace.local/envtrace"
    checkpoint_interval_s: float = DEFAULT_INTERVAL_S
    checkpoint_leaves: int = DEFAULT_LEAVES
    poll_s: float = POLL_S

    @property
    def checkpoint_file(self) -> Path:
        return self.state_dir / "checkpoints.txt"

    @property
    def keys_dir(self) -> Path:
        return self.state_dir / "keys"

    @classmethod
    def from_settings(cls, settings: object) -> EvidenceOptions:
        if isinstance(settings, EvidenceOptions):
            return settings
        db_url = _setting(settings, "db_url")
        if not isinstance(db_url, str) or not db_url:
            raise ValueError("the settings name no database (db_url)")
        configured_dir = getattr(settings, "state_dir", None)
        state_dir = state_dir_for(db_url, Path(configured_dir) if configured_dir else None)
        origin = _setting(settings, "ledger_origin")
        province = _setting(settings, "province")
        interval = _setting(settings, "checkpoint_interval_s")
        leaves = _setting(settings, "checkpoint_leaves")
        interval_s = float(str(interval)) if interval is not None else DEFAULT_INTERVAL_S
        return cls(
            db_url=db_url,
            state_dir=state_dir,
            origin=str(origin) if origin else None,
            default_origin=default_origin(db_url, str(province) if province else None),
            checkpoint_interval_s=interval_s,
            checkpoint_leaves=int(str(leaves)) if leaves is not None else DEFAULT_LEAVES,
            poll_s=max(0.5, min(POLL_S, interval_s)),
        )

    @classmethod
    def for_database(cls, db_url: str, state_dir: Path | None = None, **kw: object) -> EvidenceOptions:
        """Options for ``db_url`` with everything else from ``kw``, the environment and defaults."""
        return cls.from_settings(SimpleNamespace(db_url=db_url, state_dir=state_dir, **kw))
