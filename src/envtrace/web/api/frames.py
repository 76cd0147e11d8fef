"""``/api/v1/frames`` (raw frames as received, decoded again, with readings and ledger proof) and
``/api/v1/quarantine`` (frames refused, with the precise reason)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from envtrace.store import console
from envtrace.store.stations import get_station_by_id
from envtrace.web.deps import AnyUser, Ctx, QuarantineReader, RawReader, ReadConn
from envtrace.web.errors import NotFound
from envtrace.web.evidence import decoded_view, inclusion, mask_password, safe_text, station_keys
from envtrace.web.models import (
    ERROR_RESPONSES,
    FrameDetailOut,
    FrameList,
    FrameOut,
    FrameReadingOut,
    QuarantineList,
    QuarantineOut,
)
from envtrace.web.params import MAX_ID, Cursor, IdPath

router = APIRouter(prefix="/api/v1", tags=["frames"], responses=ERROR_RESPONSES)

Status = Literal["accepted", "duplicate", "command", "partial", "quarantined", "refused"]
QKind = Literal["framing", "length", "crc", "syntax", "crypto", "auth", "semantic"]


@router.get("/frames", response_model=FrameList)
def list_frames(
    principal: AnyUser,
    conn: ReadConn,
    station_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Status | None = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FrameList:
    """Newest first; pass ``next_cursor`` as ``cursor`` for the next page."""
    rows = console.frames(
        conn, principal.scope, station_id=station_id, status=status, before_id=cursor, limit=limit
    )
    data = [FrameOut.model_validate(r, from_attributes=True) for r in rows]
    return FrameList(data=data, count=len(data), next_cursor=data[-1].id if len(data) == limit else None)


def detail(conn: ReadConn, principal: AnyUser, frame_id: int, state_dir: Path) -> FrameDetailOut:
    found = console.frame(conn, principal.scope, frame_id)
    if found is None:
        raise NotFound(f"no frame {frame_id}")
    readings = [
        FrameReadingOut.model_validate(r, from_attributes=True)
        for r in console.frame_readings(conn, frame_id)
    ]
    base = FrameOut.model_validate(found.row, from_attributes=True).model_dump()
    station = None if found.row.station_id is None else get_station_by_id(conn, found.row.station_id)
    keys = (
        station_keys(conn, state_dir, station.id, found.row.received_us)
        if station is not None and station.encrypted
        else []
    )
    proof = inclusion(conn, found.row.leaf_index)
    return FrameDetailOut(
        **base,
        raw_text=safe_text(mask_password(found.raw)),
        raw_hex=mask_password(found.raw).hex(),
        raw_sha256=hashlib.sha256(found.raw).hexdigest(),
        wire=found.wire,
        deviations=found.deviations,
        quarantine_kind=found.quarantine_kind,
        quarantine_reason=found.quarantine_reason,
        readings=readings,
        proof=proof,
        decoded=decoded_view(found.raw, keys),
        evidence_ready=proof is not None and proof.checkpoint_id is not None,
    )


@router.get("/frames/{frame_id}", response_model=FrameDetailOut)
def get_frame(frame_id: IdPath, principal: AnyUser, conn: ReadConn, ctx: Ctx) -> FrameDetailOut:
    return detail(conn, principal, frame_id, ctx.evidence.state_dir)


@router.get(
    "/frames/{frame_id}/raw",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The bytes as received"}},
)
def raw_bytes(frame_id: IdPath, principal: RawReader, conn: ReadConn) -> Response:
    """The exact bytes received, PW included (roles handling evidence; an enterprise its own)."""
    found = console.frame(conn, principal.scope, frame_id)
    if found is None:
        raise NotFound(f"no frame {frame_id}")
    return Response(
        found.raw,
        media_type="application/octet-stream",
        headers={"content-disposition": f'attachment; filename="frame-{frame_id}.bin"'},
    )


@router.get("/quarantine", response_model=QuarantineList)
def list_quarantine(
    _: QuarantineReader,
    conn: ReadConn,
    kind: QKind | None = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> QuarantineList:
    rows = console.quarantined(conn, kind=kind, before_id=cursor, limit=limit)
    data = [QuarantineOut.model_validate(r, from_attributes=True) for r in rows]
    return QuarantineList(data=data, count=len(data), next_cursor=data[-1].id if len(data) == limit else None)
