"""``/api/v1/ledger`` (public, no login): the signed checkpoints, the published checkpoint file,
the public keys, inclusion and consistency proofs; and ``/api/v1/frames/{id}/evidence`` (staff):
a raw frame's evidence bundle, checkable offline with ``tools/verify_evidence.py``.

Every proof is built from the stored nodes and verified before it is answered
(``envtrace.evidence.queries``). A bundle needs a signed checkpoint covering the frame: until the
next one is signed (every minute by default) the answer is 409.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from envtrace.evidence import EvidenceError, RecordNotFound, build_bundle
from envtrace.evidence.keys import KeyRing
from envtrace.evidence.publication import read_tail, resolve_origin
from envtrace.evidence.queries import (
    checkpoint_history,
    consistency_proof_for,
    covering_checkpoint,
    inclusion_proof_for,
    latest_checkpoint,
    public_keys,
    published_file_text,
)
from envtrace.store import console, read_head
from envtrace.web.deps import Ctx, EvidenceReader, Public, ReadConn
from envtrace.web.errors import ApiError, BadRequest, NotFound
from envtrace.web.ledger import LedgerCheckpoint, checked, published_keys
from envtrace.web.models import ERROR_RESPONSES
from envtrace.web.params import MAX_ID, Cursor, IdPath

router = APIRouter(prefix="/api/v1", tags=["ledger"], responses=ERROR_RESPONSES)
Size = Annotated[int, Query(ge=0, le=MAX_ID)]


class NotYetProvable(ApiError):
    status = 409
    code = "not_checkpointed"


class NotProvable(ApiError):
    status = 409
    code = "not_provable"


class LedgerCheckpoints(BaseModel):
    latest: LedgerCheckpoint | None = Field(description="The newest signed checkpoint")
    data: list[LedgerCheckpoint] = Field(description="History, newest first, each linked to the previous")
    count: int
    next_cursor: int | None
    tree_size: int = Field(description="The ledger's current size (leaves), signed or not yet")


class PublicKeyOut(BaseModel):
    name: str
    key_id: str
    vkey: str = Field(description="note form name+hexid+base64key: what verify_evidence.py --pubkey reads")
    pem: str
    created_ts: int | None
    retired_ts: int | None
    active: bool


class PublicKeyList(BaseModel):
    data: list[PublicKeyOut]
    count: int


class InclusionOut(BaseModel):
    leaf_index: int
    leaf_hash: str
    tree_size: int
    root: str
    path: list[str]
    checkpoint: str | None = Field(description="the signed note of the checkpoint proven against")


class ConsistencyOut(BaseModel):
    size1: int
    root1: str
    size2: int
    root2: str
    path: list[str]


def ledger_page(
    conn: Connection, ctx: Ctx, *, before_id: int | None, limit: int
) -> tuple[list[LedgerCheckpoint], int | None]:
    """One page of checkpoints (newest first), signatures checked, each linked to the older one."""
    rows = checkpoint_history(conn, before_id=before_id, limit=limit + 1)
    page, older = rows[:limit], (rows[limit] if len(rows) > limit else None)
    data = checked(conn, page, published_keys(ctx.evidence), older)
    return data, (page[-1].id if older is not None and page else None)


@router.get("/ledger/checkpoints", response_model=LedgerCheckpoints)
def checkpoints(
    _: Public,
    conn: ReadConn,
    ctx: Ctx,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> LedgerCheckpoints:
    """The newest signed checkpoint and the history (newest first; pass ``next_cursor`` as
    ``cursor``), each with its signature checked against the published keys and proven consistent
    with the one before it."""
    data, next_cursor = ledger_page(conn, ctx, before_id=cursor, limit=limit)
    newest = latest_checkpoint(conn)
    latest = None
    if newest is not None:
        latest = (
            data[0]
            if data and data[0].id == newest.id
            else checked(conn, [newest], published_keys(ctx.evidence))[0]
        )
    return LedgerCheckpoints(
        latest=latest, data=data, count=len(data), next_cursor=next_cursor, tree_size=read_head(conn).size
    )


@router.get(
    "/ledger/checkpoints.txt",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "The published checkpoint file"}},
)
def checkpoint_file(_: Public, ctx: Ctx) -> PlainTextResponse:
    """The published checkpoint file, as witnesses copy it: signed notes, oldest first, each
    followed by one empty line (format in docs/evidence.md)."""
    try:
        text = published_file_text(ctx.evidence)
    except (EvidenceError, OSError) as exc:
        raise NotProvable(f"the checkpoint file cannot be read: {exc}") from None
    if not text:
        raise NotFound("no checkpoint has been published yet")
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8")


@router.get("/ledger/keys", response_model=PublicKeyList)
def keys(_: Public, ctx: Ctx) -> PublicKeyList:
    """Every public key the log has used (the active one and the retired ones)."""
    try:
        found = public_keys(ctx.evidence)
    except EvidenceError as exc:
        raise NotProvable(str(exc)) from None
    data = [PublicKeyOut(**k.as_json()) for k in found]
    return PublicKeyList(data=data, count=len(data))


@router.get("/ledger/proof/inclusion", response_model=InclusionOut)
def inclusion(
    _: Public, conn: ReadConn, leaf: Size, size: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> InclusionOut:
    """The proof that leaf ``leaf`` is in the tree of ``size`` leaves (default: the newest signed
    checkpoint covering it, else the current tree), verified before it is answered."""
    head = read_head(conn).size
    if leaf >= head:
        raise NotFound(f"the ledger has {head} leaves: no leaf {leaf}")
    if size is not None and not leaf < size <= head:
        raise BadRequest(f"size must be in ({leaf}, {head}]: got {size}")
    try:
        proof = inclusion_proof_for(conn, leaf, size)
    except EvidenceError as exc:
        raise NotProvable(str(exc)) from None
    return InclusionOut(
        leaf_index=proof.leaf_index,
        leaf_hash=proof.leaf_hash_hex,
        tree_size=proof.tree_size,
        root=proof.root_hex,
        path=proof.path_hex,
        checkpoint=proof.checkpoint_note,
    )


@router.get("/ledger/proof/consistency", response_model=ConsistencyOut)
def consistency(
    _: Public,
    conn: ReadConn,
    from_: Annotated[int, Query(alias="from", ge=1, le=MAX_ID)],
    to: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> ConsistencyOut:
    """The proof that the tree of ``to`` leaves extends the tree of ``from`` leaves (RFC 9162),
    with both roots, verified before it is answered."""
    head = read_head(conn).size
    if not from_ <= to <= head:
        raise BadRequest(f"need 1 <= from <= to <= {head} (the ledger's size): got from={from_}, to={to}")
    try:
        proof = consistency_proof_for(conn, from_, to)
    except EvidenceError as exc:
        raise NotProvable(str(exc)) from None
    return ConsistencyOut(
        size1=proof.size1,
        root1=proof.root1_hex,
        size2=proof.size2,
        root2=proof.root2_hex,
        path=proof.path_hex,
    )


def frame_bundle(conn: Connection, ctx: Ctx, frame_id: int) -> dict[str, object]:
    """The evidence bundle of a raw frame; 409 until a signed checkpoint covers it."""
    found = console.frame(conn, console.ALL, frame_id)
    if found is None:
        raise NotFound(f"no frame {frame_id}")
    leaf_index = found.row.leaf_index
    if leaf_index is None:
        raise NotProvable(f"frame {frame_id} was not sealed in the ledger")
    if covering_checkpoint(conn, leaf_index) is None:
        raise NotYetProvable(
            f"frame {frame_id} (leaf {leaf_index}) is not covered by a signed checkpoint yet: "
            "the next checkpoint is signed within a minute"
        )
    try:
        ring = KeyRing(ctx.evidence.keys_dir)
        origin = resolve_origin(ctx.evidence, ring, read_tail(ctx.evidence.checkpoint_file, 1) or [])
        return build_bundle(conn, leaf_index=leaf_index, keys=ring.published(), origin=origin)
    except RecordNotFound as exc:
        raise NotProvable(f"frame {frame_id} cannot be proven: {exc}") from None
    except EvidenceError as exc:
        raise NotProvable(str(exc)) from None


@router.get(
    "/frames/{frame_id}/evidence",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "The evidence bundle (a download)"},
        409: {"description": "Not covered by a signed checkpoint yet, or not provable"},
    },
)
def evidence_bundle(frame_id: IdPath, _: EvidenceReader, conn: ReadConn, ctx: Ctx) -> Response:
    """A raw frame's evidence bundle (docs/evidence.md): the bytes, the sealed leaf, its inclusion
    proof, the signed checkpoint, the public keys, consistency proofs, station and readings.
    Check it with ``python3 tools/verify_evidence.py bundle.json --pubkey department.vkey``."""
    bundle = frame_bundle(conn, ctx, frame_id)
    body = json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")
    return Response(
        body,
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="evidence-frame-{frame_id}.json"'},
    )
