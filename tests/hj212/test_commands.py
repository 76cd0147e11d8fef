"""Command builders: the standards' vectors byte for byte, and every builder decodes cleanly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from hj212_vectors import PACKETS, SM4_VECTORS, frame

import envtrace.hj212 as hj
from envtrace.hj212 import ExeRtn, QnRtn, Station, decode, parse

MN = "010000A8900016F000169DC0"
QN = "20160801085857223"
QN25 = "20240601085857223"
S2017 = Station(mn=MN, pw="123456", st="32", edition="2017")
S2025 = Station(mn=MN, pw="123456", st="32", edition="2025")
KEY = SM4_VECTORS["key_ascii"].encode()


def vector(suffix: str) -> bytes:
    return frame(next(v for v in PACKETS if v["source"].endswith(suffix)))


def test_answers_reproduce_appendix_c() -> None:
    request = parse(vector("app. C CN 1000"))  # Flag=5: 2017, answer required
    assert hj.qn_answer(request, QnRtn.READY) == vector("app. C CN 9011")
    assert hj.exe_answer(request, ExeRtn.SUCCESS) == vector("app. C CN 9012")
    assert hj.data_answer(request) == vector("app. C CN 9014")


def test_2025_heartbeat_and_its_notice_answer() -> None:
    beat = hj.heartbeat(S2025, qn=QN25)
    assert beat == vector("1.7 CN 9015")
    assert hj.notice_answer(parse(beat)) == vector("1.7 CN 9013")  # ST=91, Flag=8


def test_answer_from_the_header_of_a_rejected_frame() -> None:
    bad = bytearray(vector("app. C CN 2011"))
    bad[-6:-2] = b"0000"
    decoded = decode(bytes(bad))
    assert not decoded.ok
    assert decoded.header is not None
    answer = parse(hj.qn_answer(decoded.header, QnRtn.CRC_ERROR))
    assert (answer.qn, answer.st, answer.cn, answer.flag) == (QN, "91", "9011", "4")
    assert answer.cp_map["QnRtn"] == "9"


def test_answer_edition_override_and_2005_requests() -> None:
    old = parse(vector("5.2 #3"))  # 2005 style: no QN, no Flag
    answer = parse(hj.data_answer(old))
    assert answer.qn is None
    assert answer.flag == "0"
    assert answer.mn == old.mn
    assert parse(hj.data_answer(old, edition="2017")).flag == "4"
    with pytest.raises(ValueError, match="without MN and PW"):
        hj.data_answer({"QN": "1"})


def test_requests_reproduce_the_standards_vectors() -> None:
    assert hj.set_timeout(S2017, qn=QN, over_time=5, re_count=3) == vector("app. C CN 1000")
    station = Station(mn=MN, pw="100000", st="32", edition="2017")
    assert hj.set_rtd_interval(station, qn=QN, seconds=30) == vector("5.2 #1")
    assert hj.get_time(S2025, qn=QN25) == vector("1.1 A.1")
    assert hj.request_key(S2025, qn=QN25, sk_create_time=QN25) == vector("1.7 CN 1014")


def test_uploads_reproduce_appendix_c() -> None:
    items = {
        "w01001": {"Rtd": "7.1", "Flag": "N"},
        "w01018": {"SampleTime": "20160801070000", "Rtd": "2.2", "Flag": "N", "EFlag": "A01"},
    }
    frames = hj.data_upload(S2017, qn=QN, cn=2011, data_time=datetime(2016, 8, 1, 8, 58, 57), items=items)
    assert frames == [vector("app. C CN 2011")]
    minute = {
        "w00000": {"Cou": "10.5", "Min": "16.4", "Avg": "17.5", "Max": "20.1", "Flag": "N"},
        "w01001": {"Min": "7.1", "Avg": "7.5", "Max": "7.8", "Flag": "N"},
        "w01018": {"Cou": "10.5", "Min": "40.1", "Avg": "40.1", "Max": "40.1", "Flag": "N"},
    }
    assert hj.data_upload(S2017, qn="20160801085000001", cn=2051, data_time="20160801084000",
                          items=minute) == [vector("app. C CN 2051")]  # fmt: skip


def test_encrypted_upload_carries_the_appendix_a2_cipher() -> None:
    example = SM4_VECTORS["examples"][0]
    packet = parse(example["plaintext"].encode())
    station = Station(mn=MN, pw="123456", st="31", edition="2025")
    (raw,) = hj.data_upload(station, qn=packet.qn, cn=2051, data_time="20240520210600",
                            items=packet.items, key=KEY)  # fmt: skip
    assert bytes.fromhex(example["cipher_hex"]) in raw
    assert decode(raw, key=KEY).packet == packet


T = datetime(2024, 6, 1, 8, 0, 0)
BUILDERS: list[tuple[str, Callable[[], bytes | list[bytes]], str]] = [
    ("set_timeout", lambda: hj.set_timeout(S2017, qn=QN, over_time=10, re_count=3), "1000"),
    ("get_time", lambda: hj.get_time(S2017, qn=QN, pol_id="w01018"), "1011"),
    ("set_time", lambda: hj.set_time(S2017, qn=QN, system_time=T, pol_id="w01018"), "1012"),
    ("get_rtd_interval", lambda: hj.get_rtd_interval(S2017, qn=QN), "1061"),
    ("set_rtd_interval", lambda: hj.set_rtd_interval(S2017, qn=QN, seconds=60), "1062"),
    ("get_min_interval", lambda: hj.get_min_interval(S2017, qn=QN), "1063"),
    ("set_min_interval", lambda: hj.set_min_interval(S2017, qn=QN, minutes=10), "1064"),
    ("set_password", lambda: hj.set_password(S2017, qn=QN, new_pw="654321"), "1072"),
    ("start_realtime", lambda: hj.start_realtime(S2017, qn=QN), "2011"),
    ("stop_realtime", lambda: hj.stop_realtime(S2017, qn=QN), "2012"),
    ("start_status", lambda: hj.start_status(S2017, qn=QN), "2021"),
    ("stop_status", lambda: hj.stop_status(S2017, qn=QN), "2022"),
    ("history 2031", lambda: hj.get_history(S2017, qn=QN, cn=2031, begin=T, end=T), "2031"),
    ("history 2041", lambda: hj.get_history(S2017, qn=QN, cn=2041, begin=T, end=T), "2041"),
    ("history 2051", lambda: hj.get_history(S2017, qn=QN, cn=2051, begin=T, end=T), "2051"),
    ("history 2061", lambda: hj.get_history(S2017, qn=QN, cn=2061, begin=T, end=T), "2061"),
    ("history 2013", lambda: hj.get_history(S2025, qn=QN, cn=2013, begin=T, end=T), "2013"),
    ("history 2011", lambda: hj.get_history(S2025, qn=QN, cn=2011, begin=T, end=T), "2011"),
    ("calibrate", lambda: hj.calibrate(S2017, qn=QN, pol_id="a21026"), "3011"),
    ("calibrate 2025", lambda: hj.calibrate(S2025, qn=QN, pol_id="a21026", calibration_type=1), "3011"),
    ("sample_now", lambda: hj.sample_now(S2017, qn=QN, pol_id="w01018"), "3012"),
    ("retain_sample", lambda: hj.retain_sample(S2025, qn=QN, pol_id="w01018"), "3022"),
    ("start_standard_check", lambda: hj.start_standard_check(S2025, qn=QN, pol_id="w01018"), "3024"),
    ("set_mn", lambda: hj.set_mn(S2025, qn=QN, new_mn=MN), "1002"),
    (
        "deliver_key",
        lambda: hj.deliver_key(S2025, qn=QN, new_key="A1b2C3d4E5f6G7h8", sk_create_time=QN, key=None),
        "1014",
    ),
    ("heartbeat", lambda: hj.heartbeat(S2025, qn=QN), "9015"),
    ("request_key", lambda: hj.request_key(S2025, qn=QN, sk_create_time=QN), "1014"),
    (
        "logger_identity",
        lambda: hj.logger_identity(
            S2025, qn=QN, logger_id=MN, cpu_id="CPU1", mac1="00-11-22-33-44-55", mac2="00-11-22-33-44-56"
        ),
        "1001",
    ),
    ("upload_time", lambda: hj.upload_time(S2017, qn=QN, system_time=T), "1011"),
    ("time_calibration_request", lambda: hj.time_calibration_request(S2017, qn=QN), "1013"),
    ("restart_notice", lambda: hj.restart_notice(S2017, qn=QN, data_time=T, restart_time=T), "2081"),
    (
        "data_upload",
        lambda: hj.data_upload(
            S2025, qn=QN, cn=2061, data_time=T, resent=True, items={"a21026": {"Avg": 1.5, "Flag": "N"}}
        ),
        "2061",
    ),
]


@pytest.mark.parametrize(("name", "build", "cn"), BUILDERS, ids=[b[0] for b in BUILDERS])
def test_every_builder_makes_a_conforming_frame(
    name: str, build: Callable[[], bytes | list[bytes]], cn: str
) -> None:
    built = build()
    frames = built if isinstance(built, list) else [built]
    for raw in frames:
        decoded = decode(raw)
        assert decoded.ok, (name, decoded.error)
        assert decoded.deviations == (), (name, decoded.deviations)
        assert decoded.packet is not None
        assert decoded.packet.cn == cn
        assert decoded.packet.qn == QN


def test_builder_details() -> None:
    assert parse(hj.calibrate(S2025, qn=QN, pol_id="a21026", calibration_type=0)).cp == (
        ("PolId", "a21026"), ("CalibrationType", "0"))  # fmt: skip
    key_delivery = hj.deliver_key(S2025, qn=QN, new_key="A1b2C3d4E5f6G7h8", sk_create_time=QN, key=KEY)
    assert b"NewSK" not in key_delivery  # encrypted with the current key
    assert decode(key_delivery, key=KEY).cp == {"SKCreateTime": QN, "NewSK": "A1b2C3d4E5f6G7h8"}
    upload = parse(hj.data_upload(S2025, qn=QN, cn=2011, data_time=T, resent=True, ack=False,
                                  items={"a21026": {"Rtd": 1}})[0])  # fmt: skip
    assert upload.resent
    assert upload.flag == "8"
    assert upload.rf == "1"
    assert parse(hj.get_history(S2017, qn=QN, cn=2061, begin=T, end=T)).time_range == (T, T)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: hj.set_min_interval(S2017, qn=QN, minutes=7), "MinInterval 7"),
        (lambda: hj.set_rtd_interval(S2017, qn=QN, seconds=10), "outside 30-3600"),
        (lambda: hj.set_timeout(S2017, qn=QN, over_time=0, re_count=3), "1-99"),
        (lambda: hj.set_password(S2017, qn=QN, new_pw="123"), "6 characters"),
        (lambda: hj.set_mn(S2017, qn=QN, new_mn=MN), "not defined in HJ 212-2017"),
        (lambda: hj.set_mn(S2025, qn=QN, new_mn="abc"), "24 characters"),
        (lambda: hj.get_history(S2017, qn=QN, cn=2011, begin=T, end=T), "not a history request"),
        (lambda: hj.set_time(S2017, qn=QN, system_time="2016-08-01"), "not YYYYMMDDhhmmss"),
        (lambda: hj.calibrate(S2025, qn=QN, pol_id="a", calibration_type=2), "CalibrationType 2"),
        (lambda: hj.data_upload(S2017, qn=QN, cn=2011, data_time=T, items={}, resent=True), "RF=1"),
        (lambda: hj.data_upload(S2017, qn=QN, cn=1011, data_time=T, items={}), "not a data command"),
        (lambda: hj.deliver_key(S2025, qn=QN, new_key="short", sk_create_time=QN, key=None), "NewSK"),
    ],
)
def test_bad_arguments(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_reassembler_bounds_are_validated() -> None:
    with pytest.raises(ValueError, match="max_sets"):
        hj.Reassembler(max_sets=0)
