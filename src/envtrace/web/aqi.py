"""AQI as the roll-up computed it (``envtrace.store.hourly``: ``rollup_aqi``, ``rollup_city_aqi``),
with the category name and colour of the HJ 633 edition in force at the period
(``envtrace.standards.categories``).

The roll-up judges every hour and day by the rules of its time (HJ 633-2012 before 2026-03-01 CST,
HJ 633-2026 from then), so an old period keeps the category names of its edition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

from pydantic import BaseModel, Field

from envtrace.standards import StandardsError, categories
from envtrace.standards.iaqi import Category
from envtrace.store.hourly import AqiValue
from envtrace.web.errors import BadRequest

NO_DATA_COLOUR = "#9aa5b1"


class AqiOut(BaseModel):
    """One period's AQI of a station or a city (``stations``: who contributed to a city value)."""

    period_ts: int = Field(description="Start of the hour or of the (local) day, Unix seconds UTC")
    granularity: str
    city: str | None = None
    station_id: int | None = None
    stations: list[int] = Field(default_factory=list)
    edition: str = Field(description="HJ 633 edition in force at the period")
    report: str
    aqi: int | None = Field(description="null = NA (a pollutant missing, HJ 633-2026 §5.3)")
    aqi_available: int | None = Field(description="AQI of the items available, when aqi is NA")
    complete: bool
    level: int = Field(description="Category 1-6 (0: none)")
    category_zh: str | None
    category_en: str | None
    colour: str = Field(description="Category colour, #rrggbb")
    colour_zh: str | None
    colour_en: str | None
    primary: list[str]
    iaqi: dict[str, int]
    inputs: dict[str, float | None] = Field(description="Concentrations used (µg/m³, CO mg/m³)")
    version: int
    computed_ts: int


class AqiList(BaseModel):
    data: list[AqiOut]
    count: int


@cache
def _categories(edition: str) -> tuple[Category, ...]:
    try:
        return categories(edition)
    except StandardsError:
        return ()


def category(edition: str, level: int) -> Category | None:
    """The category of ``level`` (1-6) under ``edition``, or None (level 0, unknown edition)."""
    return next((c for c in _categories(edition) if c.level == level), None)


def colour_hex(c: Category | None) -> str:
    if c is None:
        return NO_DATA_COLOUR
    r, g, b = c.rgb
    return f"#{r:02x}{g:02x}{b:02x}"


def aqi_out(v: AqiValue) -> AqiOut:
    cat = category(v.edition, v.level)
    return AqiOut(
        period_ts=v.period_ts,
        granularity=v.granularity,
        city=v.city,
        station_id=v.station_id,
        stations=list(v.stations),
        edition=v.edition,
        report=v.report,
        aqi=v.aqi,
        aqi_available=v.aqi_available,
        complete=v.complete,
        level=v.level,
        category_zh=None if cat is None else cat.name_zh,
        category_en=None if cat is None else cat.name_en,
        colour=colour_hex(cat),
        colour_zh=None if cat is None else cat.colour_zh,
        colour_en=None if cat is None else cat.colour_en,
        primary=list(v.primary),
        iaqi={str(k): int(x) for k, x in v.iaqi.items()},
        inputs={str(k): (None if x is None else float(x)) for k, x in v.inputs.items()},
        version=v.version,
        computed_ts=v.computed_ts,
    )


def aqi_list(
    newest: Callable[[], AqiValue | None],
    between: Callable[[int | None, int | None], Sequence[AqiValue]],
    t0: int | None,
    t1: int | None,
) -> AqiList:
    """A station's or a city's AQI: the newest period without ``from``/``to``, else the periods in
    [t0, t1) (``between``); an empty or reversed range is a BadRequest."""
    if t0 is not None and t1 is not None and t0 >= t1:
        raise BadRequest(f"from {t0} must be before to {t1}")
    if t0 is None and t1 is None:
        current = newest()
        rows: Sequence[AqiValue] = [] if current is None else [current]
    else:
        rows = between(t0, t1)
    data = [aqi_out(v) for v in rows]
    return AqiList(data=data, count=len(data))
