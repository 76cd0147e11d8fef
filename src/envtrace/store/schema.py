"""Every table of envtrace, gathered on one ``MetaData`` (see ``envtrace.store.metadata``).

The table modules register themselves when imported here; Alembic's autogenerate and the tests
read ``metadata`` from this module.
"""

from __future__ import annotations

from envtrace.store import frames, readings, registry
from envtrace.store.metadata import metadata

__all__ = ["frames", "metadata", "readings", "registry"]
