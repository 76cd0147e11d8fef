"""Dependencies as ``Annotated`` aliases: handlers declare types, not plumbing.

Role aliases (each is a ``require(...)`` declaration, see ``envtrace.web.access``):

================  ==========================================================================
``Public``        anyone, no login
``AnyUser``       every logged-in user (enterprise users see only their own outlets)
``Staff``         department and monitoring-centre staff (every role but ``enterprise``)
``RegistryEditor``  admin, monitoring_staff: create and edit registry entries, approve stations
``QuarantineReader``  admin, monitoring_staff, enforcement_officer, discipline_inspector
``Auditor``       admin, discipline_inspector: the login audit trail
``Admin``         admin: user accounts
================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Connection

from envtrace.accounts import ANY_USER, REGISTRY_EDITORS, STAFF, Role
from envtrace.store.engine import write_transaction
from envtrace.web.access import require
from envtrace.web.context import Principal, WebContext, get_ctx, read_conn

Ctx = Annotated[WebContext, Depends(get_ctx)]


def _write_conn(ctx: Ctx) -> Iterator[Connection]:
    with write_transaction(ctx.engine) as conn:
        yield conn


# scope="function": the transaction ends (commits) before the response is sent, so a client that
# was told "done" (or follows a redirect) always finds the write, and a failed commit is an error
# answer rather than a lost write after a success answer.
ReadConn = Annotated[Connection, Depends(read_conn, scope="function")]
WriteConn = Annotated[Connection, Depends(_write_conn, scope="function")]

QUARANTINE_READERS = (Role.ADMIN, Role.MONITORING_STAFF, Role.ENFORCEMENT_OFFICER, Role.DISCIPLINE_INSPECTOR)
AUDITORS = (Role.ADMIN, Role.DISCIPLINE_INSPECTOR)
# The exact bytes of a frame carry the station's access password: those who handle evidence, and
# an enterprise for its own stations (scoped), may download them; the rest see them masked.
RAW_READERS = (*QUARANTINE_READERS, Role.ENTERPRISE)
EVIDENCE_READERS = QUARANTINE_READERS  # an evidence bundle carries the exact bytes too

Public = Annotated[Principal, require(Role.PUBLIC)]
AnyUser = Annotated[Principal, require(*ANY_USER)]
Staff = Annotated[Principal, require(*STAFF)]
RegistryEditor = Annotated[Principal, require(*REGISTRY_EDITORS)]
QuarantineReader = Annotated[Principal, require(*QUARANTINE_READERS)]
Auditor = Annotated[Principal, require(*AUDITORS)]
RawReader = Annotated[Principal, require(*RAW_READERS)]
EvidenceReader = Annotated[Principal, require(*EVIDENCE_READERS)]
Admin = Annotated[Principal, require(Role.ADMIN)]
