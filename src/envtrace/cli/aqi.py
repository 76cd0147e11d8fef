"""``envtrace aqi``: recompute the AQI of a national real-time release file (CNEMC format).

Reads the release's CSV (``timepoint,stationcode,...,pm10,pm10_24h,pm2_5,pm2_5_24h,o3,o3_24h,o3_8h,
o3_8h_24h,no2,no2_24h,so2,so2_24h,co,co_24h``), keeps every row and column as it is and appends
``aqi_calc`` and ``primary_calc`` (primary pollutant names as the release writes them). Each row is
judged by the HJ 633 edition in force at its hour: ``timepoint`` labels the **end** of the hour (China
Standard Time), so ``2026-03-01T01`` (00:00-01:00) is the first hour under HJ 633-2026.

The computation is ``envtrace.standards.aqi_table(report="release")``: the six 1-h means, PM on the 24-h
breakpoints (docs/standards/aqi-validation.md shows how that rule was worked out from the release).
Missing values: empty, ``—``, ``-``, ``NA``; ``/`` = not measured (not missing). A row without any of
the six 1-h values gets an empty ``aqi_calc``; with some missing, ``--missing standard`` (default,
HJ 633-2026 §5.3) writes the AQI of the others only when above 100, ``--missing available`` always.
Ozone: archives before about November 2023 swap ``o3`` (24-h maximum)
and ``o3_24h`` (latest 1-h value); ``--o3-column auto`` tells them apart per hour from the data (the
latest 1-h value can never exceed the 24-h maximum).
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

REQUIRED = ("timepoint", "pm10", "pm2_5", "o3", "no2", "so2", "co")
OPTIONAL = ("o3_24h", "so2_24h")
MISSING_TOKENS = frozenset({"", "—", "-", "–", "NA", "N/A", "na", "nan", "NaN", "null", "NULL"})
NOT_MEASURED_TOKEN = "/"
ADDED = ("aqi_calc", "primary_calc")
_TIMEPOINT = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})?(?::?(\d{2}))?)?$")
# item of the release report <- release column holding the 1-h value
_ITEM_COLUMNS = {
    "PM10_1h": "pm10",
    "PM2.5_1h": "pm2_5",
    "NO2_1h": "no2",
    "SO2_1h": "so2",
    "CO_1h": "co",
    "SO2_24h": "so2_24h",
}


class ReleaseFileError(Exception):
    """A release file that cannot be read; the message names the file, row, column and value."""


@dataclass(frozen=True, slots=True)
class Release:
    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    columns: dict[str, int]

    def where(self, i: int) -> str:
        return f"row {i + 1} (line {self.lines[i]})"


def read_release(text: str, name: str) -> Release:
    """Parse the CSV text; check the header and the field count of every row."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ReleaseFileError(f"{name}: the file is empty (expected a header line)") from None
    columns = {h.strip().lower(): i for i, h in enumerate(header)}
    absent = [c for c in REQUIRED if c not in columns]
    if absent:
        raise ReleaseFileError(
            f"{name}: missing column(s) {', '.join(absent)} "
            f"(header has: {', '.join(h.strip() for h in header)})"
        )
    rows: list[list[str]] = []
    lines: list[int] = []
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise ReleaseFileError(
                f"{name}: row {len(rows) + 1} (line {reader.line_num}) has {len(row)} "
                f"fields, the header {len(header)}"
            )
        rows.append(row)
        lines.append(reader.line_num)
    return Release(header, rows, lines, columns)


def _number_column(
    release: Release, column: str, name: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    import numpy as np

    values = np.full(len(release.rows), np.nan)
    not_measured = np.zeros(len(release.rows), dtype=bool)
    index = release.columns.get(column)
    if index is None:
        return values, not_measured
    for i, row in enumerate(release.rows):
        raw = row[index].strip()
        if raw in MISSING_TOKENS:
            continue
        if raw == NOT_MEASURED_TOKEN:
            not_measured[i] = True
            continue
        try:
            values[i] = float(raw)
        except ValueError:
            raise ReleaseFileError(
                f"{name}: {release.where(i)}, column {column}: {raw!r} is not a number"
            ) from None
    return values, not_measured


def hour_starts(release: Release, name: str) -> npt.NDArray[np.int64]:
    """Unix start of each row's hour: ``timepoint`` (CST, end of the hour) minus one hour."""
    import numpy as np

    from envtrace.standards.editions import cst_to_unix

    index = release.columns["timepoint"]
    cache: dict[str, int] = {}
    out = np.empty(len(release.rows), dtype=np.int64)
    for i, row in enumerate(release.rows):
        raw = row[index].strip()
        if raw not in cache:
            m = _TIMEPOINT.match(raw)
            if m is None:
                raise ReleaseFileError(
                    f"{name}: {release.where(i)}, column timepoint: {raw!r} is not a time "
                    "(expected e.g. 2023-01-22T08:00:00 or 2026-05-01T1500)"
                )
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
            try:
                end = cst_to_unix(y, mo, d, 0, mi, s) + h * 3600
            except ValueError:
                raise ReleaseFileError(
                    f"{name}: {release.where(i)}, column timepoint: {raw!r} is not a valid date"
                ) from None
            cache[raw] = end - 3600
        out[i] = cache[raw]
    return out


def ozone_1h(
    release: Release, starts: npt.NDArray[np.int64], mode: str, name: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """The latest 1-h ozone value of each row (see the module docstring for ``auto``)."""
    import numpy as np

    o3, o3_nm = _number_column(release, "o3", name)
    o3b, o3b_nm = _number_column(release, "o3_24h", name)
    if mode == "o3":
        return o3, o3_nm
    if mode == "o3_24h":
        return o3b, o3b_nm
    value, nm = o3.copy(), o3_nm.copy()
    both = ~np.isnan(o3) & ~np.isnan(o3b)
    for hour in np.unique(starts).tolist():
        rows = starts == hour
        greater = int((both & rows & (o3 > o3b)).sum())
        smaller = int((both & rows & (o3 < o3b)).sum())
        if greater and not smaller:  # o3 holds the 24-h maximum: the archive's swap
            value[rows], nm[rows] = o3b[rows], o3b_nm[rows]
        elif greater and smaller:  # no consistent reading: the smaller of the two is the 1-h value
            pick = rows & both
            value[pick] = np.minimum(o3[pick], o3b[pick])
            typer.echo(
                f"envtrace aqi: {name}: ozone columns inconsistent at hour starting {hour}; "
                "using the smaller value per row",
                err=True,
            )
    return value, nm


def compute(
    release: Release, name: str, *, missing: str, o3_column: str, scheme: str
) -> tuple[list[str], list[str]]:
    """``aqi_calc`` and ``primary_calc`` strings for every row."""

    from envtrace.standards import Family, aqi_table, edition_codes_at

    starts = hour_starts(release, name)
    items: dict[str, npt.NDArray[np.float64]] = {}
    not_measured: dict[str, npt.NDArray[np.bool_]] = {}
    for item, column in _ITEM_COLUMNS.items():
        items[item], not_measured[item] = _number_column(release, column, name)
    items["O3_1h"], not_measured["O3_1h"] = ozone_1h(release, starts, o3_column, name)
    codes = edition_codes_at(Family.AQI, starts)
    table = aqi_table(items, edition=codes, report="release", missing=missing, not_measured=not_measured)
    aqi = [str(a) if a >= 0 else "" for a in table.aqi.tolist()]
    primary = table.primary_labels(scheme)
    return aqi, primary


def write_release(release: Release, aqi: Sequence[str], primary: Sequence[str], stream: TextIO) -> None:
    header = list(release.header)
    positions = []
    for column in ADDED:
        if column in release.columns:
            positions.append(release.columns[column])
        else:
            positions.append(len(header))
            header.append(column)
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for row, a, p in zip(release.rows, aqi, primary, strict=True):
        out = list(row) + [""] * (len(header) - len(row))
        out[positions[0]], out[positions[1]] = a, p
        writer.writerow(out)


def run(file: Path, out: Path | None, *, missing: str, o3_column: str, scheme: str) -> None:
    name = str(file)
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ReleaseFileError(f"{name}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ReleaseFileError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    release = read_release(text, name)
    aqi, primary = compute(release, name, missing=missing, o3_column=o3_column, scheme=scheme)
    if out is None:
        buffer = io.StringIO()
        write_release(release, aqi, primary, buffer)
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()
    else:
        with out.open("w", encoding="utf-8", newline="") as stream:
            write_release(release, aqi, primary, stream)


def register(app: typer.Typer) -> None:
    """Add the ``aqi`` command."""

    @app.command("aqi")
    def aqi_command(
        file: Annotated[Path, typer.Argument(help="National real-time release CSV (CNEMC format).")],
        out: Annotated[
            Path | None, typer.Option("--out", help="Write here instead of standard output.")
        ] = None,
        missing: Annotated[
            str,
            typer.Option(
                help="'standard' (HJ 633-2026 §5.3): when a pollutant is missing, the AQI of the others only "
                "if above 100, else empty; 'available': always the AQI of the pollutants present."
            ),
        ] = "standard",
        o3_column: Annotated[
            str,
            typer.Option(
                "--o3-column", help="Column holding the latest 1-h ozone value: auto, o3 or o3_24h."
            ),
        ] = "auto",
        primary_names: Annotated[
            str,
            typer.Option(
                "--primary-names",
                help="'cnemc' (names as the release writes them) or 'code' (PM2.5, O3_1h ...).",
            ),
        ] = "cnemc",
    ) -> None:
        """Recompute AQI and primary pollutant of a national release file; appends aqi_calc, primary_calc."""
        if missing not in ("available", "standard"):
            raise typer.BadParameter("use 'available' or 'standard'", param_hint="--missing")
        if o3_column not in ("auto", "o3", "o3_24h"):
            raise typer.BadParameter("use auto, o3 or o3_24h", param_hint="--o3-column")
        if primary_names not in ("cnemc", "code"):
            raise typer.BadParameter("use cnemc or code", param_hint="--primary-names")
        try:
            run(file, out, missing=missing, o3_column=o3_column, scheme=primary_names)
        except ReleaseFileError as exc:
            typer.echo(f"envtrace aqi: {exc}", err=True)
            raise typer.Exit(2) from None
