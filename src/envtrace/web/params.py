"""Bounded parameter types: every number fits a 64-bit column, every text is free of control
characters (PostgreSQL refuses NUL), so no generated request can reach the database malformed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

MAX_ID = 2**62
MIN_TS = 0
MAX_TS = 4_102_444_800  # 2100-01-01
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
ParamCode = Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
OptTs = Annotated[int | None, Query(ge=MIN_TS, le=MAX_TS, description="Unix seconds (UTC)")]
Cursor = Annotated[int | None, Query(ge=1, le=MAX_ID, description="last id of the previous page")]
Limit = Annotated[int, Query(ge=1, le=1000)]
SearchText = Annotated[str | None, Query(max_length=64, pattern=NO_CONTROL)]
CleanText = Annotated[str, Field(pattern=NO_CONTROL)]
