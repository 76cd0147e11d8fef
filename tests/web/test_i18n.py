"""Message catalogues: same keys in both languages, every key the templates and code use exists,
language negotiation (cookie, Accept-Language), China Standard Time."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from tests.web.conftest import Site

from envtrace.standards import Reason
from envtrace.web.i18n import LANGS, Translator, catalogue, negotiate, parse_cst

WEB = Path(str(resources.files("envtrace.web")))
DYNAMIC = {  # prefixes completed at run time, with every value they take
    "kind.": ["flue_gas", "water", "ambient", "noise", "surface_water", "vocs", "dust", "other"],
    "status.": ["accepted", "duplicate", "command", "partial", "quarantined", "refused"],
    "role.": [
        "admin",
        "monitoring_staff",
        "enforcement_officer",
        "lab_analyst",
        "reviewer",
        "signatory",
        "enterprise",
        "discipline_inspector",
        "public",
    ],
    "audit.": ["ok", "bad_password", "unknown_user", "locked", "lockout"],
    "users.": ["lock", "unlock", "password"],
    "chart.range_": ["1h", "1d", "7d", "30d", "1y"],
    "state.": ["new", "acknowledged", "under_verification", "confirmed", "dismissed"],
    "severity.": ["critical", "major", "minor"],
    "kind_alarm.": ["fraud", "qc", "exceedance", "offline"],
    "action.": [
        "open",
        "extend",
        "acknowledge",
        "assign",
        "verify",
        "confirm",
        "dismiss",
        "comment",
        "escalate",
        "reopen",
    ],
    "alarm.err.": [
        "stale",
        "illegal_transition",
        "already_superseded",
        "not_permitted",
        "invalid_decision",
        "unknown_user",
        "not_found",
    ],
    "validity.": [r.name.lower() for r in Reason],
    "limits.scope_": ["permit", "local", "national", "ambient", "ambiguous"],
    "exceed.basis_": ["corrected", "measured"],
    "disagree.field_": ["avg", "zs_avg", "cou"],
    "granularity.": ["hour", "day"],
    "frame.mode_": ["strict", "tolerant"],
    "aqi.level_": [f"{n}{suffix}" for n in range(1, 7) for suffix in ("", "_range")],
    "error.": [
        "bad_request",
        "not_authenticated",
        "forbidden",
        "csrf",
        "not_found",
        "method_not_allowed",
        "conflict",
        "too_large",
        "invalid_request",
        "too_many_requests",
        "locked_out",
        "internal",
        "error",
    ],
}


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for file in [*WEB.rglob("*.html"), *WEB.rglob("*.py")]:
        text = file.read_text(encoding="utf-8")
        keys.update(re.findall(r"""\bt\(\s*['"]([a-z_]+\.[a-z_.0-9]+)['"]\s*[,)]""", text))
        keys.update(re.findall(r"""['"](login\.(?:failed|locked_out))['"]""", text))
    for prefix, values in DYNAMIC.items():
        keys.update(prefix + v for v in values)
    return keys


def test_catalogues_have_the_same_keys() -> None:
    assert set(catalogue("zh")) == set(catalogue("en"))


@pytest.mark.parametrize("lang", LANGS)
def test_every_used_key_is_translated(lang: str) -> None:
    missing = sorted(_used_keys() - set(catalogue(lang)))
    assert missing == []


@pytest.mark.parametrize(
    ("cookie", "header", "want"),
    [
        (None, None, "zh"),
        ("en", "zh-CN", "en"),
        ("xx", "en-US,en;q=0.9", "en"),
        (None, "fr-FR, en;q=0.5, zh;q=0.8", "zh"),
        (None, "de", "zh"),
        (None, "en;q=0", "zh"),
    ],
)
def test_negotiate(cookie: str | None, header: str | None, want: str) -> None:
    assert negotiate(cookie, header) == want


def test_alarm_lists_match_the_alarms_package() -> None:
    from envtrace.alarms import KINDS, SEVERITIES, Action, State

    assert DYNAMIC["state."] == [str(s) for s in State]
    assert DYNAMIC["action."] == [str(a) for a in Action]
    assert DYNAMIC["kind_alarm."] == list(KINDS)
    assert DYNAMIC["severity."] == list(SEVERITIES)


def test_durations() -> None:
    assert Translator("en").duration(3700) == "1 h 1 min"
    assert Translator("zh").duration(45) == "45秒"
    assert Translator("en").duration(None) == "—"


def test_times_are_china_standard_time() -> None:
    assert Translator("en").datetime(0) == "1970-01-01 08:00:00"
    assert parse_cst("2024-01-01") == 1704038400
    assert parse_cst("2024-01-01T08:00") == 1704067200


def test_language_switch_sets_cookie_and_page_follows(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    assert 'lang="zh-CN"' in client.get("/").text
    assert 'lang="en"' in client.get("/", headers={"Accept-Language": "en"}).text.split(">", 2)[1]
    r = client.get("/lang/en?next=/ledger", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ledger"
    page = client.get("/ledger").text
    assert '<html lang="en">' in page
    assert "Ledger checkpoints" in page
    assert client.get("/lang/en?next=https://evil.example", follow_redirects=False).headers["location"] == "/"
