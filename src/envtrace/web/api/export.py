"""``/api/v1/export``: readings as CSV (streamed) or XLSX (openpyxl, write-only), scoped to what
the caller may see. Times are given both as Unix seconds and as China Standard Time."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from envtrace.store import console
from envtrace.store.console import ExportRow, Scope
from envtrace.web.deps import AnyUser, Ctx
from envtrace.web.errors import BadRequest, NotFound
from envtrace.web.i18n import Translator
from envtrace.web.models import ERROR_RESPONSES
from envtrace.web.params import MAX_ID, MAX_TS, OptTs

router = APIRouter(prefix="/api/v1/export", tags=["export"], responses=ERROR_RESPONSES)

HEADER = [
    "station_id",
    "mn",
    "parameter",
    "granularity",
    "data_ts",
    "time_cst",
    "value",
    "zs_value",
    "min",
    "max",
    "flag",
    "frame_id",
]
XLSX_MAX_ROWS = 200_000
Granularity = Literal["rtd", "min", "hour", "day"]
StationIds = Annotated[list[int], Query(min_length=1, max_length=200, description="station ids")]
Params = Annotated[list[str] | None, Query(max_length=50, description="parameter codes (default: all)")]


def _row(r: ExportRow, tr: Translator) -> list[object]:
    return [
        r.station_id,
        r.mn,
        r.parameter,
        r.granularity,
        r.data_ts,
        tr.datetime(r.data_ts),
        r.value,
        r.zs_value,
        r.min,
        r.max,
        r.flag,
        r.frame_id,
    ]


def _window(start: int | None, end: int | None) -> tuple[int, int]:
    t1 = end if end is not None else min(MAX_TS, int(time.time()) + 3600)
    t0 = start if start is not None else t1 - 86400
    if t0 >= t1:
        raise BadRequest(f"start {t0} must be before end {t1}")
    return t0, t1


def _check(station: list[int], parameter: list[str] | None) -> None:
    if any(not 1 <= s <= MAX_ID for s in station):
        raise BadRequest("station ids must be positive")
    if parameter and any(
        not p or len(p) > 32 or not p.replace("_", "").replace("-", "").isalnum() for p in parameter
    ):
        raise BadRequest("parameter codes are letters, digits, _ and -")


@router.get(
    "/readings.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with BOM"}},
)
def readings_csv(
    principal: AnyUser,
    ctx: Ctx,
    station: StationIds,
    granularity: Granularity = "min",
    start: OptTs = None,
    end: OptTs = None,
    parameter: Params = None,
) -> StreamingResponse:
    """Stream readings as CSV (any size: rows are fetched in batches as they are sent)."""
    _check(station, parameter)
    t0, t1 = _window(start, end)
    tr = principal.tr
    scope: Scope = principal.scope

    def generate() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        buf.write("\ufeff")
        writer.writerow(HEADER)
        with ctx.engine.connect() as conn:
            for n, r in enumerate(
                console.export_rows(
                    conn,
                    scope,
                    station_ids=station,
                    granularity=granularity,
                    t0=t0,
                    t1=t1,
                    parameters=parameter,
                )
            ):
                writer.writerow(_row(r, tr))
                if n % 1000 == 999:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
        yield buf.getvalue()

    name = f"readings-{granularity}-{t0}-{t1}.csv"
    return StreamingResponse(
        generate(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/readings.xlsx",
    response_class=Response,
    responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}},
)
def readings_xlsx(
    principal: AnyUser,
    ctx: Ctx,
    station: StationIds,
    granularity: Granularity = "hour",
    start: OptTs = None,
    end: OptTs = None,
    parameter: Params = None,
) -> Response:
    """Readings as an Excel workbook (at most 200,000 rows: use CSV for more)."""
    from openpyxl import Workbook

    _check(station, parameter)
    t0, t1 = _window(start, end)
    tr = principal.tr
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("readings")
    ws.append(HEADER)
    count = 0
    with ctx.engine.connect() as conn:
        for r in console.export_rows(
            conn,
            principal.scope,
            station_ids=station,
            granularity=granularity,
            t0=t0,
            t1=t1,
            parameters=parameter,
            limit=XLSX_MAX_ROWS + 1,
        ):
            count += 1
            if count > XLSX_MAX_ROWS:
                raise BadRequest(f"more than {XLSX_MAX_ROWS} rows: narrow the query or use CSV")
            ws.append(_row(r, tr))
    if count == 0 and not station:
        raise NotFound("nothing to export")
    out = io.BytesIO()
    wb.save(out)
    name = f"readings-{granularity}-{t0}-{t1}.xlsx"
    return Response(
        out.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
