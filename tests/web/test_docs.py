"""docs/web.md documents every route (with its roles) and every web option."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.web.conftest import Site

from envtrace.accounts import Role
from envtrace.web.access import audit
from envtrace.web.options import WebOptions

DOC = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text(encoding="utf-8")
COLUMNS = list(Role)


def test_every_route_is_in_the_roles_table_with_its_roles(sqlite_site: Site) -> None:
    rows = {}
    for line in DOC.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 2 + len(COLUMNS) and cells[1].startswith("`"):
            rows[(cells[0], cells[1].strip("`"))] = cells[2:]
    for (method, path), roles in audit(sqlite_site.app).items():
        if method == "HEAD":
            continue
        assert (method, path) in rows, f"{method} {path} is missing from docs/web.md"
        want = ["✓" if (Role.PUBLIC in roles or r in roles) else "·" for r in COLUMNS]
        assert rows[(method, path)] == want, f"{method} {path}: docs/web.md has other roles"


@pytest.mark.parametrize("name", sorted(WebOptions.model_fields))
def test_every_option_is_documented(name: str) -> None:
    assert f"ENVTRACE_WEB_{name.upper()}" in DOC
