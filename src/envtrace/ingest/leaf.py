"""The raw-frame leaf (``docs/store.md``), rendered without the generic canonical-JSON encoder.

The leaf of a frame is ``store.encode_leaf("raw_frame", {...})``: canonical JSON, keys sorted,
ASCII, no spaces. Most of its fields are known when the network process has classified the frame;
five are decided in the storage process's transaction (``frame_id``, ``readings``,
``readings_sha256``, ``station_id``, ``status``). So the network process renders the rest once
(``static_parts``: four strings around the five holes, with the SHA-256 of the raw bytes) and the
storage process fills the holes (``assemble``), one f-string per frame. ``tests/ingest/test_leaf.py``
holds the result equal to ``encode_leaf`` byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii

LeafParts = tuple[str, str, str, str]


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


def _int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def static_parts(
    *,
    cn: str | None,
    data_ts: int | None,
    deviations: Sequence[str],
    edition: str | None,
    mn: str | None,
    peer: str,
    pno: int | None,
    pnum: int | None,
    qn: str | None,
    q_kind: str | None,
    q_reason: str | None,
    raw: bytes,
    received_us: int,
    rf: bool,
    wire: str,
) -> LeafParts:
    """The leaf's text around its five holes (frame_id, readings, readings_sha256, station_id, status)."""
    quarantine = (
        "null"
        if q_kind is None
        else f'{{"kind":{encode_basestring_ascii(q_kind)},"reason":{_text(q_reason)}}}'
    )
    listed = ",".join([encode_basestring_ascii(d) for d in deviations])
    return (
        f'{{"cn":{_text(cn)},"data_ts":{_int(data_ts)},"deviations":[{listed}],"edition":{_text(edition)},'
        '"frame_id":',
        f',"kind":"raw_frame","mn":{_text(mn)},"peer":{encode_basestring_ascii(peer)},"pno":{_int(pno)},'
        f'"pnum":{_int(pnum)},"qn":{_text(qn)},"quarantine":{quarantine},"raw_len":{len(raw)},'
        f'"raw_sha256":"{hashlib.sha256(raw).hexdigest()}","readings":',
        f',"received_us":{int(received_us)},"rf":{"true" if rf else "false"},"station_id":',
        f',"v":1,"wire":{encode_basestring_ascii(wire)}}}',
    )


def assemble(
    parts: LeafParts,
    frame_id: int | None,
    readings: int,
    digest: str | None,
    station_id: int | None,
    status: str,
) -> bytes:
    """The leaf bytes: ``parts`` with the storage process's values in the holes."""
    head, middle, tail, end = parts
    return (
        f"{head}{_int(frame_id)}{middle}{int(readings)},"
        f'"readings_sha256":{_text(digest)}{tail}{_int(station_id)},'
        f'"status":{encode_basestring_ascii(status)}{end}'
    ).encode("ascii")
