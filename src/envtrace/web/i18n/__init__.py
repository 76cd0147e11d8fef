"""Message catalogues (``zh.json``, ``en.json``), language negotiation and China Standard Time.

Every UI string goes through :meth:`Translator.t` with a dotted key; both catalogues hold the same
keys (a test checks it). The language comes from the ``lang`` cookie, else ``Accept-Language``,
else Chinese. All instants are shown in China Standard Time (UTC+8), whatever the language.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from importlib import resources

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
CST = timezone(timedelta(hours=8), "CST")


@cache
def catalogue(lang: str) -> dict[str, str]:
    text = (resources.files("envtrace.web.i18n") / f"{lang}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"catalogue {lang}.json must be an object")
    return {str(k): str(v) for k, v in data.items()}


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """``zh`` or ``en``: the cookie if valid, else the best ``Accept-Language`` match, else zh."""
    if cookie in LANGS:
        return cookie
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGS and q > 0 and (best is None or q > best[0]):
            best = (q, primary)
    return best[1] if best else DEFAULT_LANG


@dataclass(frozen=True, slots=True)
class Translator:
    lang: str

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]

    def t(self, key: str, **params: object) -> str:
        """The message for ``key``; a missing key shows as the key itself (a test forbids it)."""
        text = catalogue(self.lang).get(key) or catalogue(DEFAULT_LANG).get(key) or key
        return text.format(**params) if params else text

    def datetime(self, ts: int | float | None) -> str:
        if ts is None:
            return "—"
        return datetime.fromtimestamp(ts, CST).strftime("%Y-%m-%d %H:%M:%S")

    def datetime_us(self, us: int | None) -> str:
        return self.datetime(None if us is None else us / 1_000_000)

    def duration(self, seconds: int | float | None) -> str:
        """A span of time, roughly: ``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h`` (天/小时/分/秒)."""
        if seconds is None:
            return "—"
        s = max(0, int(seconds))
        zh = self.lang == "zh"
        units = (("天", "d", 86400), ("小时", "h", 3600), ("分钟", "min", 60), ("秒", "s", 1))
        parts: list[str] = []
        for name_zh, name_en, size in units:
            if s >= size or (size == 1 and not parts):
                n, s = divmod(s, size)
                parts.append(f"{n}{name_zh}" if zh else f"{n} {name_en}")
            if len(parts) == 2:
                break
        return ("" if zh else " ").join(parts)

    def percent(self, value: float | None) -> str:
        return "—" if value is None else f"{value * 100:.1f}%"

    def number(self, value: float | None, digits: int = 3) -> str:
        if value is None:
            return "—"
        return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.0f}"


def parse_cst(text: str) -> int:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` (China Standard Time) or Unix seconds -> Unix seconds."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=CST).timestamp())
        except ValueError:
            continue
    raise ValueError(f"not a date or time: {text!r}")


def utc_now_ts() -> int:
    return int(datetime.now(UTC).timestamp())
