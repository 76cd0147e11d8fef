"""The raw-frame leaf the storage process renders directly is the canonical ``encode_leaf``."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from envtrace.ingest.leaf import static_parts
from envtrace.ingest.work import RECORD_FIELDS
from envtrace.ingest.writer import Item, raw_frame_leaf, raw_frame_payload
from envtrace.store import encode_leaf

text = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["2011", "N", "\u6c61", '"\\', "\x00\x1f"]))
number = st.one_of(st.none(), st.integers(min_value=-(2**62), max_value=2**62))


@settings(max_examples=300, deadline=None)
@given(
    mn=text, st_=text, cn=text, qn=text, edition=text, q_reason=text,
    pnum=number, pno=number, data_ts=number, station_id=number, frame_id=number,
    rf=st.booleans(), raw=st.binary(max_size=64), deviations=st.lists(st.text(max_size=8), max_size=3),
    quarantined=st.booleans(), status=st.sampled_from(["accepted", "duplicate", "quarantined", "refused"]),
    readings=st.integers(min_value=0, max_value=40), digest=st.one_of(st.none(), st.text(max_size=64)),
    peer=st.text(max_size=20), received_us=st.integers(min_value=0, max_value=2**62),
)  # fmt: skip
def test_raw_frame_leaf_is_encode_leaf(
    mn: str | None, st_: str | None, cn: str | None, qn: str | None, edition: str | None,
    q_reason: str | None, pnum: int | None, pno: int | None, data_ts: int | None,
    station_id: int | None, frame_id: int | None, rf: bool, raw: bytes, deviations: list[str],
    quarantined: bool, status: str, readings: int, digest: str | None, peer: str, received_us: int,
) -> None:  # fmt: skip
    values = dict.fromkeys(RECORD_FIELDS)
    values.update(
        received_us=received_us, peer=peer, raw=raw, mn=mn, st=st_, cn=cn, qn=qn, pnum=pnum, pno=pno,
        rf=rf, data_ts=data_ts, edition=edition, wire="plain", deviations=tuple(deviations),
        station_id=station_id, status=status, q_kind="syntax" if quarantined else None,
        q_reason=q_reason if quarantined else None,
    )  # fmt: skip
    item = Item(tuple(values[f] for f in RECORD_FIELDS))
    item.frame_id = frame_id
    expected = encode_leaf("raw_frame", raw_frame_payload(item, readings, digest))
    assert raw_frame_leaf(item, readings, digest) == expected  # rendered whole
    names = ("cn", "data_ts", "deviations", "edition", "mn", "peer", "pno", "pnum", "qn", "q_kind",
             "q_reason", "raw", "received_us", "rf", "wire")  # fmt: skip
    item.leaf_parts = static_parts(**{name: values[name] for name in names})  # type: ignore[arg-type]
    assert raw_frame_leaf(item, readings, digest) == expected  # from the network process's parts
    item.status = "quarantined"
    item.changed = True  # the writer changed the frame: its parts are stale, it is rendered again
    assert raw_frame_leaf(item, readings, digest) == encode_leaf(
        "raw_frame", raw_frame_payload(item, readings, digest)
    )
