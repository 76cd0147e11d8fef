"""Schema migrations (Alembic), run programmatically.

Each capability owns an Alembic *branch* (``branch_labels``: ``core``, ``ledger``, ``accounts``,
``alarms`` ...), so migrations written in parallel never collide; ``upgrade`` brings every branch to
its head. Cross-branch needs are declared with ``depends_on``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def _config() -> Config:
    cfg = Config()
    location = Path(str(resources.files("envtrace.store") / "migrations"))
    cfg.set_main_option("script_location", str(location))
    return cfg


def heads() -> set[str]:
    """The revisions the code expects."""
    return set(ScriptDirectory.from_config(_config()).get_heads())


def current(engine: Engine) -> set[str]:
    """The revisions the database is at (empty for a new database)."""
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: Engine) -> None:
    """Bring the database to the code's schema; idempotent."""
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def is_up_to_date(engine: Engine) -> bool:
    """True when every head of the code's migrations has been applied.

    Alembic records only the tips of what was applied: a revision that another branch
    ``depends_on`` (``core_0001``) disappears from the version table once a dependant is applied,
    so the comparison is on the applied revisions and their ancestors, not on the tips alone.
    """
    script = ScriptDirectory.from_config(_config())
    tips = current(engine)
    if not tips:
        return not script.get_heads()
    applied = {rev.revision for rev in script.iterate_revisions(tuple(tips), "base") if rev is not None}
    return set(script.get_heads()) <= applied
