"""``/api/v1/enterprises`` and ``/api/v1/points``: the registry (editors create and edit)."""

from __future__ import annotations

import time

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError

from envtrace.store import console
from envtrace.web.deps import AnyUser, ReadConn, RegistryEditor, WriteConn
from envtrace.web.errors import BadRequest, Conflict, NotFound
from envtrace.web.models import (
    ERROR_RESPONSES,
    CreatedOut,
    EnterpriseIn,
    EnterpriseList,
    EnterpriseOut,
    EnterprisePatch,
    PointIn,
    PointList,
    PointOut,
)
from envtrace.web.params import IdPath

router = APIRouter(prefix="/api/v1", tags=["registry"], responses=ERROR_RESPONSES)


@router.get("/enterprises", response_model=EnterpriseList)
def list_enterprises(principal: AnyUser, conn: ReadConn) -> EnterpriseList:
    rows = [
        EnterpriseOut.model_validate(e, from_attributes=True)
        for e in console.enterprises(conn, principal.scope)
    ]
    return EnterpriseList(data=rows, count=len(rows))


@router.post("/enterprises", response_model=CreatedOut, status_code=201)
def create_enterprise(body: EnterpriseIn, _: RegistryEditor, conn: WriteConn) -> CreatedOut:
    try:
        with conn.begin_nested():
            new_id = console.insert_enterprise(conn, now_ts=int(time.time()), **body.model_dump())
    except IntegrityError:
        raise Conflict(f"an enterprise with code {body.code!r} exists") from None
    return CreatedOut(id=new_id)


@router.get("/enterprises/{enterprise_id}", response_model=EnterpriseOut)
def get_enterprise(enterprise_id: IdPath, principal: AnyUser, conn: ReadConn) -> EnterpriseOut:
    found = console.enterprise_by_id(conn, principal.scope, enterprise_id)
    if found is None:
        raise NotFound(f"no enterprise {enterprise_id}")
    return EnterpriseOut.model_validate(found, from_attributes=True)


@router.patch("/enterprises/{enterprise_id}", response_model=EnterpriseOut)
def patch_enterprise(
    enterprise_id: IdPath, body: EnterprisePatch, principal: RegistryEditor, conn: WriteConn
) -> EnterpriseOut:
    values = {k: v for k, v in body.model_dump(exclude_unset=True).items() if not (k == "name" and v is None)}
    if not console.update_enterprise(conn, enterprise_id, values):
        raise NotFound(f"no enterprise {enterprise_id}")
    found = console.enterprise_by_id(conn, principal.scope, enterprise_id)
    if found is None:
        raise NotFound(f"no enterprise {enterprise_id}")
    return EnterpriseOut.model_validate(found, from_attributes=True)


@router.get("/points", response_model=PointList)
def list_points(principal: AnyUser, conn: ReadConn) -> PointList:
    rows = [PointOut.model_validate(p, from_attributes=True) for p in console.points(conn, principal.scope)]
    return PointList(data=rows, count=len(rows))


@router.post("/points", response_model=CreatedOut, status_code=201)
def create_point(body: PointIn, _: RegistryEditor, conn: WriteConn) -> CreatedOut:
    if body.enterprise_id is not None and not console.enterprise_exists(conn, body.enterprise_id):
        raise BadRequest(f"no enterprise {body.enterprise_id}")
    try:
        with conn.begin_nested():
            new_id = console.insert_point(conn, now_ts=int(time.time()), **body.model_dump())
    except IntegrityError:
        raise Conflict(f"a monitoring point with code {body.code!r} exists") from None
    return CreatedOut(id=new_id)
