"""Accessibility basics on every page: ``lang`` set, every form control labelled, images with alt,
tables with headers; and WCAG 2.1 contrast of the palette (AA: 4.5:1 for text)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from tests.web.conftest import Site

CSS = Path(str(resources.files("envtrace.web") / "static" / "app.css")).read_text(encoding="utf-8")


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


PALETTE = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})", CSS))
PAIRS = [(n, n.removesuffix("-fg") + "-bg") for n in PALETTE if n.endswith("-fg")] + [
    ("fg", "bg"),
    ("muted", "bg"),
    ("link", "bg"),
    ("fg", "card-bg"),
    ("muted", "card-bg"),
    ("link", "card-bg"),
]


def test_contrast_formula_matches_wcag_examples() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize(("fg", "bg"), PAIRS, ids=[f"{a}/{b}" for a, b in PAIRS])
def test_palette_contrast_is_at_least_aa(fg: str, bg: str) -> None:
    ratio = contrast(PALETTE[fg], PALETTE[bg])
    assert ratio >= 4.5, f"--{fg} {PALETTE[fg]} on --{bg} {PALETTE[bg]}: {ratio:.2f}:1"


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.labels: set[str] = set()
        self.controls: list[tuple[str, str | None, bool]] = []  # tag, id, wrapped in a label
        self.images: list[dict[str, str | None]] = []
        self.depth_label = 0
        self.tables = 0
        self.ths = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "label":
            self.depth_label += 1
            if a.get("for"):
                self.labels.add(str(a["for"]))
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            has_name = bool(a.get("aria-label") or a.get("aria-labelledby"))
            self.controls.append((tag, a.get("id"), self.depth_label > 0 or has_name))
        elif tag == "img":
            self.images.append(a)
        elif tag == "table":
            self.tables += 1
        elif tag == "th":
            self.ths += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.depth_label -= 1


PAGES = [
    ("public", "/"),
    ("public", "/enterprises"),
    ("public", "/ledger"),
    ("public", "/open-data"),
    ("public", "/login"),
    ("public", "/air/stations/1"),
    ("admin", "/console"),
    ("admin", "/console/stations"),
    ("admin", "/console/stations/3"),
    ("admin", "/console/stations/1"),
    ("admin", "/console/enterprises"),
    ("enterprise", "/console/enterprises"),
    ("reviewer", "/console/alarms"),
    ("reviewer", "/console/alarms/1"),
    ("enforcement_officer", "/console/alarms/3"),
    ("admin", "/console/frames"),
    ("admin", "/console/frames/1"),
    ("admin", "/console/quarantine"),
    ("admin", "/console/registry"),
    ("admin", "/console/export"),
    ("admin", "/console/users"),
    ("admin", "/console/audit"),
]


@pytest.mark.parametrize(("role", "path"), PAGES, ids=[p for _, p in PAGES])
def test_page_basics(sqlite_site: Site, role: str, path: str) -> None:
    client = sqlite_site.client() if role == "public" else sqlite_site.login(role)[0]
    r = client.get(path)
    assert r.status_code == 200
    audit = _Audit()
    audit.feed(r.text)
    assert audit.lang in ("zh-CN", "en")
    unlabelled = [
        (t, i) for t, i, wrapped in audit.controls if not wrapped and (i is None or i not in audit.labels)
    ]
    assert unlabelled == []
    assert all(img.get("alt") is not None for img in audit.images)
    if audit.tables:
        assert audit.ths >= audit.tables
